"""Experiment files (sim/experiment/spec.py): the runs they ask for, and every problem named
before anything runs."""

from pathlib import Path

import pytest
import yaml

from sim.experiment import MAX_CELLS, load_experiment
from sim.experiment.spec import CRASH_SIZE_CAP
from sim.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "experiments" / "alt-liquidation-params.yaml"
BONUS = "lending.reserves[asset=ALT].liquidation_bonus_bps"
BASE = {"scenario": str(ROOT / "scenarios" / "oct10.yaml"), "name": "t", "seeds": 2, "grid": {BONUS: [10300, 10500]}}


def write(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "experiment.yaml"
    data = {**BASE, **changes}
    path.write_text(yaml.safe_dump({k: v for k, v in data.items() if v is not None}, sort_keys=False))
    return path


def test_the_shipped_experiment_asks_for_every_cell_and_seed_in_grid_order():
    experiment = load_experiment(SHIPPED)
    oct10 = load_scenario(ROOT / "scenarios" / "oct10.yaml")
    bonus, depth = "lending.reserves[asset=ALT].liquidation_bonus_bps", "pools[asset=ALT].depth_usd"
    assert [(c.params[bonus], c.params[depth]) for c in experiment.cells] == [
        (10300, 1_500_000), (10300, 15_000_000), (10500, 1_500_000), (10500, 15_000_000), (11000, 1_500_000), (11000, 15_000_000)]
    assert experiment.runs == 6 * 16 and list(experiment.tasks())[:3] == [(0, 0), (0, 1), (0, 2)]
    run = experiment.scenario_for(3, 5)
    assert run.seed == oct10.seed + 5 and run.blocks == 150
    assert [r.liquidation_bonus_bps for r in run.lending.reserves if r.asset == "ALT"] == [10500]
    assert [p.depth_usd for p in run.pools if p.asset == "ALT"] == [15_000_000]
    assert [e.text for e in experiment.expectations] == ["bad_debt_usd.total.p99 <= 1_250_000",
                                                          "bad_debt_usd.lending_deficit.p95 <= 50_000"]


def test_a_seeds_crash_is_scaled_alike_on_every_cell_and_capped():
    experiment = load_experiment(SHIPPED)
    base_sizes = load_scenario(ROOT / "scenarios" / "oct10.yaml").shock.crash.size
    for offset in range(16):
        sizes = [experiment.scenario_for(cell, offset).shock.crash.size for cell in range(6)]
        assert all(s == sizes[0] for s in sizes)  # the same path draw on every cell
        scales = {asset: sizes[0][asset] / base_sizes[asset] for asset in base_sizes if sizes[0][asset] < CRASH_SIZE_CAP}
        assert len(set(round(v, 12) for v in scales.values())) <= 1 and all(0.5 <= v <= 1.5 for v in scales.values())
        assert all(size <= CRASH_SIZE_CAP for size in sizes[0].values())
    assert experiment.scenario_for(0, 0).shock.crash.size != experiment.scenario_for(0, 1).shock.crash.size  # drawn per seed


@pytest.mark.parametrize("changes, where, message", [
    ({"grid": {"lending.reserves[asset=XYZ].liquidation_bonus_bps": [1]}}, "lending.reserves[asset=XYZ]", "no item of lending.reserves has asset=XYZ"),
    ({"grid": {BONUS: [10300, 11000], "lending.reserves[3].liquidation_bonus_bps": [10500]}}, "lending.reserves[3]",
     f"names the same field as {BONUS}"),
    ({"set": {BONUS: 12000}}, BONUS, f"names the same field as {BONUS}"),
    ({"set": {"lending.reserves[asset=ALT]": {}}}, BONUS, "names the same field as lending.reserves[asset=ALT]"),
    ({"grid": {"seed": [1, 2]}}, "seed", "seed is set per run by the experiment"),
    ({"set": {"name": "x"}}, "name", "name is set per run by the experiment"),
    ({"grid": {BONUS: [10300, 10300]}}, f"grid.{BONUS}", "10300 appear(s) more than once"),
    ({"set": {"shock.crash": None}, "paths": {"crash_size_scale": {"uniform": [0.5, 1.5]}}}, "cell 0",
     "paths.crash_size_scale scales the crash, but this cell's scenario has none"),
    ({"expect": ["x.p9 <= 1", "bad_debt_usd.total.p99 <= 1", "status.p95 <= 1"]}, "expect[2]", "status"),
    ({"grid": {"blocks": ["many"]}}, "cell 0 (blocks='many'): blocks", "Input should be a valid integer"),
    ({"grid": {}}, "grid", "the grid is empty"),
    ({"grid": {"blocks": []}}, "grid.blocks", "at least 1 item"),
    ({"seeds": 0}, "seeds", "greater than or equal to 1"),
    ({"expect": ["bad_debt_usd.totl.p99 <= 1"]}, "expect[0]", "bad_debt_usd has no figure 'totl'"),
    ({"expect": ["bad_debt_usd.total.p90 <= 1"]}, "expect[0]", "not a statistic"),
    ({"set": {"pools..depth_usd": 1}}, "set.pools..depth_usd", "cannot read"),
    ({"scenario": "nowhere.yaml"}, "scenario (nowhere.yaml)", "No such file"),
    ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
])
def test_every_problem_is_named_before_anything_runs(tmp_path, changes, where, message):
    with pytest.raises(ScenarioError) as raised:
        load_experiment(write(tmp_path, **changes))
    assert any(path.startswith(where) and message in text for path, text in raised.value.problems), raised.value.problems


def test_a_grid_over_the_cell_limit_needs_to_be_asked_for(tmp_path):
    side = int(MAX_CELLS ** 0.5) + 1  # two axes of this many values: just over the limit
    big = {"lending.reserves[asset=ALT].liquidation_bonus_bps": list(range(10001, 10001 + side)),
           "pools[asset=ALT].depth_usd": [1_000_000 + i for i in range(side)]}
    with pytest.raises(ScenarioError, match=f"{side * side:,} cells is more than {MAX_CELLS:,}: pass --yes"):
        load_experiment(write(tmp_path, grid=big))


def test_runs_whose_seed_or_draw_the_scenario_refuses_are_named_before_any_runs(tmp_path):
    from sim.experiment import ExperimentError, check_runs

    base = yaml.safe_load((ROOT / "scenarios" / "oct10.yaml").read_text())
    base["seed"] = 2**63 - 2  # seeds + 0, + 1 fit the schema's bound; + 2 does not
    base.pop("calibration")  # a copy elsewhere: its targets file is not beside it
    (tmp_path / "far.yaml").write_text(yaml.safe_dump(base))
    too_far = load_experiment(write(tmp_path, scenario=str(tmp_path / "far.yaml"), seeds=3))
    with pytest.raises(ExperimentError) as raised:
        check_runs(too_far)
    assert sorted({where.split(":")[0] for where, _ in raised.value.problems}) == ["cell 0, seed 9223372036854775808",
                                                                               "cell 1, seed 9223372036854775808"]
    negative = load_experiment(write(tmp_path, paths={"crash_size_scale": {"uniform": [-1, -0.5]}}))
    with pytest.raises(ExperimentError, match=r"cell 0, seed \d+: shock.crash.size"):
        check_runs(negative)


def test_an_axis_of_mixed_or_structured_values_is_written_as_text(tmp_path):
    experiment = load_experiment(write(tmp_path, grid={"agents.whales[0].capital_usd": [200_000, {"lognormal": [200_000, 0.5]}]}))
    assert [c.columns for c in experiment.cells] == [
        {"param:agents.whales[0].capital_usd": "200000"},
        {"param:agents.whales[0].capital_usd": '{"lognormal": [200000, 0.5]}'}]
    plain = load_experiment(write(tmp_path))
    assert [c.columns[f"param:{BONUS}"] for c in plain.cells] == [10300, 10500]  # numbers stay numbers
