"""The report's time axis: block numbers mapped to minutes since the start of the run.

:class:`Clock` converts blocks to minutes from the time series, :class:`Shock` is the scripted shock
window and :class:`TimeFrame` is what every time plot shares (the run's extent and the shaded shock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.report.format import as_int, get

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SHOCK_COLOR: Final = "#f4a6a6"
SHOCK_LINE_COLOR: Final = "#c0392b"


@dataclass(frozen=True)
class Clock:
    """Maps block numbers to minutes since the start of the run, using the time series."""

    blocks: np.ndarray  # strictly increasing
    seconds: np.ndarray  # time_s at those blocks
    block_time_s: float | None

    @classmethod
    def from_timeseries(cls, timeseries: pd.DataFrame | None, block_time_s: float | None) -> "Clock":
        """The clock of a run: the earliest ``time_s`` of each block in the time series."""
        if timeseries is None or timeseries.empty or not {"block", "time_s"} <= set(timeseries.columns):
            return cls(np.array([], dtype=float), np.array([], dtype=float), block_time_s)
        per_block = (
            timeseries[["block", "time_s"]].dropna().groupby("block", sort=True)["time_s"].min()
        )
        return cls(per_block.index.to_numpy(dtype=float), per_block.to_numpy(dtype=float), block_time_s)

    def minutes(self, blocks: Sequence[float] | np.ndarray) -> np.ndarray:
        """Minutes since start for each block (interpolated inside the run, extrapolated outside)."""
        b = np.asarray(blocks, dtype=float)
        if self.blocks.size == 0:
            origin = np.nanmin(b) if b.size and not np.all(np.isnan(b)) else 0.0
            return (b - origin) * (self.block_time_s or 0.0) / 60.0
        seconds = np.interp(b, self.blocks, self.seconds)
        slope = self.seconds_per_block()
        before, after = b < self.blocks[0], b > self.blocks[-1]
        seconds[before] = self.seconds[0] + (b[before] - self.blocks[0]) * slope
        seconds[after] = self.seconds[-1] + (b[after] - self.blocks[-1]) * slope
        return seconds / 60.0

    def minute(self, block: float) -> float:
        """Minutes since start of one block."""
        return float(self.minutes(np.array([block], dtype=float))[0])

    def end_minute(self) -> float | None:
        """Minutes from the first to the last observed block, or None without a time series."""
        return float(self.seconds[-1] / 60.0) if self.seconds.size else None

    def seconds_per_block(self) -> float:
        """Seconds per block used outside the observed range."""
        if self.block_time_s is not None:
            return self.block_time_s
        if self.blocks.size >= 2 and self.blocks[-1] > self.blocks[0]:
            return float((self.seconds[-1] - self.seconds[0]) / (self.blocks[-1] - self.blocks[0]))
        return 0.0


@dataclass(frozen=True)
class Shock:
    """The scripted shock window, in blocks and in minutes since start."""

    start_block: int
    end_block: int | None
    start_min: float
    end_min: float | None


@dataclass(frozen=True)
class TimeFrame:
    """What every time plot shares: the run's extent and the shock window."""

    end_min: float | None
    shock: Shock | None

    def prepare(self, ax: Axes) -> None:
        """Shade the shock and span the x axis over the whole run (even when nothing is drawn)."""
        shade_shock(ax, self.shock, self.end_min)
        if self.end_min is not None and self.end_min > 0:
            ax.set_xlim(0.0, self.end_min)


def shock_blocks(summary: Mapping[str, Any]) -> tuple[int | None, int | None]:
    """The summary's scripted shock as ``(start_block, end_block)``; either may be None."""
    return as_int(get(summary, "shock", "start_block")), as_int(get(summary, "shock", "end_block"))


def shock_window(summary: Mapping[str, Any], clock: Clock) -> Shock | None:
    """The summary's scripted shock on ``clock``'s time axis, or None if the run has no shock."""
    start, end = shock_blocks(summary)
    if start is None:
        return None
    return Shock(start, end, clock.minute(start), clock.minute(end) if end is not None else None)


def minutes_column(timeseries: pd.DataFrame) -> pd.Series:
    """The time series' ``time_s`` column in minutes."""
    return timeseries["time_s"].astype(float) / 60.0


def shade_shock(ax: Axes, shock: Shock | None, run_end_min: float | None) -> None:
    """Shade the scripted shock window, labelled for the legend.

    A shock without an end block is shaded to the end of the run; a window of zero width is drawn as a
    dashed line.
    """
    if shock is None:
        return
    end = shock.end_min if shock.end_min is not None else run_end_min
    if end is not None and end > shock.start_min:
        ax.axvspan(shock.start_min, end, color=SHOCK_COLOR, alpha=0.35, lw=0, label="scripted shock")
    else:
        ax.axvline(shock.start_min, color=SHOCK_LINE_COLOR, ls="--", lw=1.2, label="scripted shock")
