"""The sweep runner (sim/experiment/sweep.py) and its outputs (sim/experiment/outputs.py): every
(cell, seed) run once on Dask workers, the same as the run alone whichever worker runs it, a
rerun skipping what is done, a killed worker losing and duplicating nothing."""

import json
import os
import signal
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml
from test_cascade_run import TINY

from sim.experiment import load_experiment
from sim.experiment.outputs import write_sweep_outputs
from sim.experiment.sweep import ROWS_DIR, RUNS_DIR, run_sweep
from sim.model import run_cascade

BONUS = "lending.reserves[asset=ALT].liquidation_bonus_bps"
TABLES = ("timeseries", "events", "agents")
RUN_METADATA = ("wall_s", "worker", "worker_max_rss_mb")  # what a row may differ by between two runs of one scenario


def experiment_file(tmp_path: Path, **changes) -> Path:
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY, sort_keys=False))
    data = {"scenario": "tiny.yaml", "name": "tiny-sweep", "seeds": 2, "grid": {BONUS: [10300, 11000]}}
    data.update(changes)
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def tables(run_dir: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(run_dir / f"{name}.parquet") for name in TABLES}


def same_tables(a: Path, b: Path) -> bool:
    left, right = tables(a), tables(b)
    return all(left[name].equals(right[name]) for name in TABLES)


def test_a_sweep_runs_every_cell_and_seed_once_alike_to_the_run_alone_and_resumes(tmp_path):
    experiment = load_experiment(experiment_file(tmp_path))
    out = tmp_path / "out"
    result = run_sweep(experiment, out, workers=2)
    assert (result.ran, result.skipped, result.lost) == (4, 0, {})
    rows = result.rows
    assert [(r["cell"], r["seed"]) for r in rows] == [(c, TINY["seed"] + k) for c in (0, 1) for k in (0, 1)]
    assert [r[f"param:{BONUS}"] for r in rows] == [10300, 10300, 11000, 11000] and all(r["error"] == "" for r in rows)
    # a run inside the sweep is the run alone: the same tables, the same figures
    alone = run_cascade(experiment.scenario_for(1, 1), tmp_path / "alone", progress=False, backend="revm", report=False)
    assert same_tables(out / RUNS_DIR / f"c1-s{TINY['seed'] + 1}", tmp_path / "alone")
    row = rows[3]
    assert row["liquidations_usd__total"] == alone.summary["liquidations_usd"]["total"] > 0
    assert row["tx_count"] == alone.summary["tx_count"] and row["bad_debt_usd__total"] == alone.summary["bad_debt_usd"]["total"]
    # a rerun runs nothing: every row is there, unchanged
    before = {p.name: p.read_text() for p in (out / ROWS_DIR).iterdir()}
    again = run_sweep(experiment, out, workers=1, on_row=lambda row: pytest.fail(f"ran {row['cell']}, {row['seed']} again"))
    assert (again.ran, again.skipped) == (0, 4) and again.rows == rows
    assert {p.name: p.read_text() for p in (out / ROWS_DIR).iterdir()} == before


def test_a_rerun_after_the_experiment_changed_runs_only_the_runs_whose_scenario_changed(tmp_path):
    out = tmp_path / "out"
    run_sweep(load_experiment(experiment_file(tmp_path)), out, workers=1)
    changed = load_experiment(experiment_file(tmp_path, grid={BONUS: [10300, 10700]}))  # cell 1 is another cell now
    ran = []
    result = run_sweep(changed, out, workers=1, on_row=lambda row: ran.append((row["cell"], row["seed"])))
    assert sorted(ran) == [(1, TINY["seed"]), (1, TINY["seed"] + 1)] and result.skipped == 2
    assert [r[f"param:{BONUS}"] for r in result.rows] == [10300, 10300, 10700, 10700]


def test_a_rerun_under_new_labels_for_the_same_scenarios_reuses_the_runs_and_labels_them_anew(tmp_path):
    out = tmp_path / "out"
    experiment = load_experiment(experiment_file(tmp_path))
    first = run_sweep(experiment, out, workers=1)
    write_sweep_outputs(experiment, out, first.rows)
    assert (out / "report.html").exists()
    # the same cells with an axis added at the base value, and the bonus path written by position
    relabelled = load_experiment(experiment_file(tmp_path, grid={"lending.reserves[1].liquidation_bonus_bps": [10300, 11000],
                                                                "blocks": [TINY["blocks"]]}))
    again = run_sweep(relabelled, out, workers=1, on_row=lambda row: pytest.fail("ran again"))
    assert again.skipped == 4 and [r["bad_debt_usd__total"] for r in again.rows] == [r["bad_debt_usd__total"] for r in first.rows]
    outputs = write_sweep_outputs(relabelled, out, again.rows, report=False)
    assert list(outputs.runs.columns[:4]) == ["cell", "seed", "param:lending.reserves[1].liquidation_bonus_bps", "param:blocks"]
    assert f"param:{BONUS}" not in outputs.runs and set(outputs.runs["param:blocks"]) == {TINY["blocks"]}
    assert not (out / "report.html").exists() and not (out / "var_lar.png").exists()  # no report of the earlier sweep is left


def test_the_runs_are_the_same_whichever_worker_and_however_many_run_them(tmp_path):
    experiment = load_experiment(experiment_file(tmp_path, seeds=3))
    one = run_sweep(experiment, tmp_path / "one", workers=1).rows
    two = run_sweep(experiment, tmp_path / "two", scheduler=None, workers=2).rows
    strip = lambda rows: pd.DataFrame(rows).drop(columns=list(RUN_METADATA))
    assert strip(one).equals(strip(two))
    for row in one:
        key = f"c{row['cell']}-s{row['seed']}"
        assert same_tables(tmp_path / "one" / RUNS_DIR / key, tmp_path / "two" / RUNS_DIR / key)


def test_outputs_give_each_statistic_of_a_cells_runs_and_each_expectation_per_cell(tmp_path):
    experiment = load_experiment(experiment_file(tmp_path, seeds=3, expect=[
        "liquidations_usd.total.max >= 1", "liquidations_usd.total.p50 <= 1", "lending_deficit_share_of_debt.max <= 1"]))
    out = tmp_path / "out"
    outputs = write_sweep_outputs(experiment, out, run_sweep(experiment, out, workers=2).rows)
    runs, cells = pd.read_parquet(out / "runs.parquet"), pd.read_parquet(out / "cells.parquet")
    assert runs.equals(outputs.runs) and list(runs.columns[:3]) == ["cell", "seed", f"param:{BONUS}"] and len(runs) == 6
    assert list(cells["runs"]) == [3, 3] and list(cells["failed_runs"]) == [0, 0] and list(cells[f"param:{BONUS}"]) == [10300, 11000]
    for cell in (0, 1):
        values = sorted(runs[runs["cell"] == cell]["liquidations_usd__total"])
        row = cells[cells["cell"] == cell].iloc[0]
        assert row["liquidations_usd_max"] == values[-1] and row["liquidations_usd_p50"] == values[1]
        assert row["liquidations_usd_mean"] == pytest.approx(sum(values) / 3)
        mine = runs[runs["cell"] == cell]
        shares = mine["bad_debt_usd__lending_deficit"] / mine["lending_debt_usd__start"]
        assert row["p_lending_bad_debt_over_1pct_of_debt"] == pytest.approx((shares > 0.01).mean())
    results = json.loads((out / "expect.json").read_text())
    assert [(r["cell"], r["expect"], r["passed"]) for r in results] == [
        (c, e.text, ok) for c in (0, 1) for e, ok in zip(experiment.expectations, (True, False, True))]
    page = (out / "report.html").read_text()
    assert "3 of 6 expectations failed" not in page and "2 of 6 expectations failed" in page
    assert "liquidations_usd.total.p50 &lt;= 1" in page and (out / "var_lar.png").stat().st_size > 10_000


def test_cells_read_the_loss_tail_and_leave_failed_runs_out(tmp_path):
    from sim.experiment.cells import cells_frame

    experiment = load_experiment(experiment_file(tmp_path, seeds=4, grid={BONUS: [10300]}))
    runs = pd.DataFrame({
        "cell": [0] * 4, "seed": [7, 8, 9, 10], "error": ["", "", "", "set-up failed"],
        "bad_debt_usd__total": [0.0, 50.0, 400.0, 9e9], "bad_debt_usd__lending_deficit": [0.0, 20.0, 100.0, 9e9],
        "lending_debt_usd__start": [1_000.0, 1_000.0, 1_000.0, 1_000.0],
        "lending_deficit_share_of_debt": [0.0, 0.02, 0.1, 9e6],
        "market_makers__pnl_usd": [500.0, -100.0, -700.0, -9e9],
        "liquidations_usd__total": [1.0, 2.0, 3.0, 4.0], "adl__notional_usd": [0.0, 0.0, 0.0, 0.0],
    })
    cell = cells_frame(experiment, runs).iloc[0]
    assert (cell["runs"], cell["failed_runs"], cell["missing_runs"]) == (3, 1, 0)
    assert cell["bad_debt_usd_max"] == 400.0 and cell["bad_debt_usd_mean"] == pytest.approx(150.0)  # the failed run is out
    assert cell["market_makers_loss_usd_max"] == 700.0 and cell["market_makers_loss_usd_es95"] == 700.0  # −PnL: the worst loss
    assert cell["p_lending_bad_debt_over_1pct_of_debt"] == pytest.approx(2 / 3)  # 2% and 10% of the debt; 0% is not


def _worker_processes(parent: psutil.Process) -> list[psutil.Process]:
    """The Dask worker processes of a LocalCluster started here (its nannies live in this process
    and spawn one worker each), not multiprocessing's resource tracker."""
    return [p for p in parent.children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]


def test_a_killed_worker_loses_and_duplicates_nothing(tmp_path):
    experiment = load_experiment(experiment_file(tmp_path, seeds=4))
    out = tmp_path / "out"
    killed: list[int] = []
    rows_seen: list[tuple[int, int]] = []

    def kill_a_busy_worker(row):
        rows_seen.append((row["cell"], row["seed"]))
        if not killed:
            workers = _worker_processes(psutil.Process())
            assert workers, "no worker process found"
            victim = max(workers, key=lambda p: p.cpu_percent(interval=0.05))
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

    result = run_sweep(experiment, out, workers=2, on_row=kill_a_busy_worker)
    assert killed and result.lost == {}
    expected = [(c, TINY["seed"] + k) for c in (0, 1) for k in range(4)]
    assert sorted(rows_seen) == expected  # each row arrived once
    assert sorted(p.stem for p in (out / ROWS_DIR).glob("*.json")) == sorted(f"c{c}-s{s}" for c, s in expected)
    names = [p.name for p in (out / RUNS_DIR).iterdir() if not p.name.endswith(".lock")]  # a run's lock stays beside it
    assert sorted(names) == sorted(f"c{c}-s{s}" for c, s in expected)  # one directory per run, no partial one left
    alone = run_sweep(experiment, tmp_path / "quiet", workers=1).rows
    strip = lambda rows: pd.DataFrame(rows).drop(columns=list(RUN_METADATA))
    assert strip(result.rows).equals(strip(alone))


def test_the_sweep_runs_on_a_cluster_it_did_not_start(tmp_path):
    from dask.distributed import LocalCluster

    experiment = load_experiment(experiment_file(tmp_path))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        result = run_sweep(experiment, tmp_path / "out", scheduler=cluster.scheduler_address)
        assert len(cluster.scheduler.workers) == 2  # still up: the sweep closed its client, not the cluster
    assert result.ran == 4 and [r["error"] for r in result.rows] == [""] * 4


def test_on_anvil_each_run_has_a_node_of_its_own_and_the_same_tables(tmp_path):
    experiment = load_experiment(experiment_file(tmp_path, seeds=1, grid={BONUS: [11000]}))
    on_anvil = run_sweep(experiment, tmp_path / "anvil", workers=1, backend="anvil").rows
    on_revm = run_sweep(experiment, tmp_path / "revm", workers=1).rows
    assert [r["backend"] for r in on_anvil + on_revm] == ["anvil", "revm"] and on_anvil[0]["error"] == ""
    key = f"c0-s{TINY['seed']}"
    left, right = tables(tmp_path / "anvil" / RUNS_DIR / key), tables(tmp_path / "revm" / RUNS_DIR / key)
    assert left["timeseries"].equals(right["timeseries"]) and left["agents"].equals(right["agents"])
    assert left["events"].drop(columns=["gas_used"]).equals(right["events"].drop(columns=["gas_used"]))  # revm measures no gas
