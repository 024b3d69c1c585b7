"""The report's five figures, one builder per PNG: prices, liquidations, insurance fund and ADL,
AMM depth, and PnL by agent type.

Each builder takes the run's tables and returns a :class:`~matplotlib.figure.Figure`; an empty or
missing table gives a figure with a message instead of a plot. :func:`build_figures` maps each PNG
file name to its figure.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.record.schema import EventKind
from sim.report.axes import empty_axis, finish_axis, new_figure, price_axis, usd_axis
from sim.report.filenames import DEPTH_PNG, INSURANCE_PNG, LIQUIDATIONS_PNG, PNL_PNG, PRICES_PNG
from sim.report.frames import agent_type_totals, column, events_of, has_values
from sim.report.timeline import Clock, TimeFrame, minutes_column

PRICE_SERIES: Final[tuple[tuple[str, str], ...]] = (
    ("external_price_usd", "external (reference market)"),
    ("amm_price_usd", "AMM spot"),
    ("oracle_price_usd", "lending oracle"),
    ("mark_price_usd", "perp mark"),
    ("index_price_usd", "perp index"),
)
DEFAULT_BLOCK_TIME_S: Final = 12.0  # bar width when the run's block time is unknown


def build_figures(
    timeseries: pd.DataFrame, events: pd.DataFrame, agents: pd.DataFrame, clock: Clock, frame: TimeFrame
) -> dict[str, Figure]:
    """Every figure of the report, keyed by its PNG file name (in :data:`PLOT_FILES` order)."""
    return {
        PRICES_PNG: prices_figure(timeseries, frame),
        LIQUIDATIONS_PNG: liquidations_figure(events, clock, frame),
        INSURANCE_PNG: insurance_adl_figure(timeseries, events, clock, frame),
        DEPTH_PNG: amm_depth_figure(timeseries, frame),
        PNL_PNG: pnl_figure(agents),
    }


# --------------------------------------------------------------------------------------------
# 1. prices
# --------------------------------------------------------------------------------------------


def _plotted_assets(timeseries: pd.DataFrame | None) -> list[str]:
    """Assets worth a price panel: any venue price, or an external price that ever leaves 1.0."""
    if timeseries is None or timeseries.empty or "asset" not in timeseries.columns:
        return []
    assets: list[str] = []
    for asset, rows in timeseries.groupby("asset", sort=True):
        external = column(rows, "external_price_usd").dropna()
        venue_prices = any(has_values(column(rows, c)) for c in ("amm_price_usd", "mark_price_usd"))
        if venue_prices or (not external.empty and not (external == 1.0).all()):
            assets.append(str(asset))
    return assets


def prices_figure(timeseries: pd.DataFrame, frame: TimeFrame) -> Figure:
    """One panel per non-stable asset with its external, AMM, oracle, mark and index prices."""
    assets = _plotted_assets(timeseries)
    fig, axes = new_figure(max(len(assets), 1), 1, row_height_in=3.0)
    if not assets:
        frame.prepare(axes[0, 0])
        empty_axis(axes[0, 0], "no non-stable assets")
        finish_axis(axes[0, 0], "Prices", "price (USD)")
        return fig
    fig.suptitle("Prices by venue (USD)")
    for ax, asset in zip(axes[:, 0], assets):
        _plot_asset_prices(ax, timeseries[timeseries["asset"] == asset].sort_values("time_s"), asset, frame)
    return fig


def _plot_asset_prices(ax: Axes, rows: pd.DataFrame, asset: str, frame: TimeFrame) -> None:
    frame.prepare(ax)
    minutes = minutes_column(rows)
    for column_name, label in PRICE_SERIES:
        values = column(rows, column_name)
        if has_values(values):
            is_reference = column_name == "external_price_usd"
            style = {"lw": 2.2, "color": "black", "alpha": 0.6} if is_reference else {"lw": 1.3}
            ax.plot(minutes, values, label=label, **style)
    price_axis(ax)
    finish_axis(ax, asset, f"{asset} price (USD)")


# --------------------------------------------------------------------------------------------
# 2. liquidations
# --------------------------------------------------------------------------------------------


def liquidations_figure(events: pd.DataFrame, clock: Clock, frame: TimeFrame) -> Figure:
    """Cumulative liquidated notional over time, one step line per (venue, side)."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    frame.prepare(ax)
    liquidations = events_of(events, EventKind.LIQUIDATIONS)
    if liquidations.empty:
        empty_axis(ax, "no liquidations")
    else:
        _plot_cumulative_liquidations(ax, liquidations, clock)
    usd_axis(ax)
    finish_axis(ax, "Cumulative liquidated notional by venue and side", "liquidated notional (USD, cumulative)")
    return fig


def _text_column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as text with missing values shown as ``?`` (all ``?`` if the frame lacks it)."""
    return frame.get(name, pd.Series("?", index=frame.index)).fillna("?").astype(str)


def _plot_cumulative_liquidations(ax: Axes, liquidations: pd.DataFrame, clock: Clock) -> None:
    frame = liquidations.assign(
        minute=clock.minutes(column(liquidations, "block").to_numpy(dtype=float)),
        notional=column(liquidations, "notional_usd").fillna(0.0),
        venue=_text_column(liquidations, "venue"),
        side=_text_column(liquidations, "side"),
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

_EXCHANGE_SERIES: Final[tuple[tuple[str, str, str], ...]] = (
    ("insurance_fund_usd", "insurance fund", "#1f77b4"),
    ("perp_bad_debt_usd", "perp bad debt (cumulative)", "#d62728"),
)


def _per_block_exchange_series(timeseries: pd.DataFrame | None) -> pd.DataFrame:
    """One row per block: minutes, insurance fund and perp bad debt (repeated per asset row)."""
    if timeseries is None or timeseries.empty:
        return pd.DataFrame(columns=["minute", "insurance_fund_usd", "perp_bad_debt_usd"])
    frame = pd.DataFrame(
        {
            "block": timeseries["block"],
            "minute": minutes_column(timeseries),
            "insurance_fund_usd": column(timeseries, "insurance_fund_usd"),
            "perp_bad_debt_usd": column(timeseries, "perp_bad_debt_usd"),
        }
    )
    return frame.groupby("block", sort=True).first().reset_index()


def insurance_adl_figure(timeseries: pd.DataFrame, events: pd.DataFrame, clock: Clock, frame: TimeFrame) -> Figure:
    """The perp insurance fund and bad debt as lines, ADL notional per block as bars."""
    fig, axes = new_figure(row_height_in=3.8)
    ax = axes[0, 0]
    frame.prepare(ax)
    exchange = _per_block_exchange_series(timeseries)
    plotted = False
    for column_name, label, color in _EXCHANGE_SERIES:
        if has_values(exchange[column_name]):
            ax.plot(exchange["minute"], exchange[column_name], lw=1.8, color=color, label=label)
            plotted = True
    if not plotted:
        empty_axis(ax, "no perp exchange in this run")
    usd_axis(ax)
    adl_handles = _plot_adl_bars(ax, events_of(events, (EventKind.ADL_FILL,)), clock)
    finish_axis(ax, "Perp insurance fund, bad debt and auto-deleveraging (ADL)", "USD", extra_handles=adl_handles)
    return fig


def _plot_adl_bars(ax: Axes, adl: pd.DataFrame, clock: Clock) -> list[Any]:
    """ADL notional per block as bars on a secondary axis; returns handles for the main legend."""
    if adl.empty:
        return [Line2D([], [], ls="none", label="no ADL fills in this run")]
    notional = adl.assign(notional=column(adl, "notional_usd").fillna(0.0))
    per_block = notional.groupby("block", sort=True)["notional"].sum()
    minutes = clock.minutes(per_block.index.to_numpy(dtype=float))
    twin = ax.twinx()
    ax.set_zorder(twin.get_zorder() + 1)  # keep the fund and bad-debt lines above the bars
    ax.patch.set_visible(False)
    bars = twin.bar(minutes, per_block.to_numpy(dtype=float), width=_bar_width(minutes, clock), color="#ff7f0e",
                    alpha=0.7, label="ADL notional per block (right axis)")
    twin.set_ylabel("ADL notional per block (USD)")
    usd_axis(twin)
    return [bars]


def _bar_width(minutes: np.ndarray, clock: Clock) -> float:
    """A visible bar width in minutes: one block, but at least 0.5 % of the plotted span."""
    block_min = (clock.seconds_per_block() or DEFAULT_BLOCK_TIME_S) / 60.0
    span_values = np.concatenate((minutes, clock.seconds / 60.0)) if clock.seconds.size else minutes
    span = float(np.nanmax(span_values) - np.nanmin(span_values)) if span_values.size else 0.0
    return max(block_min, span * 0.005, 1e-3)


# --------------------------------------------------------------------------------------------
# 4. AMM depth
# --------------------------------------------------------------------------------------------


def amm_depth_figure(timeseries: pd.DataFrame, frame: TimeFrame) -> Figure:
    """USD depth of each asset's AMM pool over time, read against zero."""
    fig, axes = new_figure()
    ax = axes[0, 0]
    frame.prepare(ax)
    plotted = False
    if timeseries is not None and not timeseries.empty and "pool_depth_usd" in timeseries.columns:
        for asset, rows in timeseries.sort_values("time_s").groupby("asset", sort=True):
            depth = column(rows, "pool_depth_usd")
            if has_values(depth):
                ax.plot(minutes_column(rows), depth, lw=1.8, label=f"{asset} pool")
                plotted = True
    if plotted:
        ax.set_ylim(bottom=0.0)  # depth is read against zero, not against its own range
    else:
        empty_axis(ax, "no AMM pools")
    usd_axis(ax)
    finish_axis(ax, "AMM pool depth (stablecoin side)", "depth (USD)")
    return fig


# --------------------------------------------------------------------------------------------
# 5. PnL by agent type
# --------------------------------------------------------------------------------------------


def pnl_figure(agents: pd.DataFrame) -> Figure:
    """Left: PnL summed per agent type. Right: start and end equity per agent type."""
    fig, axes = new_figure(1, 2, row_height_in=4.2)
    pnl_ax, equity_ax = axes[0, 0], axes[0, 1]
    totals = agent_type_totals(agents)
    if totals.empty:
        for ax in (pnl_ax, equity_ax):
            empty_axis(ax, "no agents")
    else:
        labels = [f"{name}\n(n={n})" for name, n in zip(totals.index, totals["n"])]
        _pnl_bars(pnl_ax, labels, totals["pnl_usd"].fillna(0.0).to_numpy(dtype=float))
        _equity_bars(equity_ax, labels, totals)
    usd_axis(pnl_ax)
    usd_axis(equity_ax)
    finish_axis(pnl_ax, "PnL summed by agent type", "PnL (USD)", xlabel="agent type")
    finish_axis(equity_ax, "Equity at start vs end, by agent type", "equity (USD)", xlabel="agent type")
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
