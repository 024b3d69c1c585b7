"""Static HTML report of one simulator run: PNG plots plus a self-contained ``report.html``.

``write_report`` takes the run's tidy tables (per block × asset time series, events, agents) and
its summary dict, and writes into one directory:

* ``prices.png`` — external, AMM, lending-oracle, perp mark and perp index prices per asset;
* ``liquidations.png`` — cumulative liquidated notional per (venue, side);
* ``insurance_adl.png`` — insurance fund and perp bad debt, with ADL notional per block;
* ``amm_depth.png`` — USD depth of each asset's pool;
* ``pnl_by_agent_type.png`` — summed PnL and start/end equity per agent type;
* ``report.html`` — headline figures, the plots with captions, and the 20 largest events.

The HTML needs no network, no JavaScript and no external stylesheet; it refers to the PNGs beside
it by file name, so the directory can be moved or archived as a whole. Every file is written to a
temporary name in the output directory first and then renamed over the target, so a reader never
sees a half-written file. Plots use matplotlib's object API with the Agg canvas: no pyplot, no
global figure state, safe in a headless process.
"""

from __future__ import annotations

import functools
import html
import io
import math
import pathlib
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter

from sim.files import write_atomic

__all__ = ["write_report", "REPORT_FILE", "PLOT_FILES"]

REPORT_FILE = "report.html"
PRICES_PNG = "prices.png"
LIQUIDATIONS_PNG = "liquidations.png"
INSURANCE_PNG = "insurance_adl.png"
DEPTH_PNG = "amm_depth.png"
PNL_PNG = "pnl_by_agent_type.png"
PLOT_FILES: tuple[str, ...] = (PRICES_PNG, LIQUIDATIONS_PNG, INSURANCE_PNG, DEPTH_PNG, PNL_PNG)

LIQUIDATION_KINDS = ("lending_liquidation", "perp_liquidation")
ADL_KIND = "adl_fill"
TOP_EVENTS = 20
DASH = "—"

PRICE_SERIES: tuple[tuple[str, str], ...] = (
    ("external_price_usd", "external (reference market)"),
    ("amm_price_usd", "AMM spot"),
    ("oracle_price_usd", "lending oracle"),
    ("mark_price_usd", "perp mark"),
    ("index_price_usd", "perp index"),
)

_DPI = 110
_WIDTH_IN = 10.0
_SHOCK_COLOR = "#f4a6a6"


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def write_report(
    out_dir: pathlib.Path,
    timeseries: pd.DataFrame,
    events: pd.DataFrame,
    agents: pd.DataFrame,
    summary: dict,
) -> pathlib.Path:
    """Write PNG plots and report.html into out_dir; return the path of report.html."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summary or {}
    clock = _Clock.from_timeseries(timeseries, _as_float(summary.get("block_time_s")))
    frame = _TimeFrame(clock.end_minute(), _shock_minutes(summary, clock))

    figures: dict[str, Figure] = {
        PRICES_PNG: _prices_figure(timeseries, frame),
        LIQUIDATIONS_PNG: _liquidations_figure(events, clock, frame),
        INSURANCE_PNG: _insurance_adl_figure(timeseries, events, clock, frame),
        DEPTH_PNG: _amm_depth_figure(timeseries, frame),
        PNL_PNG: _pnl_figure(agents),
    }
    for name, fig in figures.items():
        write_atomic(out_dir / name, _render_png(fig))

    page = _html_page(summary, events, agents, clock)
    report_path = out_dir / REPORT_FILE
    write_atomic(report_path, page.encode("utf-8"))
    return report_path


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------


def _render_png(fig: Figure) -> bytes:
    """PNG bytes of ``fig``; the figure is released afterwards."""
    buf = io.BytesIO()
    try:
        FigureCanvasAgg(fig).print_png(buf)
    finally:
        fig.clear()
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# time axis: blocks -> minutes since run start
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clock:
    """Maps block numbers to minutes since the start of the run, using the time series."""

    blocks: np.ndarray  # strictly increasing
    seconds: np.ndarray  # time_s at those blocks
    block_time_s: float | None

    @classmethod
    def from_timeseries(cls, timeseries: pd.DataFrame, block_time_s: float | None) -> "_Clock":
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
class _Shock:
    """The scripted shock window, in blocks and in minutes since start."""

    start_block: int
    end_block: int | None
    start_min: float
    end_min: float | None


@dataclass(frozen=True)
class _TimeFrame:
    """What every time plot shares: the run's extent and the shock window."""

    end_min: float | None
    shock: _Shock | None

    def prepare(self, ax: Axes) -> None:
        """Shade the shock and span the x axis over the whole run (even when nothing is drawn)."""
        _shade_shock(ax, self.shock, self.end_min)
        if self.end_min is not None and self.end_min > 0:
            ax.set_xlim(0.0, self.end_min)


def _shock_minutes(summary: Mapping[str, Any], clock: _Clock) -> _Shock | None:
    start = _as_int(_get(summary, "shock", "start_block"))
    end = _as_int(_get(summary, "shock", "end_block"))
    if start is None:
        return None
    return _Shock(start, end, clock.minute(start), clock.minute(end) if end is not None else None)


def _minutes_column(timeseries: pd.DataFrame) -> pd.Series:
    return timeseries["time_s"].astype(float) / 60.0


# --------------------------------------------------------------------------------------------
# plot helpers
# --------------------------------------------------------------------------------------------


def _new_figure(n_rows: int = 1, n_cols: int = 1, row_height_in: float = 3.4) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(_WIDTH_IN, max(row_height_in * n_rows, 2.5)), dpi=_DPI, layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    return fig, axes


def _shade_shock(ax: Axes, shock: _Shock | None, run_end_min: float | None) -> None:
    """Shade the scripted shock window, labelled for the legend.

    A shock without an end block is shaded to the end of the run; a window of zero width is drawn as a
    dashed line.
    """
    if shock is None:
        return
    end = shock.end_min if shock.end_min is not None else run_end_min
    if end is not None and end > shock.start_min:
        ax.axvspan(shock.start_min, end, color=_SHOCK_COLOR, alpha=0.35, lw=0, label="scripted shock")
    else:
        ax.axvline(shock.start_min, color="#c0392b", ls="--", lw=1.2, label="scripted shock")


def _empty_axis(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, fontsize=12, color="#666")


def _usd_axis(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _usd_compact(v)))


def _price_axis(ax: Axes) -> None:
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _price_tick(v)))


def _finish_axis(
    ax: Axes, title: str, ylabel: str, xlabel: str = "minutes since start", extra_handles: Sequence[Any] = ()
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


def _has_values(series: pd.Series | None) -> bool:
    return series is not None and bool(series.notna().any())


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as floats, or all-NaN if the frame lacks it."""
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce")
    return pd.Series(np.nan, index=frame.index, dtype=float)


# --------------------------------------------------------------------------------------------
# 1. prices
# --------------------------------------------------------------------------------------------


def _plotted_assets(timeseries: pd.DataFrame) -> list[str]:
    """Assets worth a price panel: any venue price, or an external price that ever leaves 1.0."""
    if timeseries is None or timeseries.empty or "asset" not in timeseries.columns:
        return []
    assets: list[str] = []
    for asset, rows in timeseries.groupby("asset", sort=True):
        external = _column(rows, "external_price_usd").dropna()
        venue_prices = any(_has_values(_column(rows, c)) for c in ("amm_price_usd", "mark_price_usd"))
        if venue_prices or (not external.empty and not (external == 1.0).all()):
            assets.append(str(asset))
    return assets


def _prices_figure(timeseries: pd.DataFrame, frame: _TimeFrame) -> Figure:
    assets = _plotted_assets(timeseries)
    fig, axes = _new_figure(max(len(assets), 1), 1, row_height_in=3.0)
    if not assets:
        frame.prepare(axes[0, 0])
        _empty_axis(axes[0, 0], "no non-stable assets")
        _finish_axis(axes[0, 0], "Prices", "price (USD)")
        return fig
    fig.suptitle("Prices by venue (USD)")
    for ax, asset in zip(axes[:, 0], assets):
        _plot_asset_prices(ax, timeseries[timeseries["asset"] == asset].sort_values("time_s"), asset, frame)
    return fig


def _plot_asset_prices(ax: Axes, rows: pd.DataFrame, asset: str, frame: _TimeFrame) -> None:
    frame.prepare(ax)
    minutes = _minutes_column(rows)
    for column, label in PRICE_SERIES:
        values = _column(rows, column)
        if _has_values(values):
            style = {"lw": 2.2, "color": "black", "alpha": 0.6} if column == "external_price_usd" else {"lw": 1.3}
            ax.plot(minutes, values, label=label, **style)
    _price_axis(ax)
    _finish_axis(ax, asset, f"{asset} price (USD)")


# --------------------------------------------------------------------------------------------
# 2. liquidations
# --------------------------------------------------------------------------------------------


def _events_of(events: pd.DataFrame | None, kinds: Sequence[str]) -> pd.DataFrame:
    """The events whose ``kind`` is one of ``kinds`` (an empty frame if there are none)."""
    if events is None or events.empty or "kind" not in events.columns:
        return pd.DataFrame()
    return events[events["kind"].isin(kinds)]


def _liquidations_figure(events: pd.DataFrame, clock: _Clock, frame: _TimeFrame) -> Figure:
    fig, axes = _new_figure()
    ax = axes[0, 0]
    frame.prepare(ax)
    liquidations = _events_of(events, LIQUIDATION_KINDS)
    if liquidations.empty:
        _empty_axis(ax, "no liquidations")
    else:
        _plot_cumulative_liquidations(ax, liquidations, clock)
    _usd_axis(ax)
    _finish_axis(ax, "Cumulative liquidated notional by venue and side", "liquidated notional (USD, cumulative)")
    return fig


def _plot_cumulative_liquidations(ax: Axes, liquidations: pd.DataFrame, clock: _Clock) -> None:
    frame = liquidations.assign(
        minute=clock.minutes(_column(liquidations, "block").to_numpy(dtype=float)),
        notional=_column(liquidations, "notional_usd").fillna(0.0),
        venue=liquidations.get("venue", pd.Series("?", index=liquidations.index)).fillna("?").astype(str),
        side=liquidations.get("side", pd.Series("?", index=liquidations.index)).fillna("?").astype(str),
    )
    end = clock.end_minute()
    for (venue, side), group in frame.groupby(["venue", "side"], sort=True):
        per_minute = group.groupby("minute", sort=True)["notional"].sum().cumsum()
        x = np.concatenate(([0.0], per_minute.index.to_numpy(dtype=float)))
        y = np.concatenate(([0.0], per_minute.to_numpy(dtype=float)))
        if end is not None and end > x[-1]:
            x, y = np.append(x, end), np.append(y, y[-1])
        ax.step(x, y, where="post", lw=1.8, label=f"{venue} {side}")


# --------------------------------------------------------------------------------------------
# 3. insurance fund, perp bad debt, ADL
# --------------------------------------------------------------------------------------------


def _per_block_exchange_series(timeseries: pd.DataFrame) -> pd.DataFrame:
    """One row per block: minutes, insurance fund and perp bad debt (repeated per asset row)."""
    if timeseries is None or timeseries.empty:
        return pd.DataFrame(columns=["minute", "insurance_fund_usd", "perp_bad_debt_usd"])
    frame = pd.DataFrame(
        {
            "block": timeseries["block"],
            "minute": _minutes_column(timeseries),
            "insurance_fund_usd": _column(timeseries, "insurance_fund_usd"),
            "perp_bad_debt_usd": _column(timeseries, "perp_bad_debt_usd"),
        }
    )
    return frame.groupby("block", sort=True).first().reset_index()


def _insurance_adl_figure(
    timeseries: pd.DataFrame, events: pd.DataFrame, clock: _Clock, frame: _TimeFrame
) -> Figure:
    fig, axes = _new_figure(row_height_in=3.8)
    ax = axes[0, 0]
    frame.prepare(ax)
    exchange = _per_block_exchange_series(timeseries)
    plotted = False
    for column, label, color in (
        ("insurance_fund_usd", "insurance fund", "#1f77b4"),
        ("perp_bad_debt_usd", "perp bad debt (cumulative)", "#d62728"),
    ):
        if _has_values(exchange[column]):
            ax.plot(exchange["minute"], exchange[column], lw=1.8, color=color, label=label)
            plotted = True
    if not plotted:
        _empty_axis(ax, "no perp exchange in this run")
    _usd_axis(ax)
    adl_handles = _plot_adl_bars(ax, _events_of(events, [ADL_KIND]), clock)
    _finish_axis(ax, "Perp insurance fund, bad debt and auto-deleveraging (ADL)", "USD", extra_handles=adl_handles)
    return fig


def _plot_adl_bars(ax: Axes, adl: pd.DataFrame, clock: _Clock) -> list[Any]:
    """ADL notional per block as bars on a secondary axis; returns handles for the main legend."""
    if adl.empty:
        return [Line2D([], [], ls="none", label="no ADL fills in this run")]
    per_block = adl.assign(notional=_column(adl, "notional_usd").fillna(0.0)).groupby("block", sort=True)[
        "notional"
    ].sum()
    minutes = clock.minutes(per_block.index.to_numpy(dtype=float))
    twin = ax.twinx()
    ax.set_zorder(twin.get_zorder() + 1)  # keep the fund and bad-debt lines above the bars
    ax.patch.set_visible(False)
    bars = twin.bar(minutes, per_block.to_numpy(dtype=float), width=_bar_width(minutes, clock), color="#ff7f0e",
                    alpha=0.7, label="ADL notional per block (right axis)")
    twin.set_ylabel("ADL notional per block (USD)")
    _usd_axis(twin)
    return [bars]


def _bar_width(minutes: np.ndarray, clock: _Clock) -> float:
    """A visible bar width in minutes: one block, but at least 0.5 % of the plotted span."""
    block_min = (clock.seconds_per_block() or 12.0) / 60.0
    span_values = np.concatenate((minutes, clock.seconds / 60.0)) if clock.seconds.size else minutes
    span = float(np.nanmax(span_values) - np.nanmin(span_values)) if span_values.size else 0.0
    return max(block_min, span * 0.005, 1e-3)


# --------------------------------------------------------------------------------------------
# 4. AMM depth
# --------------------------------------------------------------------------------------------


def _amm_depth_figure(timeseries: pd.DataFrame, frame: _TimeFrame) -> Figure:
    fig, axes = _new_figure()
    ax = axes[0, 0]
    frame.prepare(ax)
    plotted = False
    if timeseries is not None and not timeseries.empty and "pool_depth_usd" in timeseries.columns:
        for asset, rows in timeseries.sort_values("time_s").groupby("asset", sort=True):
            depth = _column(rows, "pool_depth_usd")
            if _has_values(depth):
                ax.plot(_minutes_column(rows), depth, lw=1.8, label=f"{asset} pool")
                plotted = True
    if plotted:
        ax.set_ylim(bottom=0.0)  # depth is read against zero, not against its own range
    else:
        _empty_axis(ax, "no AMM pools")
    _usd_axis(ax)
    _finish_axis(ax, "AMM pool depth (stablecoin side)", "depth (USD)")
    return fig


# --------------------------------------------------------------------------------------------
# 5. PnL by agent type
# --------------------------------------------------------------------------------------------


def _agent_type_totals(agents: pd.DataFrame) -> pd.DataFrame:
    """Per agent type: number of agents and summed start equity, end equity and PnL."""
    if agents is None or agents.empty or "agent_type" not in agents.columns:
        return pd.DataFrame(columns=["n", "start_equity_usd", "end_equity_usd", "pnl_usd"])
    frame = pd.DataFrame(
        {
            "agent_type": agents["agent_type"].fillna("unknown").astype(str),
            "start_equity_usd": _column(agents, "start_equity_usd"),
            "end_equity_usd": _column(agents, "end_equity_usd"),
            "pnl_usd": _column(agents, "pnl_usd"),
        }
    )
    grouped = frame.groupby("agent_type", sort=True)
    totals = grouped[["start_equity_usd", "end_equity_usd", "pnl_usd"]].sum(min_count=1)
    totals.insert(0, "n", grouped.size())
    return totals.sort_values("pnl_usd", na_position="last")


def _pnl_figure(agents: pd.DataFrame) -> Figure:
    fig, axes = _new_figure(1, 2, row_height_in=4.2)
    pnl_ax, equity_ax = axes[0, 0], axes[0, 1]
    totals = _agent_type_totals(agents)
    if totals.empty:
        for ax in (pnl_ax, equity_ax):
            _empty_axis(ax, "no agents")
    else:
        labels = [f"{name}\n(n={n})" for name, n in zip(totals.index, totals["n"])]
        _pnl_bars(pnl_ax, labels, totals["pnl_usd"].fillna(0.0).to_numpy(dtype=float))
        _equity_bars(equity_ax, labels, totals)
    _usd_axis(pnl_ax)
    _usd_axis(equity_ax)
    _finish_axis(pnl_ax, "PnL summed by agent type", "PnL (USD)", xlabel="agent type")
    _finish_axis(equity_ax, "Equity at start vs end, by agent type", "equity (USD)", xlabel="agent type")
    return fig


def _pnl_bars(ax: Axes, labels: list[str], pnl: np.ndarray) -> None:
    colors = ["#2ca02c" if v >= 0 else "#d62728" for v in pnl]
    ax.bar(labels, pnl, color=colors)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.tick_params(axis="x", labelsize=8)


def _equity_bars(ax: Axes, labels: list[str], totals: pd.DataFrame) -> None:
    x = np.arange(len(labels))
    width = 0.4
    ax.bar(x - width / 2, totals["start_equity_usd"].fillna(0.0), width, label="start equity", color="#9ecae1")
    ax.bar(x + width / 2, totals["end_equity_usd"].fillna(0.0), width, label="end equity", color="#3182bd")
    ax.set_xticks(x, labels)
    ax.tick_params(axis="x", labelsize=8)


# --------------------------------------------------------------------------------------------
# number formatting
# --------------------------------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _as_float(value: Any) -> float | None:
    if _is_missing(value):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _as_int(value: Any) -> int | None:
    number = _as_float(value)
    return int(number) if number is not None else None


def _fmt_usd(value: Any) -> str:
    """``$1,234,567`` (cents below $100), ``-$1,234`` for losses, ``—`` when missing."""
    number = _as_float(value)
    if number is None:
        return DASH
    decimals = 2 if 0 < abs(number) < 100 else 0
    sign = "-" if number < 0 and round(abs(number), decimals) != 0 else ""
    return f"{sign}${abs(number):,.{decimals}f}"


def _fmt_pct(value: Any) -> str:
    """A fraction as a percentage with one decimal: ``0.1234`` → ``12.3%``."""
    number = _as_float(value)
    return DASH if number is None else f"{number * 100:,.1f}%"


def _fmt_int(value: Any) -> str:
    number = _as_int(value)
    return DASH if number is None else f"{number:,}"


def _fmt_float(value: Any, decimals: int = 2, suffix: str = "") -> str:
    number = _as_float(value)
    return DASH if number is None else f"{number:,.{decimals}f}{suffix}"


def _fmt_text(value: Any) -> str:
    return DASH if _is_missing(value) or value == "" else str(value)


def _usd_compact(value: float) -> str:
    """Axis tick label: $950, $12.5k, $3.2M, $1.1B."""
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            return f"{sign}${magnitude / threshold:,.3g}{suffix}"
    return f"{sign}${magnitude:,.3g}"


def _price_tick(value: float) -> str:
    return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.4g}"


def _get(mapping: Any, *keys: str) -> Any:
    """``mapping[k1][k2]…`` or None if any level is missing or not a mapping."""
    current = mapping
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.4em; }
code { font-size: 0.9em; }
.muted { color: #666; }
"""

_Row = tuple[str, str]


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_page(summary: Mapping[str, Any], events: pd.DataFrame, agents: pd.DataFrame, clock: _Clock) -> str:
    scenario = _fmt_text(summary.get("scenario"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>Liquidation-cascade run: {_e(scenario)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Liquidation-cascade run: {_e(scenario)}</h1>",
        _intro_html(summary, agents),
        "<h2>Headline figures</h2>",
        _table_html(("figure", "value"), _headline_rows(summary), numeric_columns={1}),
        "<h3>Price drawdowns and cascade amplification by asset</h3>",
        _asset_table_html(summary),
        "<h2>Plots</h2>",
        _figures_html(summary),
        f"<h2>Largest events (top {TOP_EVENTS} by notional)</h2>",
        _events_table_html(events, clock),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def _intro_html(summary: Mapping[str, Any], agents: pd.DataFrame) -> str:
    scenario = _fmt_text(summary.get("scenario"))
    text = (
        f"This report describes one run of the DeFi liquidation-cascade simulator, scenario "
        f"“{scenario}” (seed {_fmt_text(summary.get('seed'))}). {_agents_sentence(agents)} "
        f"They trade against Solidity contracts on a local chain — a constant-product AMM, Chainlink-style "
        f"oracles, a lending pool and a perp exchange with an insurance fund and auto-deleveraging (ADL) — "
        f"for {_fmt_int(summary.get('blocks'))} blocks of {_fmt_float(summary.get('block_time_s'), 0, ' s')} "
        f"each, {_fmt_int(summary.get('tx_count'))} transactions in all. {_shock_sentence(summary)} "
        f"Every figure below comes from the simulated chain; none is market data."
    )
    return f"<p>{_e(text)}</p>"


def _agents_sentence(agents: pd.DataFrame | None) -> str:
    totals = _agent_type_totals(agents)
    if totals.empty:
        return "No agent table was supplied."
    kinds = ", ".join(f"{n:,} {name}" for name, n in totals["n"].sort_values(ascending=False).items())
    return f"{int(totals['n'].sum()):,} Python agents take part ({kinds})."


def _shock_sentence(summary: Mapping[str, Any]) -> str:
    start = _as_int(_get(summary, "shock", "start_block"))
    end = _as_int(_get(summary, "shock", "end_block"))
    if start is None:
        return "This scenario has no scripted price shock."
    if end is None:
        return f"The scripted price shock starts at block {start:,} (shaded in the plots)."
    return f"The scripted price shock runs from block {start:,} to block {end:,} (shaded in the plots)."


def _headline_rows(summary: Mapping[str, Any]) -> list[_Row]:
    g = functools.partial(_get, summary)
    rows: list[_Row] = [
        ("Scenario", _fmt_text(g("scenario"))),
        ("Seed", _fmt_text(g("seed"))),
        ("Blocks", _fmt_int(g("blocks"))),
        ("Block time", _fmt_float(g("block_time_s"), 0, " s")),
        ("Transactions", _fmt_int(g("tx_count"))),
        ("Wall-clock time of the run", _fmt_float(g("wall_s"), 1, " s")),
        ("Scripted shock (blocks)", _block_range(g("shock", "start_block"), g("shock", "end_block"))),
        ("Liquidated notional — lending", _fmt_usd(g("liquidations_usd", "lending"))),
        ("Liquidated notional — perp", _fmt_usd(g("liquidations_usd", "perp"))),
        ("Liquidated notional — total", _fmt_usd(g("liquidations_usd", "total"))),
        ("Liquidations — lending (count)", _fmt_int(g("liquidation_count", "lending"))),
        ("Liquidations — perp (count)", _fmt_int(g("liquidation_count", "perp"))),
        ("Share of perp liquidations that were longs", _fmt_pct(g("perp_liquidations_long_share"))),
        ("Bad debt — lending deficit", _fmt_usd(g("bad_debt_usd", "lending_deficit"))),
        ("Bad debt — perp, not covered by insurance", _fmt_usd(g("bad_debt_usd", "perp_uncovered"))),
        ("Insurance fund — start", _fmt_usd(g("insurance_fund_usd", "start"))),
        ("Insurance fund — minimum", _fmt_usd(g("insurance_fund_usd", "min"))),
        ("Insurance fund — end", _fmt_usd(g("insurance_fund_usd", "end"))),
        ("Insurance fund exhausted at block", _fmt_int(g("insurance_fund_exhausted_block"))),
        ("ADL fills (count)", _fmt_int(g("adl", "events"))),
        ("ADL notional", _fmt_usd(g("adl", "notional_usd"))),
        ("First ADL at block", _fmt_int(g("adl", "first_block"))),
        ("Market makers — PnL", _fmt_usd(g("market_makers", "pnl_usd"))),
        ("Market makers — net delta before the shock", _fmt_usd(g("market_makers", "net_delta_usd_before_shock"))),
        ("Market makers — largest net delta after the first ADL", _fmt_usd(g("market_makers", "net_delta_usd_max_after_adl"))),
        ("Market makers — net delta at the end", _fmt_usd(g("market_makers", "net_delta_usd_end"))),
        ("Whales — PnL", _fmt_usd(g("whales", "pnl_usd"))),
        ("Liquidators — PnL", _fmt_usd(g("liquidators", "pnl_usd"))),
    ]
    return rows + _pool_depth_rows(g("amm_depth_usd"))


def _block_range(start: Any, end: Any) -> str:
    if _as_int(start) is None and _as_int(end) is None:
        return DASH
    return f"{_fmt_int(start)} – {_fmt_int(end)}"


def _pool_depth_rows(depths: Any) -> list[_Row]:
    if not isinstance(depths, Mapping):
        return []
    rows: list[_Row] = []
    for pool in sorted(depths, key=str):
        start, low = _get(depths, pool, "start"), _get(depths, pool, "min")
        ratio = _ratio(low, start)
        share = f" ({_fmt_pct(ratio)} of start)" if ratio is not None else ""
        rows.append((f"AMM depth {pool} — start → minimum", f"{_fmt_usd(start)} → {_fmt_usd(low)}{share}"))
    return rows


def _ratio(numerator: Any, denominator: Any) -> float | None:
    num, den = _as_float(numerator), _as_float(denominator)
    if num is None or den is None or den == 0:
        return None
    return num / den


def _asset_table_html(summary: Mapping[str, Any]) -> str:
    drawdown = summary.get("drawdown") if isinstance(summary.get("drawdown"), Mapping) else {}
    amplification = (
        summary.get("cascade_amplification") if isinstance(summary.get("cascade_amplification"), Mapping) else {}
    )
    assets = sorted(set(drawdown) | set(amplification), key=str)
    if not assets:
        return '<p class="muted">No per-asset drawdowns in the summary.</p>'
    rows = [
        (
            str(asset),
            _fmt_pct(_get(drawdown, asset, "external")),
            _fmt_pct(_get(drawdown, asset, "amm")),
            _fmt_pct(_get(drawdown, asset, "oracle")),
            _fmt_pct(_get(drawdown, asset, "mark")),
            _fmt_float(amplification.get(asset), 2, "×"),
        )
        for asset in assets
    ]
    header = ("asset", "drawdown: external", "drawdown: AMM", "drawdown: lending oracle", "drawdown: perp mark",
              "cascade amplification")
    note = (
        "Drawdown: the largest fall of each price series during the run, as a share of its earlier peak. "
        "Cascade amplification: the AMM's drawdown divided by the external market's drawdown; above 1, liquidation selling pushed the on-chain price further than the outside market fell."
    )
    return _table_html(header, rows, numeric_columns={1, 2, 3, 4, 5}) + f'\n<p class="muted">{_e(note)}</p>'


# (file, short title, how to read it, whether the plot has a time axis with the shock shaded)
_CAPTIONS: tuple[tuple[str, str, str, bool], ...] = (
    (PRICES_PNG, "Prices by venue",
     "One panel per traded asset: the black line is the external reference price the scenario scripts; "
     "the other lines show where the AMM, the lending oracle and the perp mark/index traded, so a gap "
     "below the black line is price impact from forced selling.", True),
    (LIQUIDATIONS_PNG, "Cumulative liquidations",
     "Each line adds up the USD notional liquidated so far on one venue and side; a steep step is a burst "
     "of liquidations in a few blocks, the signature of a cascade.", True),
    (INSURANCE_PNG, "Insurance fund and ADL",
     "The blue line is the perp exchange's insurance fund and the red line its cumulative bad debt (left "
     "axis); orange bars (right axis) are the notional closed by auto-deleveraging in each block, which "
     "starts once the fund can no longer absorb losses.", True),
    (DEPTH_PNG, "AMM depth",
     "USD value of the stablecoin side of each asset's pool; a falling line means liquidity was drained "
     "or withdrawn, making each further sale move the price more.", True),
    (PNL_PNG, "PnL by agent type",
     "Left: profit or loss summed over all agents of each type (green gain, red loss; n is the number of "
     "agents). Right: their combined equity at the start and at the end of the run.", False),
)


def _figures_html(summary: Mapping[str, Any]) -> str:
    has_shock = _as_int(_get(summary, "shock", "start_block")) is not None
    blocks = []
    for file_name, alt, caption, timed in _CAPTIONS:
        shaded = " The shaded band (or dashed line) marks the scripted shock." if has_shock and timed else ""
        blocks.append(
            "<figure>"
            f'<img src="{_e(file_name)}" alt="{_e(alt)}">'
            f"<figcaption><strong>{_e(alt)}.</strong> {_e(caption + shaded)} "
            f'(<code>{_e(file_name)}</code>)</figcaption>'
            "</figure>"
        )
    return "\n".join(blocks)


_EVENT_COLUMNS: tuple[tuple[str, str, Callable[[Any], str], bool], ...] = (
    ("block", "block", _fmt_int, True),
    ("minute", "minute", lambda v: _fmt_float(v, 1), True),
    ("kind", "kind", _fmt_text, False),
    ("venue", "venue", _fmt_text, False),
    ("asset", "asset", _fmt_text, False),
    ("side", "side", _fmt_text, False),
    ("notional_usd", "notional (USD)", _fmt_usd, True),
    ("size", "size (base units)", lambda v: _fmt_float(v, 4), True),
    ("agent", "account (agent)", _fmt_text, False),
    ("counterparty_label", "counterparty", _fmt_text, False),
    ("tx_hash", "tx", lambda v: _short_address(v), False),
)


def _top_events(events: pd.DataFrame, clock: _Clock, n: int = TOP_EVENTS) -> pd.DataFrame:
    """The ``n`` largest events by notional, with display columns added."""
    if events is None or events.empty:
        return pd.DataFrame()
    frame = events.assign(_notional=_column(events, "notional_usd"))
    sort_cols = ["_notional"] + [c for c in ("block", "log_index") if c in frame.columns]
    top = frame.sort_values(sort_cols, ascending=[False] + [True] * (len(sort_cols) - 1), na_position="last",
                            kind="mergesort").head(n)
    blocks = _column(top, "block").to_numpy(dtype=float)
    return top.assign(
        minute=clock.minutes(blocks),
        agent=[_agent_label(r) for r in top.to_dict("records")],
        counterparty_label=[_counterparty_label(r) for r in top.to_dict("records")],
    )


def _present(value: Any) -> bool:
    return not _is_missing(value) and value != ""


def _with_type(label: str, kind: Any) -> str:
    return f"{label} ({kind})" if _present(kind) else label


def _agent_label(row: Mapping[str, Any]) -> str:
    """``agent_id (agent_type)``, or the shortened account address when there is no agent id."""
    who = str(row["agent_id"]) if _present(row.get("agent_id")) else _short_address(row.get("account"))
    return _with_type(who, row.get("agent_type"))


def _counterparty_label(row: Mapping[str, Any]) -> str:
    address = row.get("counterparty")
    return _with_type(_short_address(address), row.get("counterparty_type")) if _present(address) else DASH


def _short_address(value: Any) -> str:
    """``0x1234…abcd`` for an address or hash; other text unchanged."""
    text = _fmt_text(value)
    return f"{text[:6]}…{text[-4:]}" if text.startswith("0x") and len(text) > 14 else text


def _events_table_html(events: pd.DataFrame, clock: _Clock) -> str:
    top = _top_events(events, clock)
    if top.empty:
        return '<p class="muted">No events were recorded in this run.</p>'
    header = tuple(title for _key, title, _fmt, _num in _EVENT_COLUMNS)
    numeric = {i for i, (_k, _t, _f, num) in enumerate(_EVENT_COLUMNS) if num}
    rows = [
        tuple(fmt(record.get(key)) for key, _title, fmt, _num in _EVENT_COLUMNS)
        for record in top.to_dict("records")
    ]
    return _table_html(header, rows, numeric_columns=numeric)


def _table_html(header: Sequence[str], rows: Sequence[Sequence[str]], numeric_columns: set[int] | None = None) -> str:
    numeric_columns = numeric_columns or set()
    head = "".join(f"<th>{_e(title)}</th>" for title in header)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(cell)}</td>' if i in numeric_columns else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
