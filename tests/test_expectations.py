"""Expectations (``expect:``): the grammar, the statistics computed from their definitions, metrics
checked against the summary's declared figures, and a single run's exit code gating on them."""

import copy
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_cascade_run import TINY

from sim.record.expect import check, metric_problem, statistic, value_of
from sim.scenario import ScenarioError, parse_scenario
from sim.scenario.expectations import STATISTICS, parse_expectation

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("text, parts", [
    ("bad_debt_usd.total.p99 <= 1_000_000", ("bad_debt_usd.total", "p99", "<=", 1_000_000.0)),
    ("liquidations_usd.total.p95<=5e7", ("liquidations_usd.total", "p95", "<=", 5e7)),
    ("market_makers.pnl_usd.mean > -250000.5", ("market_makers.pnl_usd", "mean", ">", -250_000.5)),
    ("adl.events.max == 0", ("adl.events", "max", "==", 0.0)),
])
def test_an_expectation_reads_into_metric_statistic_operator_and_number(text, parts):
    e = parse_expectation(text)
    assert (e.metric, e.statistic, e.op, e.threshold) == parts


@pytest.mark.parametrize("text, message", [
    ("bad_debt_usd.total.p90 <= 1", "ends in 'p90', not a statistic"), ("p99 <= 1", "names no metric"),
    ("bad_debt_usd.total.p99 <= lots", "'lots' is not a number"), ("bad_debt_usd.total.p99 = 1", "is not METRIC.STATISTIC OP NUMBER"),
    ("", "is not METRIC.STATISTIC OP NUMBER"),
])
def test_an_expectation_that_cannot_be_read_says_why(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_expectation(text)


def test_each_statistic_follows_its_definition():
    losses = [1.0, 2.0, 3.0, 4.0, 100.0]
    # percentiles interpolate linearly between order statistics: p at rank (n - 1) × q
    p95 = 4.0 + (100.0 - 4.0) * ((5 - 1) * 0.95 - 3)
    p50 = 3.0
    assert statistic(losses, "p95") == pytest.approx(p95) and statistic(losses, "p50") == p50
    assert statistic(losses, "mean") == 22.0 and statistic(losses, "max") == 100.0
    assert statistic(losses, "es95") == 100.0  # the worst ceil(5 × 5%) = 1 value
    assert statistic(losses, "es99") == 100.0
    assert statistic([5.0, 5.0, 7.0, 9.0], "es95") == 9.0
    # most paths lose nothing: the tail is the worst 5% of them, not every path tied at the percentile (0)
    mostly_nothing = [0.0] * 97 + [100.0, 200.0, 300.0]
    assert statistic(mostly_nothing, "es95") == (0.0 * 2 + 100.0 + 200.0 + 300.0) / 5  # the worst ceil(100 × 5%) = 5
    assert statistic(mostly_nothing, "es99") == 300.0
    assert statistic([float(v) for v in range(1, 41)], "es95") == (40.0 + 39.0) / 2  # ceil(40 × 5%) = 2
    assert statistic([2.0], "p99") == 2.0 and all(statistic([2.0], s) == 2.0 for s in STATISTICS)  # one run: its value
    assert math.isnan(statistic([1.0, math.nan], "max"))  # a run without the figure cannot pass
    assert math.isnan(statistic([], "mean"))


def test_metrics_are_checked_against_the_summarys_own_figures():
    for good in ("bad_debt_usd.total", "liquidations_usd.total", "adl.notional_usd", "market_makers.pnl_usd",
                 "block_space.liquidation_inclusion_delay_blocks_median", "drawdown.ALT.amm", "adl.by_agent_type_usd.market_maker"):
        assert metric_problem(good) is None, good
    assert "bad_debt_usd has no figure 'totl' (there: lending_deficit, lending_underwater, perp_uncovered, total)" == metric_problem("bad_debt_usd.totl")
    assert "is a section, not a figure" in metric_problem("bad_debt_usd")
    assert "has no figure 'scenario'" in metric_problem("scenario")  # text, not a number
    assert "has no figure 'token_conservation'" in metric_problem("token_conservation.USDC")


def test_check_gives_each_value_and_verdict_and_a_missing_figure_fails():
    summaries = [{"bad_debt_usd": {"total": float(x)}} for x in (0, 10, 20, 30, 1_000)]
    results = check([parse_expectation("bad_debt_usd.total.p50 <= 20"), parse_expectation("bad_debt_usd.total.max < 1000"),
                     parse_expectation("liquidations_usd.total.mean >= 0")], summaries)
    assert [(r["value"], r["passed"], r["runs"]) for r in results] == [(20.0, True, 5), (1000.0, False, 5), (None, False, 5)]
    assert value_of({"a": {"b": None}}, "a.b") != value_of({"a": {"b": None}}, "a.b")  # NaN


def test_a_scenarios_expect_is_validated_with_the_file_naming_each_item():
    data = copy.deepcopy(TINY)
    data["expect"] = ["bad_debt_usd.total.p99 <= 1", "bad_debt_usd.total.p9 <= 1"]
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data, "tiny")
    assert [path for path, _ in raised.value.problems] == ["expect[1]"]


def run_cli(tmp_path: Path, expect: list[str]) -> subprocess.CompletedProcess:
    data = copy.deepcopy(TINY)
    data["expect"] = expect
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump(data, sort_keys=False))
    return subprocess.run([str(Path(sys.executable).with_name("ape")), "run", "cascade", "--scenario", str(scenario),
                           "--out", str(tmp_path / "out"), "--no-progress"], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_run_whose_expectation_fails_exits_1_with_its_outputs_and_expect_json(tmp_path):
    done = run_cli(tmp_path, ["bad_debt_usd.total.max <= 1e12", "liquidations_usd.total.p99 <= 1"])
    assert done.returncode == 1, done.stderr
    assert "failed: liquidations_usd.total.p99 <= 1" in done.stderr
    results = json.loads((tmp_path / "out" / "expect.json").read_text())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [r["passed"] for r in results] == [True, False]
    assert results[1]["value"] == summary["liquidations_usd"]["total"] > 1  # the tiny whale is liquidated


def test_a_run_whose_expectations_hold_exits_0(tmp_path):
    done = run_cli(tmp_path, ["liquidations_usd.total.max >= 1", "bad_debt_usd.total.p99 <= 1e12"])
    assert done.returncode == 0, done.stderr
    assert "expectations: 2 of 2 hold" in done.stdout


def test_an_expectation_naming_no_figure_exits_2_before_anything_runs(tmp_path):
    done = run_cli(tmp_path, ["bad_debt_usd.totl.max <= 1"])
    assert done.returncode == 2
    assert "expect[0]: bad_debt_usd.totl: bad_debt_usd has no figure 'totl'" in done.stderr
    assert not (tmp_path / "out").exists()
