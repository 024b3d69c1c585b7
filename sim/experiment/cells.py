"""Per-cell statistics of a sweep's runs (``cells.parquet``) and its expectations per cell
(``expect.json``), from the runs' rows (``runs.parquet``).

Statistics are taken over the runs of a cell that completed; a run that failed is counted in
``failed_runs`` and left out, and a run Dask lost in ``missing_runs``. Each expectation's result
says over how many runs it was taken; the sweep's exit code fails on a failed or missing run
besides a failed expectation, so an incomplete cell never passes a designer's CI unnoticed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from sim.experiment.spec import Experiment
from sim.experiment.sweep import unflatten
from sim.record.expect import check, statistic
from sim.scenario.expectations import STATISTICS

CELL_FIGURES = {  # name in cells.parquet -> (column of runs.parquet, sign): every statistic reads the upper tail
    "bad_debt_usd": ("bad_debt_usd__total", 1),  # VaR: bad_debt_usd_p95, _p99
    "liquidations_usd": ("liquidations_usd__total", 1),  # LaR: liquidations_usd_p95, _p99
    "adl_notional_usd": ("adl__notional_usd", 1),
    "market_makers_loss_usd": ("market_makers__pnl_usd", -1),  # −PnL: its p95 / es95 are the loss tail
}
BAD_DEBT_SHARE = "lending_deficit_share_of_debt"
BAD_DEBT_SHARE_LINE = 0.01  # Gauntlet fails a configuration when more than 1% of debt ends undercollateralised
PROBABILITY_COLUMN = "p_lending_bad_debt_over_1pct_of_debt"


def param_columns(experiment: Experiment) -> list[str]:
    """The runs' and cells' columns of the grid's axes, in grid order."""
    return list(experiment.cells[0].columns)


def completed(runs: pd.DataFrame) -> pd.DataFrame:
    return runs[runs["error"] == ""] if "error" in runs else runs


def cells_frame(experiment: Experiment, runs: pd.DataFrame) -> pd.DataFrame:
    """One row per cell: its parameters, its runs (completed, failed, missing), every statistic of
    each figure over the completed runs, and the share of them whose lending pool ended with bad
    debt above 1% of its debt."""
    rows = []
    for cell in experiment.cells:
        mine = runs[runs["cell"] == cell.index] if "cell" in runs else runs.iloc[0:0]
        good = completed(mine)
        row: dict[str, Any] = {"cell": cell.index, **cell.columns, "runs": len(good), "failed_runs": len(mine) - len(good),
                               "missing_runs": experiment.seeds - len(mine)}
        for name, (column, sign) in CELL_FIGURES.items():
            values = (sign * good[column].astype(float)).tolist() if column in good else []
            for stat in STATISTICS:
                row[f"{name}_{stat}"] = statistic(values, stat)
        shares = good[BAD_DEBT_SHARE].astype(float).dropna() if BAD_DEBT_SHARE in good else pd.Series(dtype=float)
        row[PROBABILITY_COLUMN] = float((shares > BAD_DEBT_SHARE_LINE).mean()) if len(shares) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def cell_expectations(experiment: Experiment, runs: pd.DataFrame) -> list[dict[str, Any]]:
    """Each expectation per cell over its completed runs: its value and whether it passed."""
    results = []
    for cell in experiment.cells:
        mine = runs[runs["cell"] == cell.index] if "cell" in runs else runs.iloc[0:0]
        good = completed(mine)
        summaries = [unflatten(row) for row in good.to_dict("records")]
        for result in check(experiment.expectations, summaries):
            result["failed_runs"], result["missing_runs"] = len(mine) - len(good), experiment.seeds - len(mine)
            results.append({"cell": cell.index, **cell.columns, **result})
    return results
