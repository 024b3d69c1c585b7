"""The report of an experiment (``report.html`` beside ``runs.parquet`` and ``cells.parquet``):
bad-debt VaR and liquidations-at-risk across the grid, the table of cells, and the expectations
that failed.

The grid is drawn by how many axes it has: one axis, a line per statistic over the axis's values;
two, a heatmap with the value in each square; more, one heatmap of the first two axes per
combination of the others (up to :data:`MAX_PANELS`; beyond that a line over the cells). Like the
run report, the page needs no network and no JavaScript; the PNG beside it is written first, and
every file is written atomically.
"""

from __future__ import annotations

import html
import itertools
import pathlib
from typing import Any, Final, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.files import write_atomic
from sim.report.axes import new_figure, render_png, usd_axis
from sim.report.filenames import REPORT_FILE
from sim.report.format import fmt_int, fmt_pct, fmt_text, fmt_usd, usd_compact
from sim.report.html import CSS, table_html

GRID_PNG: Final = "var_lar.png"
SWEEP_REPORT_FILES: Final = frozenset({REPORT_FILE, GRID_PNG})
MAX_PANELS: Final = 6
# (cells.parquet column, title): the two risk measures drawn across the grid
RISK_MEASURES: Final = (
    ("bad_debt_usd_p95", "Bad-debt VaR (95th percentile of bad debt)"),
    ("liquidations_usd_p95", "Liquidations at risk (95th percentile of liquidated USD)"),
)
# (cells.parquet column, header, formatter) of the table of cells, after the parameters
TABLE_COLUMNS: Final = (
    ("runs", "runs", fmt_int),
    ("failed_runs", "failed", fmt_int),
    ("bad_debt_usd_mean", "bad debt mean", fmt_usd),
    ("bad_debt_usd_p95", "bad debt p95 (VaR)", fmt_usd),
    ("bad_debt_usd_p99", "bad debt p99", fmt_usd),
    ("bad_debt_usd_es99", "bad debt ES99", fmt_usd),
    ("p_lending_bad_debt_over_1pct_of_debt", "P(lending bad debt > 1% of debt)", fmt_pct),
    ("liquidations_usd_p95", "liquidations p95 (LaR)", fmt_usd),
    ("adl_notional_usd_p95", "ADL notional p95", fmt_usd),
    ("market_makers_loss_usd_p95", "market makers' loss p95", fmt_usd),
)


def write_sweep_report(out_dir: pathlib.Path, name: str, cells: pd.DataFrame, axes: Sequence[str],
                       expectations: Sequence[Mapping[str, Any]], seeds: int) -> pathlib.Path:
    """Write the grid plot and ``report.html`` into ``out_dir``; the path of ``report.html``.
    ``axes`` are the ``param:`` columns of ``cells`` (the grid's), in grid order."""
    write_atomic(out_dir / GRID_PNG, render_png(grid_figure(cells, list(axes))))
    page = _page(name, cells, list(axes), expectations, seeds)
    write_atomic(out_dir / REPORT_FILE, page.encode())
    return out_dir / REPORT_FILE


def _label(axis: str) -> str:
    return axis.removeprefix("param:")


def grid_figure(cells: pd.DataFrame, axes: list[str]) -> Figure:
    """VaR and LaR across the grid: lines for one axis, heatmaps for two or more."""
    if len(axes) == 1:
        fig, grid = new_figure(1, len(RISK_MEASURES), row_height_in=3.8)
        for ax, (column, title) in zip(grid[0], RISK_MEASURES):
            _line(ax, cells, axes[0], column, title)
        return fig
    others = axes[2:]
    combos = list(itertools.product(*[pd.unique(cells[a]) for a in others])) if others else [()]
    if len(combos) > MAX_PANELS:
        fig, grid = new_figure(1, len(RISK_MEASURES), row_height_in=3.8)
        for ax, (column, title) in zip(grid[0], RISK_MEASURES):
            _line(ax, cells, "cell", column, title)
        return fig
    fig, grid = new_figure(len(combos), len(RISK_MEASURES), row_height_in=4.0)
    for row, combo in zip(grid, combos):
        mine = cells
        for axis, value in zip(others, combo):
            mine = mine[mine[axis] == value]
        suffix = ", ".join(f"{_label(a)}={v}" for a, v in zip(others, combo))
        for ax, (column, title) in zip(row, RISK_MEASURES):
            _heatmap(ax, fig, mine, axes[0], axes[1], column, f"{title}\n{suffix}" if suffix else title)
    return fig


def _line(ax: Axes, cells: pd.DataFrame, axis: str, column: str, title: str) -> None:
    values = list(cells[axis])
    numeric = all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in values)
    x = values if numeric else list(range(len(values)))
    ax.plot(x, cells[column].astype(float), marker="o", color="#c0392b")
    if not numeric:
        ax.set_xticks(x, [str(v) for v in values], rotation=30, ha="right")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(_label(axis), fontsize=8)
    usd_axis(ax)
    ax.grid(True, alpha=0.3)


def _heatmap(ax: Axes, fig: Figure, cells: pd.DataFrame, x_axis: str, y_axis: str, column: str, title: str) -> None:
    xs, ys = list(pd.unique(cells[x_axis])), list(pd.unique(cells[y_axis]))
    data = np.full((len(ys), len(xs)), np.nan)
    for _, cell in cells.iterrows():
        data[ys.index(cell[y_axis]), xs.index(cell[x_axis])] = float(cell[column])
    image = ax.imshow(data, cmap="Reds", aspect="auto", origin="lower")
    finite = data[np.isfinite(data)]
    middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    label = _usd_label(finite)
    for (i, j), value in np.ndenumerate(data):
        text = "—" if np.isnan(value) else label(value)
        ax.text(j, i, text, ha="center", va="center", fontsize=9, color="white" if value > middle else "black")
    ax.set_xticks(range(len(xs)), [str(v) for v in xs])
    ax.set_yticks(range(len(ys)), [str(v) for v in ys])
    ax.set_xlabel(_label(x_axis), fontsize=8)
    ax.set_ylabel(_label(y_axis), fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, format=lambda v, _pos: label(v))


def _usd_label(values: np.ndarray):
    """A compact USD label with enough significant digits to tell ``values`` apart ($25.31M beside
    $25.29M, not $25.3M twice)."""
    magnitude = float(np.abs(values).max()) if values.size else 0.0
    spread = float(values.max() - values.min()) if values.size else 0.0
    digits = 3 if spread <= 0 or magnitude <= 0 else min(8, max(3, int(np.ceil(np.log10(magnitude / spread))) + 2))
    return lambda value: usd_compact(value, digits)


def _page(name: str, cells: pd.DataFrame, axes: list[str], expectations: Sequence[Mapping[str, Any]], seeds: int) -> str:
    e = html.escape
    failed = [r for r in expectations if not r["passed"]]
    header = ["cell", *[_label(a) for a in axes], *[title for _, title, _ in TABLE_COLUMNS]]
    rows = [[str(cell["cell"]), *[fmt_text(cell[a]) for a in axes], *[fmt(cell.get(column)) for column, _, fmt in TABLE_COLUMNS]]
            for _, cell in cells.iterrows()]
    numeric = set(range(1 + len(axes), len(header))) | {0}
    verdict = (f"<p><strong>{len(failed)} of {len(expectations)} expectations failed.</strong></p>" if failed
               else f"<p>All {len(expectations)} expectations hold.</p>" if expectations else "<p class=\"muted\">No expectations.</p>")
    failed_rows = [[str(r["cell"]), ", ".join(f"{_label(a)}={r.get(a)}" for a in axes), r["expect"],
                    fmt_text(None if r["value"] is None else f"{r['value']:,.4g}"), fmt_int(r["runs"])] for r in failed]
    failed_table = table_html(["cell", "parameters", "expectation", "value", "over runs"], failed_rows, {3, 4}) if failed else ""
    incomplete = cells[(cells["failed_runs"] > 0) | (cells["missing_runs"] > 0)] if not cells.empty else cells
    incomplete_note = (f"<p><strong>{int(incomplete['failed_runs'].sum())} runs failed and {int(incomplete['missing_runs'].sum())} "
                       "are missing</strong> (<code>runs.parquet</code>, column <code>error</code>): their cells' statistics "
                       "are over the runs that completed.</p>") if len(incomplete) else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(name)}: sweep report</title><style>{CSS}</style></head>
<body>
<h1>{e(name)}</h1>
<p>{len(cells)} cells × {seeds} seeds. Bad debt is the lending pool's deficit plus the perp exchange's uncovered
loss at the end of a run; VaR is its 95th percentile over a cell's seeds and LaR the 95th percentile of the USD
liquidated. ES99 is the mean of the worst 1% of runs (at least the worst run). With {seeds} seeds a p99 or ES99 is
the worst run or two: read the tail with the number of runs in mind. Statistics are over the runs that completed;
a failed run is left out of them, and may have been among the worst.</p>
<h2>Across the grid</h2>
<figure><img src="{GRID_PNG}" alt="VaR and LaR across the grid"></figure>
<h2>Expectations</h2>
{verdict}
{incomplete_note}
{failed_table}
<h2>Cells</h2>
{table_html(header, rows, numeric)}
<p class="muted">Every run's figures: <code>runs.parquet</code>; these statistics: <code>cells.parquet</code>;
every expectation per cell: <code>expect.json</code>.</p>
</body></html>
"""
