"""Calibration: the scoring rule, each metric on small hand-built tables, the targets file's
checks, the scenario's ``calibration`` field and the events' ADL ``pnl_usd``. Every expected value
is computed here from the rule it tests."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from sim.calibration.metrics import METRICS, RunTables, compute
from sim.calibration.score import score_values
from sim.calibration.targets import Target, TargetsError, calibration_problems, load_targets
from sim.protocol import PerpPos
from sim.record.events import EventDecoder, adl_pnl_usd
from sim.record.schema import EVENT_COLUMNS, EventKind
from sim.scenario import ScenarioError, load_scenario, parse_scenario
from test_cascade_run import TINY

ROOT = Path(__file__).resolve().parent.parent
WAD = 10**18


def target(**fields) -> Target:
    base = {"name": "t", "metric": "adl_in_profit_share", "value": 1.0, "source": "test"}
    return Target.model_validate({**base, **fields})


# ---------------------------------------------------------------- scoring


def test_an_absolute_tolerance_scores_by_the_distance_in_tolerances():
    t = target(value=0.87, tolerance=0.05)
    sim = 0.80
    error = abs(sim - 0.87) / 0.05  # 1.4 tolerances off
    scored = score_values([t], [sim])
    row = scored["targets"][0]
    assert row["error"] == pytest.approx(error)
    assert row["within"] is False
    assert row["points"] == pytest.approx(1 / (1 + error**2))
    assert scored["score"] == pytest.approx(1 / (1 + error**2))
    assert score_values([t], [0.90])["targets"][0]["within"] is True  # 0.6 tolerances off


def test_a_factor_tolerance_scores_by_the_log_ratio_and_a_value_at_or_below_zero_scores_nothing():
    t = target(value=0.38, tolerance_factor=2)
    for sim in (0.19, 0.76):  # exactly a factor 2 either way: one tolerance off
        row = score_values([t], [sim])["targets"][0]
        assert row["error"] == pytest.approx(1.0) and row["within"] is True and row["points"] == pytest.approx(0.5)
    sim = 0.10
    error = abs(math.log(sim / 0.38)) / math.log(2)
    assert score_values([t], [sim])["targets"][0]["points"] == pytest.approx(1 / (1 + error**2))
    for sim in (0.0, -1.0):
        row = score_values([t], [sim])["targets"][0]
        assert row["points"] == 0.0 and row["within"] is False and row["error"] is None


def test_a_missing_figure_scores_zero_and_the_score_is_the_weighted_mean_of_the_points():
    on_target = target(name="a", value=2.0, tolerance=1.0, weight=3)
    half = target(name="b", value=2.0, tolerance=1.0, weight=1)  # one tolerance off: 0.5 points
    missing = target(name="c", value=2.0, tolerance=1.0, weight=0.5)
    scored = score_values([on_target, half, missing], [2.0, 3.0, None])
    assert [r["points"] for r in scored["targets"]] == [1.0, 0.5, 0.0]
    assert scored["score"] == pytest.approx((3 * 1.0 + 1 * 0.5 + 0.5 * 0.0) / (3 + 1 + 0.5))
    assert scored["within"] == 2 and scored["target_count"] == 3


# ---------------------------------------------------------------- metrics


def event(kind: str, t_s: int, notional: float, side: str = "long", pnl: float = math.nan, account: str = "") -> dict:
    row = dict.fromkeys(EVENT_COLUMNS, "")
    row.update(kind=kind, timestamp_s=t_s, notional_usd=notional, side=side, pnl_usd=pnl, block=t_s // 12, account=account,
               asset="ALT")
    return row


def tables(events=(), summary=None, timeseries=None, agents=None) -> RunTables:
    return RunTables(summary or {}, pd.DataFrame(list(events), columns=EVENT_COLUMNS), timeseries if timeseries is not None
                     else pd.DataFrame(), agents if agents is not None else pd.DataFrame())


PERP, ADL = EventKind.PERP_LIQUIDATION, EventKind.ADL_FILL


def test_the_adl_metrics_read_the_events():
    events = [event(PERP, 1000, 100.0), event(PERP, 1012, 300.0), event(PERP, 1030, 600.0),
              event(ADL, 1060, 50.0, pnl=10.0, account="a"), event(ADL, 1072, 70.0, pnl=-1.0, account="b"),
              event(ADL, 1090, 30.0, pnl=2.0, account="c"), event(ADL, 1090, 30.0, account="d")]  # d: no pnl known, not counted
    t = tables(events)
    assert compute("adl_to_perp_liquidation_notional", t) == pytest.approx((50 + 70 + 30 + 30) / (100 + 300 + 600))
    assert compute("adl_fills_per_perp_liquidation", t) == pytest.approx(4 / 3)
    assert compute("first_perp_liquidation_to_first_adl_s", t) == 1060 - 1000
    assert compute("adl_in_profit_share", t) == pytest.approx(2 / 3)  # positions a, c of a, b, c
    # positions, not fills (the day's 94.5% counts positions): b reduced twice, once at a loss, once
    # at a larger gain, is one position in profit; e twice at a loss is one position not in profit
    again = events + [event(ADL, 1100, 10.0, pnl=5.0, account="b"), event(ADL, 1100, 10.0, pnl=-1.0, account="e"),
                      event(ADL, 1112, 10.0, pnl=-1.0, account="e")]
    assert compute("adl_in_profit_share", tables(again)) == pytest.approx(3 / 4)


def test_the_adl_metrics_have_no_figure_without_adl_or_liquidations():
    only_perp = tables([event(PERP, 1000, 100.0)])
    assert compute("first_perp_liquidation_to_first_adl_s", only_perp) is None
    assert compute("adl_in_profit_share", only_perp) is None
    assert compute("adl_to_perp_liquidation_notional", tables()) is None
    failed = RunTables({"status": "failed"}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())  # nothing recorded
    assert all(compute(name, failed, "ALT" if m.takes_asset else None) is None for name, m in METRICS.items())


def test_the_liquidation_spread_is_the_minutes_from_5_to_95_percent_of_the_notional():
    # cumulative notional: 2% by t=0, 12% by t=60, 90% by t=300, 100% by t=660 (two events at 660)
    events = [event(PERP, 0, 2.0), event(PERP, 60, 10.0), event(PERP, 300, 78.0), event(PERP, 660, 6.0), event(PERP, 660, 4.0)]
    assert compute("perp_liquidation_spread_min", tables(events)) == pytest.approx((660 - 60) / 60)


def test_the_summary_metrics_are_ratios_of_its_figures():
    summary = {"perp_liquidations_long_share": 0.8, "drawdown": {"ALT": {"amm": 0.55, "external": 0.4}},
               "liquidations_usd": {"lending": 2_000.0, "perp": 98_000.0, "total": 100_000.0},
               "bad_debt_usd": {"lending_deficit": 10.0, "perp_uncovered": 490.0, "total": 500.0}}
    t = tables(summary=summary)
    assert compute("perp_liquidations_long_share", t) == 0.8
    assert compute("pool_drawdown", t, "ALT") == 0.55
    assert compute("pool_drawdown", t, "BTC") is None
    assert compute("lending_deficit_to_lending_liquidated", t) == pytest.approx(10 / 2_000)
    assert compute("perp_bad_debt_share_of_perp_liquidated", t) == pytest.approx(490 / 98_000)
    assert compute("lending_share_of_liquidations", t) == pytest.approx(2_000 / (2_000 + 98_000))


def test_the_market_maker_loss_is_a_share_of_their_capital():
    agents = pd.DataFrame({"agent_type": ["market_maker", "market_maker", "whale"],
                           "start_equity_usd": [1_000.0, 3_000.0, 500.0], "pnl_usd": [-300.0, 100.0, -500.0]})
    assert compute("market_maker_loss_share_of_capital", tables(agents=agents)) == pytest.approx((300 - 100) / (1_000 + 3_000))


# ---------------------------------------------------------------- the ADL fill's pnl_usd


def position(size: float, entry: float) -> PerpPos:
    return PerpPos(size_wad=int(size * WAD), margin=0, open_notional=int(abs(size) * entry * 10**6), unrealized_pnl=0,
                   pending_funding=0, liquidatable=False)


def test_the_pnl_of_an_adl_fill_is_its_gain_at_the_fill_price_over_the_average_entry():
    # a short of 10 entered at 2.0, 4 of it closed at 1.5: (2.0 − 1.5) × 4 = +2.0 for the short
    assert adl_pnl_usd(position(-10, 2.0), 4 * WAD, int(1.5 * WAD), 6) == pytest.approx((2.0 - 1.5) * 4)
    # a long of 5 entered at 3.0, 2 closed at 2.5: (2.5 − 3.0) × 2 = −1.0
    assert adl_pnl_usd(position(5, 3.0), 2 * WAD, int(2.5 * WAD), 6) == pytest.approx((2.5 - 3.0) * 2)
    assert math.isnan(adl_pnl_usd(None, WAD, WAD, 6))


def test_the_event_decoder_fills_pnl_usd_for_an_adl_fill_from_the_position_before_the_block():
    decoder = EventDecoder.__new__(EventDecoder)  # the protocol's deployment is not needed to decode one row
    decoder.protocol = SimpleNamespace(stable=SimpleNamespace(decimals=6))
    decoder._market_of = {1: "ALT"}
    short, liquidated = "0x" + "aa" * 20, "0x" + "bb" * 20
    positions = {short: position(-10, 2.0), liquidated: position(20, 2.2)}
    before = SimpleNamespace(perp_position=lambda account, market: positions.get(account) if market == "ALT" else None)
    args = {"marketId": 1, "counterparty": short, "liquidated": liquidated, "sizeBase": 4 * WAD,
            "bankruptcyPriceWad": int(1.5 * WAD)}
    row = decoder._perp("AutoDeleveraged", args, before, {})
    assert row["kind"] == EventKind.ADL_FILL and row["account"] == short
    assert row["pnl_usd"] == pytest.approx((2.0 - 1.5) * 4)
    assert "pnl_usd" in EVENT_COLUMNS and EVENT_COLUMNS.index("pnl_usd") == len(EVENT_COLUMNS) - 1  # the others keep their place


# ---------------------------------------------------------------- the targets file


def write_targets(tmp_path: Path, targets: list[dict], name: str = "targets.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"targets": targets}))
    return path


GOOD = {"name": "alt", "metric": "pool_drawdown", "asset": "ALT", "value": 0.65, "tolerance": 0.15, "source": "test"}


def problems_of(tmp_path: Path, targets: list[dict]) -> dict[str, str]:
    with pytest.raises(TargetsError) as caught:
        load_targets(write_targets(tmp_path, targets))
    return dict(caught.value.problems)


def test_the_shipped_targets_file_loads():
    targets = load_targets(ROOT / "calibration" / "oct10_targets.yaml")
    assert {t.metric for t in targets} == set(METRICS)  # every metric has a real figure to meet


def test_a_bad_field_is_named_by_its_place(tmp_path):
    bad = {**GOOD, "tolerance": None, "tolerance_factor": 1.0}
    problems = problems_of(tmp_path, [GOOD, GOOD | {"name": "b"}, GOOD | {"name": "c"}, bad | {"name": "d"}])
    assert "greater than 1" in problems["targets[3].tolerance_factor"]


def test_an_unknown_metric_both_tolerances_and_a_missing_or_extra_asset_are_refused(tmp_path):
    assert "'liquidity' is not one of" in problems_of(tmp_path, [GOOD | {"metric": "liquidity"}])["targets[0]"]
    assert "exactly one of tolerance" in problems_of(tmp_path, [GOOD | {"tolerance_factor": 2}])["targets[0]"]
    assert "exactly one of tolerance" in problems_of(tmp_path, [GOOD | {"tolerance": None}])["targets[0]"]
    no_asset = {k: v for k, v in GOOD.items() if k != "asset"}
    assert "needs asset" in problems_of(tmp_path, [no_asset])["targets[0]"]
    extra = GOOD | {"metric": "adl_in_profit_share"}
    assert "takes no asset" in problems_of(tmp_path, [extra])["targets[0]"]
    assert "unique" in problems_of(tmp_path, [GOOD, GOOD])[""]


# ---------------------------------------------------------------- the scenario's calibration field


def test_a_scenario_names_its_targets_relative_to_its_own_folder(tmp_path):
    (tmp_path / "calibration").mkdir()
    write_targets(tmp_path / "calibration", [GOOD])
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "tiny.yaml").write_text(yaml.safe_dump({**TINY, "calibration": "../calibration/targets.yaml"}))
    scenario = load_scenario(folder / "tiny.yaml")
    assert scenario.calibration == str((tmp_path / "calibration" / "targets.yaml").resolve())
    again = parse_scenario(scenario.model_dump(mode="python"), "as data")  # how experiments and workers rebuild it
    assert again.calibration == scenario.calibration
    assert calibration_problems(scenario) == []


def test_a_missing_or_bad_targets_file_is_named_as_the_calibration_field(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump({**TINY, "calibration": "nowhere.yaml"}))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "tiny.yaml")
    assert [path for path, _ in caught.value.problems] == ["calibration"]
    assert "no calibration targets file" in str(caught.value)
    bad = write_targets(tmp_path, [GOOD | {"metric": "liquidity"}], "bad.yaml")
    scenario = parse_scenario({**TINY, "calibration": str(bad)})
    (where, why), = calibration_problems(scenario)
    assert where == "calibration" and "targets[0]" in why and "liquidity" in why


def test_an_override_naming_a_bad_targets_file_is_refused_before_any_run(tmp_path):
    """`--set calibration=FILE` and an experiment's set / grid name a targets file of their own:
    it is checked as the scenario's own is (exit 2 before any node or worker), not left to fail
    every run."""
    import subprocess
    import sys

    from sim.experiment.spec import ExperimentError, load_experiment

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    bad = write_targets(tmp_path, [GOOD | {"tolerance": None, "tolerance_factor": 1.0}], "bad.yaml")
    for section in ({"set": {"calibration": str(bad)}, "grid": {"blocks": [TINY["blocks"]]}}, {"grid": {"calibration": [str(bad)]}}):
        experiment = tmp_path / "e.yaml"
        experiment.write_text(yaml.safe_dump({"scenario": "tiny.yaml", "name": "e", "seeds": 1, **section}))
        with pytest.raises(ExperimentError) as caught:
            load_experiment(experiment)
        assert "targets[0].tolerance_factor" in str(caught.value)
    done = subprocess.run([str(Path(sys.executable).with_name("ape")), "run", "cascade", "--scenario", str(tmp_path / "tiny.yaml"),
                           "--set", f"calibration={bad}", "--out", str(tmp_path / "out"), "--no-progress"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "targets[0].tolerance_factor" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_sweep_reruns_a_run_whose_targets_file_changed(tmp_path):
    """A sweep keeps the rows of runs whose fingerprint is unchanged: the calibration columns of a
    row come from the targets file, so editing it must change the fingerprint."""
    from sim.experiment.sweep import fingerprint

    targets = write_targets(tmp_path, [GOOD])
    scenario = parse_scenario({**TINY, "calibration": str(targets)})
    before = fingerprint(scenario)
    assert fingerprint(scenario) == before
    write_targets(tmp_path, [GOOD | {"tolerance": 0.05}])
    assert fingerprint(scenario) != before


def test_a_target_on_an_asset_without_a_pool_is_refused_with_its_place(tmp_path):
    targets = write_targets(tmp_path, [GOOD, GOOD | {"name": "zzz", "asset": "ZZZ"}])
    scenario = parse_scenario({**TINY, "calibration": str(targets)})
    (where, why), = calibration_problems(scenario)
    assert where == "calibration" and "targets[1].asset" in why and "no pool of 'ZZZ'" in why


def test_a_symlinked_scenario_reads_its_targets_beside_the_real_file(tmp_path):
    real = tmp_path / "project" / "scenarios"
    real.mkdir(parents=True)
    (tmp_path / "project" / "calibration").mkdir()
    write_targets(tmp_path / "project" / "calibration", [GOOD])
    (real / "tiny.yaml").write_text(yaml.safe_dump({**TINY, "calibration": "../calibration/targets.yaml"}))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "link.yaml").symlink_to(real / "tiny.yaml")
    assert load_scenario(elsewhere / "link.yaml").calibration == str((tmp_path / "project" / "calibration" / "targets.yaml").resolve())


def test_an_experiment_names_a_targets_file_relative_to_itself_wherever_it_is_run_from(tmp_path, monkeypatch):
    from sim.experiment.spec import load_experiment

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    write_targets(tmp_path, [GOOD], "mine.yaml")
    (tmp_path / "e.yaml").write_text(yaml.safe_dump({"scenario": "tiny.yaml", "name": "e", "seeds": 1,
                                                     "set": {"calibration": "mine.yaml"}, "grid": {"blocks": [TINY["blocks"]]}}))
    monkeypatch.chdir(tmp_path.parent)  # not the experiment's folder
    experiment = load_experiment(tmp_path / "e.yaml")
    assert {scenario.calibration for scenario in experiment.scenarios} == {str((tmp_path / "mine.yaml").resolve())}
