"""What a sweep leaves in its ``--out`` besides the runs: ``runs.parquet`` (a row per run),
``cells.parquet`` (statistics per cell), ``expect.json`` (each expectation per cell) and
``report.html`` with its plot. Each file is written atomically, from the rows on disk, so the
same call after a rerun gives the same files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiment.cells import cell_expectations, cells_frame, param_columns
from sim.experiment.spec import Experiment
from sim.experiment.sweep import RUNS_DIR, ROWS_DIR
from sim.files import parquet_bytes, write_atomic
from sim.record.expect import EXPECT_FILE

RUNS_FILE = "runs.parquet"
CELLS_FILE = "cells.parquet"


def sweep_names() -> frozenset[str]:
    """Every name a sweep writes at the top of its ``--out``."""
    from sim.report.sweep import SWEEP_REPORT_FILES

    return frozenset({ROWS_DIR, RUNS_DIR, RUNS_FILE, CELLS_FILE, EXPECT_FILE, *SWEEP_REPORT_FILES})


@dataclass
class SweepOutputs:
    runs: pd.DataFrame
    cells: pd.DataFrame
    expectations: list[dict[str, Any]]
    report: Path | None

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.expectations if not r["passed"]]


def runs_frame(experiment: Experiment, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table: cell, seed and the grid's parameters first, then every figure; one row
    per run, in cell and seed order."""
    runs = pd.DataFrame(rows)
    if runs.empty:
        return pd.DataFrame(columns=["cell", "seed", *param_columns(experiment), "error"])
    first = ["cell", "seed", *param_columns(experiment)]
    runs = runs[first + [c for c in runs.columns if c not in first]]
    return runs.sort_values(["cell", "seed"], kind="stable").reset_index(drop=True)


def write_sweep_outputs(experiment: Experiment, out_dir: Path, rows: list[dict[str, Any]], report: bool = True) -> SweepOutputs:
    """Write ``runs.parquet``, ``cells.parquet``, ``expect.json`` and (with ``report``) the report."""
    runs = runs_frame(experiment, rows)
    cells = cells_frame(experiment, runs)
    expectations = cell_expectations(experiment, runs)
    write_atomic(out_dir / RUNS_FILE, parquet_bytes(runs))
    write_atomic(out_dir / CELLS_FILE, parquet_bytes(cells))
    write_atomic(out_dir / EXPECT_FILE, (json.dumps(expectations, indent=2) + "\n").encode())
    from sim.report.sweep import SWEEP_REPORT_FILES, write_sweep_report  # matplotlib is only needed here

    page = None
    if report:
        page = write_sweep_report(out_dir, experiment.name, cells, param_columns(experiment), expectations, experiment.seeds)
    else:  # a report of an earlier sweep would contradict these tables
        for name in SWEEP_REPORT_FILES:
            (out_dir / name).unlink(missing_ok=True)
    return SweepOutputs(runs, cells, expectations, page)
