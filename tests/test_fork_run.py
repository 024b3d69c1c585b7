"""The simulator on a fork of a chain where the real protocols live: scenarios/fork-demo.yaml's
upstream (real Uniswap V2 and Aave V3 bytecode, sim/fork/upstream.py) built on a node the test
starts, then forked the way a user forks mainnet (``--network ethereum:mainnet-fork:foundry`` with
the upstream's URL in ``$SIM_UPSTREAM_RPC``), in a process of its own as a user runs it.

Also: every address the scenario names is checked on the chain before anything is deployed or
written, and a wrong one is refused naming its field."""

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from sim.chain import AnvilBackend
from sim.chain.node import FORK_NETWORK, FORK_UPSTREAM_ENV
from sim.fork.upstream import anvil_node, build_upstream, release_control, upstream_artifacts
from sim.protocol.deal import balance_slot, deal
from sim.protocol.fork import ForkVenueError, aave_configuration, resolve_fork_venues
from sim.protocol.npm_contracts import npm_codecs
from sim.scenario import load_scenario, parse_scenario
from sim.tools.fork_demo import address_mismatches

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "fork-demo.yaml"
SCENARIO = load_scenario(DEMO)
NOBODY = "0x" + "5e" * 20  # an address with no code


@pytest.fixture(scope="module")
def upstream():
    """(uri, backend, upstream, codecs): fork-demo's upstream on a node of the module's own."""
    artifacts = upstream_artifacts()
    with anvil_node() as uri:
        backend = AnvilBackend(uri)
        built = build_upstream(backend, artifacts, SCENARIO)
        release_control(backend)
        codecs = {n: a.codec for n, a in artifacts.items()} | npm_codecs()
        yield uri, AnvilBackend(uri), built, codecs


def scenario_with(**changes) -> object:
    """fork-demo.yaml with ``changes`` (dotted path -> value) applied."""
    data = yaml.safe_load(DEMO.read_text())
    for path, value in changes.items():
        *head, last = path.split(".")
        node = data
        for key in head:
            node = node[int(key)] if key.isdigit() else node[key]
        node[int(last) if last.isdigit() else last] = value
    return parse_scenario(data, source="fork-demo (changed)")


def test_the_demo_scenario_names_the_upstream_builders_addresses(upstream):
    _, _, built, _ = upstream
    assert address_mismatches(SCENARIO, built) == []


def test_the_demo_scenarios_venues_resolve(upstream):
    _, backend, built, codecs = upstream
    aave = resolve_fork_venues(backend, codecs, SCENARIO)
    assert aave.pool == built.aave_v3.pool
    assert aave.oracle == built.aave_v3.oracle
    assert {s: r.a_token for s, r in aave.reserves.items()} == {s: r.a_token for s, r in built.aave_v3.reserves.items()}
    assert aave.acl_admin == built.deployer  # the upstream's deployer administers its ACL


@pytest.mark.parametrize("changes, path, fragment", [
    pytest.param({"lending.pool": NOBODY}, "lending.pool", "no contract at", id="aave-pool-without-code"),
    pytest.param({"pools.0.pair": NOBODY}, "pools[0].pair", "no contract at", id="pair-without-code"),
    pytest.param({"pools.0.router": NOBODY}, "pools[0].router", "no contract at", id="router-without-code"),
    pytest.param({"assets.ALT.address": NOBODY}, "assets.ALT.address", "no contract at", id="token-without-code"),
    # a contract that is no V2 pair: the USDC token itself
    pytest.param({"pools.0.pair": SCENARIO.assets["USDC"].address}, "pools[0].pair", "is not a Uniswap V2 pair", id="pair-is-a-token"),
    pytest.param({"lending.pool": SCENARIO.assets["USDC"].address}, "lending.pool", "is not an Aave V3 Pool", id="aave-pool-is-a-token"),
    pytest.param({"assets.ALT.decimals": 8}, "assets.ALT.decimals", "has 18 decimals", id="token-decimals"),
    # the pair has factory() too: the router check must not take it for a router
    pytest.param({"pools.0.router": SCENARIO.pools[0].pair}, "pools[0].router", "is not a Uniswap V2 router", id="router-is-the-pair"),
    pytest.param({"lending.reserves.1.ltv_bps": 6500}, "lending.reserves[1].ltv_bps", "has 6000 on chain", id="aave-ltv-differs"),
    pytest.param({"lending.reserves.1.liquidation_protocol_fee_bps": 0}, "lending.reserves[1].liquidation_protocol_fee_bps",
                 "has 1000 on chain", id="aave-fee-differs"),
])
def test_a_wrong_address_or_parameter_is_named(upstream, changes, path, fragment):
    _, backend, _, codecs = upstream
    with pytest.raises(ForkVenueError) as caught:
        resolve_fork_venues(backend, codecs, scenario_with(**changes))
    messages = [message for where, message in caught.value.problems if where == path]
    assert messages and any(fragment in m for m in messages), caught.value.problems


def test_an_aave_reserve_that_is_not_listed_is_named(upstream):
    _, backend, built, codecs = upstream
    # a token that lives on the chain but is no Aave reserve: the pair's own LP token
    data = yaml.safe_load(DEMO.read_text())
    data["assets"]["LPT"] = {"decimals": 18, "price_usd": 1.0, "address": built.uniswap_v2.pairs["ALT"]}
    data["lending"]["reserves"].append({"asset": "LPT", "ltv_bps": 5000, "liquidation_threshold_bps": 6000,
                                        "liquidation_bonus_bps": 10500})
    with pytest.raises(ForkVenueError) as caught:
        resolve_fork_venues(backend, codecs, parse_scenario(data, source="unlisted"))
    assert ("lending.reserves[2].asset", f"LPT ({built.uniswap_v2.pairs['ALT']}) is not a reserve of the Aave pool "
            f"{built.aave_v3.pool}") in caught.value.problems


def test_aave_configuration_bits_are_read_by_field():
    # ltv 6000, threshold 7000, bonus 11000, decimals 18, active, borrowing, protocol fee 1000
    data = 6000 | 7000 << 16 | 11000 << 32 | 18 << 48 | 1 << 56 | 1 << 58 | 1000 << 152
    assert aave_configuration(data) == {"ltv_bps": 6000, "liquidation_threshold_bps": 7000, "liquidation_bonus_bps": 11000,
                                        "decimals": 18, "active": 1, "frozen": 0, "borrowing_enabled": 1, "paused": 0,
                                        "liquidation_protocol_fee_bps": 1000}
    assert aave_configuration(data | 1 << 57 | 1 << 60)["frozen"] == aave_configuration(data | 1 << 60)["paused"] == 1


def test_deal_writes_a_balance_where_the_token_keeps_it(upstream):
    _, backend, built, codecs = upstream
    token, codec = built.tokens["ALT"], codecs["SimToken"]
    assert balance_slot(backend, codec, token) == (0, False)  # OpenZeppelin's ERC20: _balances is slot 0
    holder = "0x" + "77" * 20
    checkpoint = backend.snapshot()
    try:
        supply = codec.decode_output("totalSupply", backend.call_many([(token, codec.encode_call("totalSupply"))])[0])[0]
        deal(backend, codec, token, [(holder, 5), (holder, 7), (NOBODY, 1)])
        balances = backend.call_many([(token, codec.encode_call("balanceOf", a)) for a in (holder, NOBODY)])
        assert [codec.decode_output("balanceOf", raw)[0] for raw in balances] == [12, 1]
        after = codec.decode_output("totalSupply", backend.call_many([(token, codec.encode_call("totalSupply"))])[0])[0]
        assert after == supply  # deal leaves the supply alone (see ProtocolSession.token_conservation)
    finally:
        backend.revert(checkpoint)


def _cascade(out: Path, scenario: Path, upstream_uri: str) -> subprocess.CompletedProcess:
    env = {**os.environ, FORK_UPSTREAM_ENV: upstream_uri}
    command = [str(ROOT / ".venv" / "bin" / "ape"), "run", "cascade", "--scenario", str(scenario), "--out", str(out),
               "--network", FORK_NETWORK, "--no-progress"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_a_run_on_the_fork_borrows_liquidates_and_sells_through_the_real_protocols(upstream, tmp_path):
    uri, backend, built, _ = upstream
    head_before = backend.head()
    out = tmp_path / "out"
    done = _cascade(out, DEMO, uri)
    assert done.returncode == 0, done.stderr[-3000:]
    events = pd.read_parquet(out / "events.parquet")
    liquidations = events[events.kind == "lending_liquidation"]
    assert len(liquidations) > 0 and set(liquidations.agent_type) == {"whale"}
    assert (liquidations.gas_used > 0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert all(row["ok"] for row in summary["token_conservation"].values()), summary["token_conservation"]
    timeseries = pd.read_parquet(out / "timeseries.parquet")
    alt = timeseries[timeseries.asset == "ALT"]
    assert alt.amm_price_usd.iloc[-1] < 0.8 * alt.amm_price_usd.iloc[0]  # the seized ALT went into the V2 pair
    assert backend.head() == head_before  # the fork's blocks never reach the upstream


def test_a_wrong_address_stops_the_run_before_it_writes_anything(upstream, tmp_path):
    uri, *_ = upstream
    data = yaml.safe_load(DEMO.read_text())
    data["lending"]["pool"] = NOBODY
    scenario = tmp_path / "wrong.yaml"
    scenario.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    done = _cascade(out, scenario, uri)
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"lending.pool: no contract at {NOBODY}" in done.stderr
    assert not out.exists()


def test_make_fork_demo_writes_the_differential_the_upstream_and_the_run(tmp_path):
    """What ``make fork-demo`` runs, end to end in a process of its own, into a fresh --out."""
    out = tmp_path / "fork-demo"
    command = [str(ROOT / ".venv" / "bin" / "python"), "-m", "sim.tools.fork_demo", "--out", str(out), "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k != FORK_UPSTREAM_ENV}  # the demo sets its own
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    differential = pd.read_csv(out / "differential.csv")
    assert list(differential.columns) == ["case", "quantity", "builtin", "aave_v3", "equal", "note"]
    assert (differential.equal | differential.note.fillna("").str.len().gt(0)).all()
    manifest = json.loads((out / "upstream.json").read_text())
    assert manifest["aave_v3"]["pool"] == SCENARIO.lending.pool
    events = pd.read_parquet(out / "events.parquet")
    assert (events.kind == "lending_liquidation").any()
    assert (out / "report.html").is_file()
    assert not list(tmp_path.glob(".fork-demo.partial-*"))  # the staging directory is gone
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []  # so a second demo may replace it


def test_fork_venues_on_a_network_that_is_no_fork_are_refused(tmp_path):
    out = tmp_path / "out"
    command = [str(ROOT / ".venv" / "bin" / "ape"), "run", "cascade", "--scenario", str(DEMO), "--out", str(out), "--no-progress"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "network 'local' is no fork" in done.stderr
    assert not out.exists()


def test_an_upstream_that_does_not_answer_is_refused_before_ape_starts(tmp_path):
    from sim.chain.node import free_port

    out = tmp_path / "out"
    done = _cascade(out, DEMO, f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "cannot reach the upstream chain at $SIM_UPSTREAM_RPC" in done.stderr
    assert not out.exists()
