"""End to end: a tiny scenario on the test node and on the in-process revm backend — a whale's
loan is liquidated and recorded, the summary agrees with the events, no token is created or lost,
a rerun is identical, and both backends give the same tables."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.agents import fixed_address
from sim.model import run_cascade
from sim.protocol import ProtocolSession
from sim.scenario import parse_scenario

ROOT = Path(__file__).resolve().parent.parent

TINY = {
    "name": "tiny",
    "seed": 7,
    "blocks": 14,
    "block_time_s": 12,
    "stablecoin": "USDC",
    "assets": {
        "USDC": {"decimals": 6, "price_usd": 1.0, "stable": True},
        "ALT": {"decimals": 18, "price_usd": 2.0, "volatility_daily": 0.05, "beta_to_btc": 1.0},
    },
    "pools": [{"asset": "ALT", "depth_usd": 400_000, "fee_bps": 30, "twap_window_s": 60, "twap_capacity": 8}],
    "lending": {
        "reserves": [
            {"asset": "USDC", "ltv_bps": 0, "liquidation_threshold_bps": 0, "liquidation_bonus_bps": 10000,
             "passive_supply_usd": 2_000_000},
            {"asset": "ALT", "oracle": "external", "ltv_bps": 6000, "liquidation_threshold_bps": 7000,
             "liquidation_bonus_bps": 11000},
        ]
    },
    "perp": {
        "insurance_fund_usd": 10_000,
        "markets": [{"asset": "ALT", "depth_usd": 5_000_000, "initial_margin_bps": 1000, "maintenance_margin_bps": 500}],
    },
    "agents": {
        "whales": [{"count": 1, "collateral_asset": "ALT", "perp_market": "ALT", "capital_usd": 200_000,
                    "target_health_factor": 1.1, "leverage": 3, "spare_fraction": 0.0}],
        "liquidators": [{"count": 1, "capital_usd": 500_000, "max_slippage": 0.1}],
    },
    "shock": {"random_walk": True, "crash": {"start_block": 3, "duration_blocks": 4, "size": {"ALT": 0.4}}},
}


@pytest.fixture(scope="module")
def tiny_receipts(tmp_path_factory):
    """A tiny run, and the node's own receipt of every transaction of it that carries a ``gasUsed``
    (asked for while the run is on: the node is put back afterwards) with the run's ``gasUsed``."""
    seen: dict[str, tuple[int, dict]] = {}
    original = ProtocolSession.execute

    def watched(self, orders, timestamp_s):
        mined = original(self, orders, timestamp_s)
        weighed = [r for r in mined.receipts if r["gasUsed"] is not None]
        replies = self.backend.batch([("eth_getTransactionReceipt", [r["transactionHash"]]) for r in weighed])
        seen.update({r["transactionHash"]: (r["gasUsed"], reply) for r, reply in zip(weighed, replies)})
        return mined

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ProtocolSession, "execute", watched)
        run = run_cascade(parse_scenario(TINY, "tiny"), tmp_path_factory.mktemp("first"), progress=False, backend="anvil")
    return run, seen


@pytest.fixture(scope="module")
def tiny_runs(tiny_receipts, tmp_path_factory):
    """The tiny run on the node, and the same scenario on the revm backend."""
    on_revm = run_cascade(parse_scenario(TINY, "tiny"), tmp_path_factory.mktemp("revm"), progress=False, backend="revm")
    return tiny_receipts[0], on_revm


def test_a_crash_liquidates_the_whale_and_the_event_has_its_fields(tiny_runs):
    run, _ = tiny_runs
    lending = run.events[run.events["kind"] == "lending_liquidation"]
    assert len(lending) >= 1
    first = lending.iloc[0]
    assert first["account"] == fixed_address("whale-0-0")
    assert first["agent_type"] == "whale"
    assert first["counterparty"] == fixed_address("liquidator-0-0")
    assert first["counterparty_type"] == "liquidator"
    assert (first["venue"], first["side"], first["asset"]) == ("lending", "long", "ALT")
    assert first["notional_usd"] > 0 and first["size"] > 0
    assert first["block"] >= TINY["shock"]["crash"]["start_block"]
    assert first["tx_hash"].startswith("0x") and len(first["tx_hash"]) == 66


def test_every_event_carries_the_gas_its_transaction_used_by_the_receipt(tiny_receipts):
    run, seen = tiny_receipts
    assert len(run.events) >= 1
    assert run.events["gas_used"].dtype == "int64"
    for tx_hash, gas_used in zip(run.events["tx_hash"], run.events["gas_used"]):
        recorded, receipt = seen[tx_hash]
        assert gas_used == recorded == int(receipt["gasUsed"], 16) > 21_000
        assert receipt["status"] == "0x1"
    # only the transactions that emitted a loss event were looked up (a receipt costs time)
    assert set(seen) == set(run.events["tx_hash"])


def test_the_summary_agrees_with_the_events(tiny_runs):
    run, _ = tiny_runs
    s, events = run.summary, run.events
    for venue in ("lending", "perp"):
        rows = events[events["kind"] == f"{venue}_liquidation"]
        assert s["liquidation_count"][venue] == len(rows)
        assert s["liquidations_usd"][venue] == pytest.approx(rows["notional_usd"].sum())
    assert s["liquidations_usd"]["total"] == pytest.approx(s["liquidations_usd"]["lending"] + s["liquidations_usd"]["perp"])
    assert s["adl"]["events"] == (events["kind"] == "adl_fill").sum()
    bad_debt = s["bad_debt_usd"]
    assert bad_debt["total"] == bad_debt["lending_deficit"] + bad_debt["perp_uncovered"]
    assert s["blocks"] == TINY["blocks"]
    assert s["status"] == "completed"
    ts = run.timeseries
    assert set(ts["block"]) == set(range(TINY["blocks"] + 1))
    alt = ts[ts["asset"] == "ALT"]
    external_drawdown = 1 - alt["external_price_usd"].min() / alt["external_price_usd"].cummax().max()
    assert s["drawdown"]["ALT"]["external"] >= 0.35 and s["drawdown"]["ALT"]["external"] <= external_drawdown + 1e-9
    assert set(run.agents["agent_type"]) >= {"whale", "liquidator", "keeper"}
    assert run.agents["pnl_usd"].sum() == pytest.approx((run.agents["end_equity_usd"] - run.agents["start_equity_usd"]).sum())


def test_no_token_is_created_or_destroyed(tiny_runs):
    run, _ = tiny_runs
    conservation = run.summary["token_conservation"]
    assert set(conservation) == {"USDC", "ALT"}
    for token in conservation.values():
        assert token["ok"] and token["held"] == token["total_supply"]


def test_the_same_scenario_and_seed_give_identical_results(tiny_runs, tmp_path):
    _, on_revm = tiny_runs
    again = run_cascade(parse_scenario(TINY, "tiny"), tmp_path, progress=False, backend="revm")
    strip = lambda s: {k: v for k, v in s.items() if k != "wall_s"}  # noqa: E731
    assert strip(on_revm.summary) == strip(again.summary)
    for table in ("events", "timeseries", "agents"):
        assert getattr(on_revm, table).equals(getattr(again, table)), table


def test_both_backends_give_the_same_tables_but_the_gas_revm_cannot_measure(tiny_runs):
    on_anvil, on_revm = tiny_runs
    assert (on_anvil.summary["backend"], on_revm.summary["backend"]) == ("anvil", "revm")
    strip = lambda s: {k: v for k, v in s.items() if k not in ("wall_s", "backend")}  # noqa: E731
    assert strip(on_anvil.summary) == strip(on_revm.summary)
    assert on_anvil.timeseries.equals(on_revm.timeseries)
    assert on_anvil.agents.equals(on_revm.agents)
    assert len(on_anvil.events) >= 1  # liquidations: their transaction hashes must agree too
    others = [c for c in on_anvil.events.columns if c != "gas_used"]
    assert on_anvil.events[others].equals(on_revm.events[others])
    # pyrevm keeps accounts and slots warm across transactions: its gasUsed is no chain's (sim/chain/revm.py)
    assert on_revm.events["gas_used"].isna().all() and (on_anvil.events["gas_used"] > 21_000).all()


def test_outputs_are_written_and_readable(tiny_runs):
    run, _ = tiny_runs
    for name in ("timeseries.parquet", "events.parquet", "agents.parquet", "summary.json", "report.html", "prices.png"):
        assert (run.out_dir / name).is_file(), name
    assert json.loads((run.out_dir / "summary.json").read_text())["scenario"] == "tiny"
    assert len(pd.read_parquet(run.out_dir / "events.parquet")) == len(run.events)


def test_the_cli_rejects_a_bad_scenario_with_exit_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nseed: 1\nblocks: 0\n")
    out = tmp_path / "out"
    ape = Path(sys.executable).with_name("ape")
    result = subprocess.run(
        [str(ape), "run", "cascade", "--scenario", str(bad), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "blocks: Input should be greater than 0" in result.stderr
    assert "stablecoin: Field required" in result.stderr
    assert not out.exists()


def test_a_run_that_breaks_leaves_what_it_recorded_and_says_where(tmp_path, monkeypatch):
    from sim.agents.whale import Whale
    from sim.model import RunFailed

    original = Whale.step

    def breaks_in_block_5(self, ctx):
        if ctx.block == 5:
            raise RuntimeError("whale bot crashed")
        return original(self, ctx)

    monkeypatch.setattr(Whale, "step", breaks_in_block_5)
    with pytest.raises(RunFailed, match=r"failed in block 5: RuntimeError: whale bot crashed; what was recorded up to block 4 is in"):
        run_cascade(parse_scenario(TINY, "tiny"), tmp_path, progress=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "failed" and "whale bot crashed" in summary["error"]
    assert summary["blocks"] == 4
    assert sorted(set(pd.read_parquet(tmp_path / "timeseries.parquet")["block"])) == [0, 1, 2, 3, 4]
    assert (tmp_path / "report.html").is_file()


def test_under_v33_rules_accruing_interest_does_not_keep_a_whale_from_full_liquidation(tmp_path):
    """v3.3: a liquidation that repays "all" of a debt read a block earlier would leave the
    interest since then, a few units: MustNotLeaveDust. The liquidator asks for the maximum
    instead, so the underwater whale is liquidated (and its liquidator does not revert block after block)."""
    import copy

    scenario = copy.deepcopy(TINY)
    scenario["lending"]["rules"] = "v3.3"
    scenario["lending"]["reserves"][0]["interest"] = {"base_rate_bps": 2000, "slope1_bps": 400, "slope2_bps": 6000,
                                                      "optimal_utilization_bps": 9000}
    scenario["agents"]["liquidators"] = [{"count": 1, "capital_usd": 500_000, "max_slippage": 0.1}]
    run = run_cascade(parse_scenario(scenario, "tiny-v33"), tmp_path / "out", progress=False)
    liquidations = run.events[run.events.kind == "lending_liquidation"]
    assert len(liquidations) >= 1
    liquidator = run.agents[run.agents.agent_type == "liquidator"].iloc[0]
    assert liquidator.failed_tx == 0


def test_the_parity_tool_finds_the_backends_equal_and_names_what_differs(tiny_runs):
    from types import SimpleNamespace

    from sim.tools.parity import compare

    on_anvil, on_revm = tiny_runs
    rows = compare({"revm": on_revm, "anvil": on_anvil})
    assert [(what, equal) for what, equal, _ in rows] == [("timeseries", True), ("agents", True), ("events", True),
                                                          ("summary.json", True)]
    agents = on_revm.agents.copy()
    agents.loc[0, "pnl_usd"] += 0.01
    tampered = SimpleNamespace(timeseries=on_revm.timeseries, agents=agents, events=on_revm.events,
                               summary={**on_revm.summary, "tx_count": on_revm.summary["tx_count"] + 1})
    rows = compare({"revm": tampered, "anvil": on_anvil})
    assert [(what, equal) for what, equal, _ in rows] == [("timeseries", True), ("agents", False), ("events", True),
                                                          ("summary.json", False)]
    assert "differing columns: pnl_usd" in rows[1][2] and "differing fields: tx_count" in rows[3][2]
