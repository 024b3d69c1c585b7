"""Static HTML report of one simulator run: PNG plots plus a self-contained ``report.html``.

``write_report`` takes the run's tidy tables (per block × asset time series, events, agents) and
its summary dict, and writes into one directory:

* ``prices.png`` — external, AMM, lending-oracle, perp mark and perp index prices per asset;
* ``liquidations.png`` — cumulative liquidated notional per (venue, side);
* ``insurance_adl.png`` — insurance fund and perp bad debt, with ADL notional per block;
* ``amm_depth.png`` — USD depth of each asset's pool;
* ``pnl_by_agent_type.png`` — summed PnL and start/end equity per agent type;
* ``report.html`` — headline figures, the calibration against real figures (when the scenario
  names targets), the plots with captions, and the 20 largest events.

The HTML needs no network, no JavaScript and no external stylesheet; it refers to the PNGs beside
it by file name, so the directory can be moved or archived as a whole. Every file is written to a
temporary name in the output directory first and then renamed over the target, so a reader never
sees a half-written file. Plots use matplotlib's object API with the Agg canvas: no pyplot, no
global figure state, safe in a headless process.

The modules, lowest first: ``filenames`` (the output file names), ``format`` (value formatting),
``frames`` (reading the tables), ``timeline`` (blocks to minutes, the shock window), ``axes`` (figure
and axis helpers, PNG rendering), ``plots`` (the five figures), ``headline`` and ``events_table``
(the tables' rows), ``html`` (the page).
"""

from __future__ import annotations

import pathlib
from typing import Any, Mapping

import pandas as pd

from sim.files import write_atomic
from sim.report.axes import render_png
from sim.report.filenames import PLOT_FILES, REPORT_FILE
from sim.report.format import as_float
from sim.report.html import html_page
from sim.report.plots import build_figures
from sim.report.timeline import Clock, TimeFrame, shock_window

__all__ = ["write_report", "REPORT_FILE", "PLOT_FILES"]


def write_report(
    out_dir: pathlib.Path,
    timeseries: pd.DataFrame,
    events: pd.DataFrame,
    agents: pd.DataFrame,
    summary: Mapping[str, Any] | None,
    calibration: Mapping[str, Any] | None = None,
) -> pathlib.Path:
    """Write PNG plots and report.html into out_dir; return the path of report.html.
    ``calibration``: the run scored against its targets (``calibration.json``), shown in a section."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summary or {}
    clock = Clock.from_timeseries(timeseries, as_float(summary.get("block_time_s")))
    frame = TimeFrame(clock.end_minute(), shock_window(summary, clock))

    for name, fig in build_figures(timeseries, events, agents, clock, frame).items():
        write_atomic(out_dir / name, render_png(fig))

    page = html_page(summary, events, agents, clock, calibration)
    report_path = out_dir / REPORT_FILE
    write_atomic(report_path, page.encode("utf-8"))
    return report_path
