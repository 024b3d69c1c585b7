"""Per-cell statistics of a sweep's runs (``cells.parquet``) and its expectations per cell
(``expect.json``), from the rows and the runs' own ``summary.json``.

Status: part of issue 16's runner core; the probability that bad debt exceeds 1% of debt needs
the lending debt in the summary, which is not there yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiment.spec import Experiment
from sim.experiment.sweep import RUNS_DIR, run_key
from sim.record.expect import check, statistic
from sim.scenario.expectations import STATISTICS

CELL_FIGURES = {  # column of runs.parquet -> its name in cells.parquet
    "bad_debt_usd__total": "bad_debt_usd",
    "liquidations_usd__total": "liquidations_usd",  # LaR
    "adl__notional_usd": "adl_notional_usd",
    "market_makers__pnl_usd": "market_makers_pnl_usd",
}


def cells_frame(experiment: Experiment, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: its parameters, its runs, and every statistic of each figure."""
    rows = []
    for cell in experiment.cells:
        mine = runs[runs["cell"] == cell.index]
        row: dict[str, Any] = {"cell": cell.index, **{f"param:{k}": v for k, v in cell.params.items()}, "runs": len(mine)}
        for column, name in CELL_FIGURES.items():
            values = mine[column].astype(float).tolist() if column in mine else []
            for stat in STATISTICS:
                row[f"{name}_{stat}"] = statistic(values, stat)
        rows.append(row)
    return pd.DataFrame(rows)


def cell_expectations(experiment: Experiment, out_dir: Path) -> list[dict[str, Any]]:
    """Each expectation per cell over its seeds, from the runs' ``summary.json``."""
    results = []
    for cell in experiment.cells:
        summaries = []
        for offset in range(experiment.seeds):
            path = out_dir / RUNS_DIR / run_key(cell.index, experiment.seed_of(offset)) / "summary.json"
            summaries.append(json.loads(path.read_text()) if path.exists() else {})
        for result in check(experiment.expectations, summaries):
            results.append({"cell": cell.index, **{f"param:{k}": v for k, v in cell.params.items()}, **result})
    return results
