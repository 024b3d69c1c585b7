"""Figure and axis helpers shared by the plots, and PNG rendering.

Uses matplotlib's object API with the Agg canvas: no pyplot, no global figure state, safe in a
headless process.
"""

from __future__ import annotations

import io
from typing import Any, Final, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.report.format import price_tick, usd_compact

DPI: Final = 110
WIDTH_IN: Final = 10.0
TIME_AXIS_LABEL: Final = "minutes since start"


def new_figure(n_rows: int = 1, n_cols: int = 1, row_height_in: float = 3.4) -> tuple[Figure, np.ndarray]:
    """A constrained-layout figure of the report's width and a 2-D array of its axes."""
    fig = Figure(figsize=(WIDTH_IN, max(row_height_in * n_rows, 2.5)), dpi=DPI, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, axes


def render_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig``; the figure is released afterwards."""
    buf = io.BytesIO()
    try:
        FigureCanvasAgg(fig).print_png(buf)
    finally:
        fig.clear()
    return buf.getvalue()


def empty_axis(ax: Axes, message: str) -> None:
    """Write ``message`` in the middle of an axis that has nothing to show."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="#666")


def usd_axis(ax: Axes) -> None:
    """Label the y ticks as compact dollar amounts ($12.5k, $3.2M)."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: usd_compact(v)))


def price_axis(ax: Axes) -> None:
    """Label the y ticks as prices."""
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: price_tick(v)))


def finish_axis(
    ax: Axes, title: str, ylabel: str, xlabel: str = TIME_AXIS_LABEL, extra_handles: Sequence[Any] = ()
) -> None:
    """Title, axis labels, grid, and a legend of the labelled artists plus ``extra_handles``."""
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(xlabel)
    ax.grid(True, alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    handles, labels = handles + list(extra_handles), labels + [h.get_label() for h in extra_handles]
    if handles:
        ax.legend(handles, labels, loc="best", fontsize=8)
