"""Running an experiment: every ``(cell, seed)`` as a task on Dask, one row per finished run,
written atomically, so a rerun into the same directory skips what is done.

Each task runs on a worker process that owns its backend (revm: an EVM in the worker's own
process; the compiled contracts are loaded once per worker). A task's result is its run's row:
the cell's parameters, the seed and every summary figure flattened into unit-named columns
(``bad_debt_usd.total`` becomes ``bad_debt_usd__total``). The client writes each row as
``rows/c<cell>-s<seed>.json`` the moment it arrives; the run's own outputs are under
``runs/c<cell>-s<seed>/``. When a worker dies, Dask runs its tasks elsewhere; a row is written
once, by the client, so nothing is duplicated, and a task that finished is never run again on
rerun (its row is there).

Status: the runner core of issue 16 (the ``ape run sweep`` command, ``cells.parquet``, the
report and the kill test come next).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from sim.experiment.spec import Experiment
from sim.files import write_atomic

ROWS_DIR = "rows"
RUNS_DIR = "runs"
_ARTIFACTS: Any = None  # per worker process


def run_key(cell: int, seed: int) -> str:
    return f"c{cell}-s{seed}"


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``summary.json`` as flat ``a__b__c`` columns (numbers, text and None; lists left out)."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}__{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif not isinstance(value, list):
            flat[name] = value
    return flat


def run_one(experiment: Experiment, cell: int, offset: int, out_dir: str) -> dict[str, Any]:
    """One task: run ``(cell, seed offset)`` on revm into ``out_dir/runs/<key>``; its row."""
    global _ARTIFACTS
    from sim.model import RunFailed, run_cascade
    from sim.protocol import load_artifacts

    if _ARTIFACTS is None:
        _ARTIFACTS = load_artifacts()
    seed = experiment.seed_of(offset)
    row: dict[str, Any] = {"cell": cell, "seed": seed, **{f"param:{k}": v for k, v in experiment.cells[cell].params.items()}}
    target = Path(out_dir) / RUNS_DIR / run_key(cell, seed)
    try:
        result = run_cascade(experiment.scenario_for(cell, offset), target, progress=False, artifacts=_ARTIFACTS,
                             backend="revm", report=False, overwrite=True)
    except RunFailed as error:
        summary_file = target / "summary.json"
        summary = json.loads(summary_file.read_text()) if summary_file.exists() else {"status": "failed"}
        return {**row, **flatten(summary), "error": str(error)}
    return {**row, **flatten(result.summary), "error": ""}


def finished(out_dir: Path) -> set[str]:
    """The keys of the runs whose rows are written."""
    rows = out_dir / ROWS_DIR
    return {path.stem for path in rows.glob("*.json")} if rows.is_dir() else set()


def run_sweep(experiment: Experiment, out_dir: Path, workers: int = 2, scheduler: str | None = None,
              on_row: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Run every task of ``experiment`` not finished in ``out_dir`` on Dask (a LocalCluster of
    ``workers`` processes, or the cluster at ``scheduler``); every row, old and new."""
    from dask.distributed import Client, LocalCluster, as_completed

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ROWS_DIR).mkdir(exist_ok=True)
    done = finished(out_dir)
    todo = [(cell, offset) for cell, offset in experiment.tasks() if run_key(cell, experiment.seed_of(offset)) not in done]
    cluster = None if scheduler else LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                  dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            futures = [client.submit(run_one, experiment, cell, offset, str(out_dir), pure=False,
                                     key=f"run-{run_key(cell, experiment.seed_of(offset))}") for cell, offset in todo]
            for future in as_completed(futures):
                row = future.result()
                write_atomic(out_dir / ROWS_DIR / f"{run_key(row['cell'], row['seed'])}.json", json.dumps(row).encode())
                if on_row is not None:
                    on_row(row)
    finally:
        if cluster is not None:
            cluster.close()
    return [json.loads(path.read_text()) for path in sorted((out_dir / ROWS_DIR).glob("*.json"))]
