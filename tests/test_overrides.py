"""``PATH=VALUE`` overrides (sim/scenario/overrides.py, ``ape run cascade --set``): the path
syntax, where each value lands, and every bad path or value refused naming it before anything runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_cascade_run import TINY

from sim.scenario import ScenarioError, apply_overrides, load_scenario, parse_override, parse_scenario
from sim.scenario.overrides import parse_path

ROOT = Path(__file__).resolve().parent.parent
OCT10 = ROOT / "scenarios" / "oct10.yaml"


@pytest.mark.parametrize("path, steps", [
    ("blocks", ("blocks",)),
    ("lending.reserves[asset=ALT].liquidation_bonus_bps", ("lending", "reserves", ("asset", "ALT"), "liquidation_bonus_bps")),
    ("pools[asset=ALT].depth_usd", ("pools", ("asset", "ALT"), "depth_usd")),
    ("agents.whales[0].capital_usd", ("agents", "whales", 0, "capital_usd")),
])
def test_a_path_reads_into_keys_indexes_and_selectors(path, steps):
    assert parse_path(path) == steps


@pytest.mark.parametrize("text, value", [
    ("blocks=150", 150), ("pools[asset=ALT].depth_usd=1_500_000", 1_500_000), ("perp.insurance_fund_usd=1e6", 1e6),
    ("agents.whales[0].capital_usd={lognormal: [500000, 0.5]}", {"lognormal": [500000, 0.5]}), ("perp.adl_enabled=false", False),
])
def test_a_value_is_yaml_read_as_the_scenario_file_is(text, value):
    assert parse_override(text).value == value


@pytest.mark.parametrize("text, message", [
    ("blocks", "is not PATH=VALUE"), ("blocks=", "gives blocks no value"), ("=3", "the path is empty"),
    ("pools..depth_usd=1", "cannot read '..depth_usd' at character 6"), (".blocks=1", "cannot read '.blocks' at character 1"),
    ("blocks=[1,", "is not a YAML value"),
])
def test_an_override_that_cannot_be_read_says_why(text, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_override(text)


def test_overrides_land_on_their_field_and_nowhere_else():
    base = load_scenario(OCT10)
    changed = apply_overrides(base, [parse_override(t) for t in (
        "blocks=150", "lending.reserves[asset=ALT].liquidation_bonus_bps=10500", "pools[asset=ALT].depth_usd=1_500_000",
        "lending.close_factor_bps=6000",  # a field oct10.yaml leaves at its default
    )], "oct10")
    assert changed.blocks == 150
    assert changed.lending.close_factor_bps == 6000
    assert [r.liquidation_bonus_bps for r in changed.lending.reserves if r.asset == "ALT"] == [10500]
    assert [p.depth_usd for p in changed.pools if p.asset == "ALT"] == [1_500_000]
    before, after = base.model_dump(), changed.model_dump()
    after["blocks"], after["lending"]["close_factor_bps"] = before["blocks"], before["lending"]["close_factor_bps"]
    alt_reserve = next(i for i, r in enumerate(after["lending"]["reserves"]) if r["asset"] == "ALT")
    alt_pool = next(i for i, p in enumerate(after["pools"]) if p["asset"] == "ALT")
    after["lending"]["reserves"][alt_reserve]["liquidation_bonus_bps"] = before["lending"]["reserves"][alt_reserve]["liquidation_bonus_bps"]
    after["pools"][alt_pool]["depth_usd"] = before["pools"][alt_pool]["depth_usd"]
    assert after == before  # nothing else moved
    assert apply_overrides(base, [], "oct10") is base


def test_every_bad_path_is_named_at_once_with_what_is_there():
    base = load_scenario(OCT10)
    with pytest.raises(ScenarioError) as raised:
        apply_overrides(base, [parse_override(t) for t in (
            "blockz=1", "lending.reserves[asset=XYZ].ltv_bps=1", "pools[7].depth_usd=1", "blocks.count=1",
            "pools[asset=ALT].depth_usd=2e6",  # fine: no problem of its own
        )], "oct10")
    problems = dict(raised.value.problems)
    assert set(problems) == {"blockz", "lending.reserves[asset=XYZ].ltv_bps", "pools[7].depth_usd", "blocks.count"}
    assert "has no field 'blockz'" in problems["blockz"]
    assert "no item of lending.reserves has asset=XYZ (asset of its items: USDC, BTC, ETH, ALT)" in problems["lending.reserves[asset=XYZ].ltv_bps"]
    assert "pools has 3 item(s): [7] is not one of them" in problems["pools[7].depth_usd"]
    assert "blocks is not a mapping" in problems["blocks.count"]


def test_a_value_the_schema_refuses_is_named_by_its_field_like_a_files():
    base = parse_scenario(TINY, "tiny")
    with pytest.raises(ScenarioError) as raised:
        apply_overrides(base, [parse_override("blocks=abc"), parse_override("lending.reserves[asset=ALT].ltv_bps=20000")], "tiny")
    problems = dict(raised.value.problems)
    assert problems["blocks"].startswith("Input should be a valid integer")
    assert "lending.reserves[1].ltv_bps" in problems
    assert "tiny with blocks='abc'" in str(raised.value)


def run_cli(tmp_path: Path, *sets: str) -> subprocess.CompletedProcess:
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump(TINY, sort_keys=False))
    command = [str(Path(sys.executable).with_name("ape")), "run", "cascade", "--scenario", str(scenario), "--out",
               str(tmp_path / "out"), "--no-progress"]
    for text in sets:
        command += ["--set", text]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_the_cli_runs_with_the_overrides(tmp_path):
    done = run_cli(tmp_path, "blocks=9", "lending.reserves[asset=ALT].liquidation_bonus_bps=10500")
    assert done.returncode == 0, done.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["blocks"] == 9 and summary["scenario"] == "tiny"


def test_the_cli_refuses_a_bad_override_with_exit_2_naming_it_and_writes_nothing(tmp_path):
    done = run_cli(tmp_path, "blocks=9", "pools[asset=XYZ].depth_usd=1")
    assert done.returncode == 2
    assert "pools[asset=XYZ].depth_usd: no item of pools has asset=XYZ" in done.stderr
    assert not (tmp_path / "out").exists()
