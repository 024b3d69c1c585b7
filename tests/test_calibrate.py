"""`ape run calibrate`: the params file's checks (a path that names nothing, a bad range, a value the
scenario refuses, a scenario without targets) and one tiny search end to end (2 trials × 2 seeds on
1 worker) whose trials.parquet, runs.parquet and best.yaml agree with each other."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from test_calibration_run import TARGETS
from test_cascade_run import TINY

from sim.calibration.score import score_values
from sim.calibration.targets import Target
from sim.experiment.calibrate import run_search, write_search_outputs
from sim.experiment.params import load_params
from sim.experiment.spec import ExperimentError
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
APE = Path(sys.executable).with_name("ape")
PARAMS = {"perp.insurance_fund_usd": {"low": 1_000, "high": 100_000, "log": True},
          "shock.crash.size.ALT": {"low": 0.3, "high": 0.5}}


def files(tmp_path: Path, params: dict, calibrated: bool = True, seeds: int = 2) -> tuple[Path, Path]:
    (tmp_path / "targets.yaml").write_text(yaml.safe_dump({"targets": TARGETS}))
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(yaml.safe_dump({**TINY, **({"calibration": "targets.yaml"} if calibrated else {})}))
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump({"seeds": seeds, "params": params}))
    return scenario, params_file


def problems(tmp_path: Path, params: dict, calibrated: bool = True) -> dict[str, str]:
    scenario, params_file = files(tmp_path, params, calibrated)
    with pytest.raises(ExperimentError) as caught:
        load_params(load_scenario(scenario), params_file)
    return dict(caught.value.problems)


@pytest.mark.parametrize("params, where, message", [
    ({"pools[asset=XYZ].depth_usd": {"low": 1, "high": 2}}, "params.pools[asset=XYZ].depth_usd", "no item of pools has asset=XYZ"),
    ({"perp.insurance_fund_usd": {"low": 5, "high": 1}}, "params.perp.insurance_fund_usd", "low (5.0) must be below high (1.0)"),
    ({"perp.insurance_fund_usd": {"low": 0, "high": 10, "log": True}}, "params.perp.insurance_fund_usd", "log needs low above 0"),
    ({"blocks": {"low": 1.5, "high": 9, "int": True}}, "params.blocks", "int needs whole low and high"),
    ({"blocks": {"low": 1, "high": 9, "choices": [1]}}, "params.blocks", "choices stands alone"),
    ({"shock.crash.size.ALT": {"low": 0.5, "high": 1.5}}, "params.shock.crash.size.ALT = 1.5", "shock.crash.size.ALT: Input should be less than 1"),
    ({"lending.reserves[asset=ALT].oracle": {"choices": ["external", "sundial"]}}, "params.lending.reserves[asset=ALT].oracle = 'sundial'",
     "lending.reserves[1].oracle"),
    ({"seed": {"low": 1, "high": 9, "int": True}}, "params.seed", "set per run by the search"),
])
def test_a_bad_param_is_named_by_its_path(tmp_path, params, where, message):
    found = problems(tmp_path, params)
    assert where in found, found
    assert message in found[where]


def test_a_scenario_without_targets_is_refused(tmp_path):
    found = problems(tmp_path, PARAMS, calibrated=False)
    assert "names no calibration targets" in found["scenario"]


def test_the_cli_exits_2_before_any_worker_for_bad_input(tmp_path):
    scenario, params_file = files(tmp_path, PARAMS, calibrated=False)
    done = calibrate(scenario, params_file, tmp_path / "out", "--trials", "1")
    assert done.returncode == 2 and "names no calibration targets" in done.stderr
    assert not (tmp_path / "out").exists()


def calibrate(scenario: Path, params_file: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(APE), "run", "calibrate", "--scenario", str(scenario), "--params", str(params_file),
                           "--out", str(out), "--no-progress", *extra], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_a_tiny_search_writes_trials_runs_and_the_best_consistently(tmp_path):
    scenario, params_file = files(tmp_path, PARAMS)
    out = tmp_path / "out"
    search = load_params(load_scenario(scenario), params_file)
    ran = []
    result = run_search(search, out, trials=2, workers=1, on_run=ran.append)
    write_search_outputs(search, out, result.trials, report=True)
    assert len(ran) == 2 * 2 and not result.lost
    trials = pd.read_parquet(out / "trials.parquet")
    runs = pd.read_parquet(out / "runs.parquet")
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert sorted(trials["trial"]) == [0, 1] and len(runs) == 2 * 2
    assert sorted(runs["seed"].unique()) == [TINY["seed"], TINY["seed"] + 1]  # the same seeds for every trial
    for _, trial in trials.iterrows():
        mine = runs[runs["trial"] == trial["trial"]]
        scores = [0.0 if error else score for score, error in zip(mine["calibration_score"], mine["error"])]
        assert trial["score_mean"] == pytest.approx(np.mean(scores))
        assert trial["score_min"] == pytest.approx(np.min(scores))
        for column in ("param:perp.insurance_fund_usd", "param:shock.crash.size.ALT"):
            assert (mine[column] == trial[column]).all()
        low, high = PARAMS["shock.crash.size.ALT"]["low"], PARAMS["shock.crash.size.ALT"]["high"]
        assert low <= trial["param:shock.crash.size.ALT"] <= high
        for run in mine.itertuples():
            written = json.loads((out / "runs" / f"t{trial['trial']}-s{run.seed}" / "calibration.json").read_text())
            assert written["score"] == pytest.approx(run.calibration_score)
    top = trials.loc[trials["score_mean"].idxmax()]
    assert best["trial"] == top["trial"] and best["score_mean"] == pytest.approx(trials["score_mean"].max())
    assert best["set"] == {path: pytest.approx(top[f"param:{path}"]) for path in PARAMS}
    targets = [Target.model_validate(t) for t in TARGETS]
    means = [None if pd.isna(top[f"sim:{t.name}"]) else top[f"sim:{t.name}"] for t in targets]
    within = {row["name"]: row["within"] for row in score_values(targets, means)["targets"]}
    assert {name: row["within"] for name, row in best["targets"].items()} == within
    assert "Calibration: tiny" in (out / "report.html").read_text() and (out / "score_by_trial.png").is_file()


def test_the_cli_never_replaces_a_previous_search_silently(tmp_path):
    scenario, params_file = files(tmp_path, PARAMS)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "trials.parquet").write_bytes(b"earlier")
    done = calibrate(scenario, params_file, tmp_path / "out", "--trials", "1")
    assert done.returncode == 2 and "pass --overwrite" in done.stderr
    assert (tmp_path / "out" / "trials.parquet").read_bytes() == b"earlier"
    # a sweep's runs (c<cell>-s<seed>) are not a calibration's: never deleted, even with --overwrite
    (tmp_path / "sweep" / "runs" / "c0-s1").mkdir(parents=True)
    done = calibrate(scenario, params_file, tmp_path / "sweep", "--trials", "1", "--overwrite")
    assert done.returncode == 2 and "runs/c0-s1" in done.stderr and (tmp_path / "sweep" / "runs" / "c0-s1").is_dir()


def test_the_first_trial_is_the_scenario_as_it_is_when_its_values_lie_in_the_ranges(tmp_path):
    scenario, params_file = files(tmp_path, PARAMS)
    base = load_scenario(scenario)
    search = load_params(base, params_file)
    assert search.start_values() == {"perp.insurance_fund_usd": base.perp.insurance_fund_usd,
                                     "shock.crash.size.ALT": base.shock.crash.size["ALT"]}
    outside = {**PARAMS, "perp.insurance_fund_usd": {"low": base.perp.insurance_fund_usd + 1, "high": 10**7}}
    scenario, params_file = files(tmp_path, outside)
    assert load_params(load_scenario(scenario), params_file).start_values() is None
    whole = {"blocks": {"low": base.blocks - 1, "high": base.blocks + 10, "int": True}, "perp.adl_enabled": {"choices": [True, False]}}
    scenario, params_file = files(tmp_path, whole)
    assert load_params(load_scenario(scenario), params_file).start_values() == {"blocks": base.blocks, "perp.adl_enabled": base.perp.adl_enabled}


def test_the_targets_file_is_no_parameter_to_search(tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"targets": TARGETS}))
    found = problems(tmp_path, {"calibration": {"choices": [str(other)]}})
    assert "cannot be searched over" in found["params.calibration"]
