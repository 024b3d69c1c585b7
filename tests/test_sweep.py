"""The sweep runner core (sim/experiment/sweep.py): every (cell, seed) run on Dask workers, a row
each, the same as the run alone, and a rerun skipping what is done."""

import json
from pathlib import Path

import pytest
import yaml
from test_cascade_run import TINY

from sim.experiment import load_experiment
from sim.experiment.sweep import ROWS_DIR, run_sweep
from sim.model import run_cascade

BONUS = "lending.reserves[asset=ALT].liquidation_bonus_bps"


def test_a_sweep_runs_every_cell_and_seed_once_alike_to_the_run_alone_and_resumes(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({"scenario": "tiny.yaml", "name": "tiny-sweep", "seeds": 2,
                                                       "grid": {BONUS: [10300, 11000]}}, sort_keys=False))
    experiment = load_experiment(tmp_path / "exp.yaml")
    out = tmp_path / "out"
    rows = run_sweep(experiment, out, workers=2)
    assert sorted((r["cell"], r["seed"]) for r in rows) == [(c, TINY["seed"] + k) for c in (0, 1) for k in (0, 1)]
    assert {r[f"param:{BONUS}"] for r in rows} == {10300, 11000} and all(r["error"] == "" for r in rows)
    # a run inside the sweep is the run alone
    alone = run_cascade(experiment.scenario_for(1, 1), tmp_path / "alone", progress=False, backend="revm", report=False)
    row = next(r for r in rows if (r["cell"], r["seed"]) == (1, TINY["seed"] + 1))
    assert row["liquidations_usd__total"] == alone.summary["liquidations_usd"]["total"]
    assert row["tx_count"] == alone.summary["tx_count"] and row["bad_debt_usd__total"] == alone.summary["bad_debt_usd"]["total"]
    # a rerun runs nothing: every row is there, unchanged
    before = {p.name: p.read_text() for p in (out / ROWS_DIR).iterdir()}
    again = run_sweep(experiment, out, workers=1, on_row=lambda row: (_ for _ in ()).throw(AssertionError(f"ran {row}")))
    assert {p.name: p.read_text() for p in (out / ROWS_DIR).iterdir()} == before and len(again) == 4
    assert json.loads((out / ROWS_DIR / f"c0-s{TINY['seed']}.json").read_text())["cell"] == 0


def test_cells_give_each_statistic_of_their_runs_and_the_expectations_per_cell(tmp_path):
    from sim.experiment.cells import cells_frame, cell_expectations
    import pandas as pd

    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump({
        "scenario": "tiny.yaml", "name": "tiny-cells", "seeds": 3, "grid": {BONUS: [10300, 11000]},
        "expect": ["liquidations_usd.total.max >= 1", "liquidations_usd.total.p50 <= 1"]}, sort_keys=False))
    experiment = load_experiment(tmp_path / "exp.yaml")
    rows = pd.DataFrame(run_sweep(experiment, tmp_path / "out", workers=2))
    cells = cells_frame(experiment, rows)
    assert list(cells["runs"]) == [3, 3]
    for cell in (0, 1):
        values = sorted(rows[rows["cell"] == cell]["liquidations_usd__total"])
        row = cells[cells["cell"] == cell].iloc[0]
        assert row["liquidations_usd_max"] == values[-1] and row["liquidations_usd_p50"] == values[1]
        assert row["liquidations_usd_mean"] == pytest.approx(sum(values) / 3)
    results = cell_expectations(experiment, tmp_path / "out")
    assert [(r["cell"], r["passed"]) for r in results] == [(0, True), (0, False), (1, True), (1, False)]
