"""The figures a calibration target may name (:data:`METRICS`), each computed from one run's
tables: its ``summary.json`` dict and its ``events``, ``timeseries`` and ``agents`` frames.

Every metric returns a float, or None when the run has nothing to compute it from (no perp
liquidation, no ADL fill, a run that failed before its tables were written). Ratios name what is
divided by what; ``_s`` / ``_min`` are seconds / minutes of block time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from sim.record.schema import AgentKind, EventKind


@dataclass(frozen=True)
class RunTables:
    """What a metric reads: the summary (as ``summary.json`` has it) and the three tables."""

    summary: dict[str, Any]
    events: pd.DataFrame
    timeseries: pd.DataFrame
    agents: pd.DataFrame


@dataclass(frozen=True)
class Metric:
    compute: Callable[..., float | None]  # (tables) or (tables, asset)
    takes_asset: bool = False


def _of_kind(events: pd.DataFrame, kind: str) -> pd.DataFrame:
    if events.empty or "kind" not in events:
        return pd.DataFrame(columns=["timestamp_s", "notional_usd", "pnl_usd"])
    return events[events["kind"] == kind]


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return float(numerator) / float(denominator)


def _summary(tables: RunTables, *path: str) -> float | None:
    node: Any = tables.summary
    for part in path:
        if not isinstance(node, dict) or node.get(part) is None:
            return None
        node = node[part]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def perp_liquidations_long_share(t: RunTables) -> float | None:
    return _summary(t, "perp_liquidations_long_share")


def pool_drawdown(t: RunTables, asset: str) -> float | None:
    """Largest fall from a peak of ``asset``'s on-chain pool price (``amm_price_usd``)."""
    return _summary(t, "drawdown", asset, "amm")


def adl_to_perp_liquidation_notional(t: RunTables) -> float | None:
    adl = _of_kind(t.events, EventKind.ADL_FILL)["notional_usd"].sum()
    return _ratio(adl, _of_kind(t.events, EventKind.PERP_LIQUIDATION)["notional_usd"].sum())


def adl_fills_per_perp_liquidation(t: RunTables) -> float | None:
    return _ratio(len(_of_kind(t.events, EventKind.ADL_FILL)), len(_of_kind(t.events, EventKind.PERP_LIQUIDATION)))


def first_perp_liquidation_to_first_adl_s(t: RunTables) -> float | None:
    adl, perp = _of_kind(t.events, EventKind.ADL_FILL), _of_kind(t.events, EventKind.PERP_LIQUIDATION)
    if adl.empty or perp.empty:
        return None
    return float(adl["timestamp_s"].min() - perp["timestamp_s"].min())


def adl_in_profit_share(t: RunTables) -> float | None:
    """Share of the positions reduced by ADL (an account on a market, however many fills it took,
    as the day's figure counts positions) whose fills, summed, were in profit; fills with no known
    ``pnl_usd`` are left out."""
    fills = _of_kind(t.events, EventKind.ADL_FILL).dropna(subset=["pnl_usd"])
    if fills.empty:
        return None
    per_position = fills.groupby(["account", "asset"])["pnl_usd"].sum()
    return float((per_position > 0).mean())


def lending_deficit_to_lending_liquidated(t: RunTables) -> float | None:
    return _ratio(_summary(t, "bad_debt_usd", "lending_deficit"), _summary(t, "liquidations_usd", "lending"))


def perp_bad_debt_share_of_perp_liquidated(t: RunTables) -> float | None:
    return _ratio(_summary(t, "bad_debt_usd", "perp_uncovered"), _summary(t, "liquidations_usd", "perp"))


def lending_share_of_liquidations(t: RunTables) -> float | None:
    return _ratio(_summary(t, "liquidations_usd", "lending"), _summary(t, "liquidations_usd", "total"))


SPREAD_LOW, SPREAD_HIGH = 0.05, 0.95


def perp_liquidation_spread_min(t: RunTables) -> float | None:
    """Minutes between the times by which 5% and 95% of the run's perp liquidation notional had
    been liquidated (the cumulative notional over the events' timestamps)."""
    perp = _of_kind(t.events, EventKind.PERP_LIQUIDATION)
    per_time = perp.groupby("timestamp_s")["notional_usd"].sum().sort_index()
    total = float(per_time.sum())
    if total <= 0:
        return None
    share = per_time.cumsum().to_numpy() / total
    times = per_time.index.to_numpy(dtype=float)
    first = times[np.argmax(share >= SPREAD_LOW - 1e-12)]
    last = times[np.argmax(share >= SPREAD_HIGH - 1e-12)]
    return float(last - first) / 60.0


def market_maker_loss_share_of_capital(t: RunTables) -> float | None:
    """Market makers' summed loss (−pnl_usd) over their summed equity at the start."""
    if t.agents.empty or "agent_type" not in t.agents:
        return None
    makers = t.agents[t.agents["agent_type"] == AgentKind.MARKET_MAKER]
    loss = makers["pnl_usd"].sum(min_count=1)
    return None if pd.isna(loss) else _ratio(-float(loss), float(makers["start_equity_usd"].sum()))


METRICS: dict[str, Metric] = {
    "perp_liquidations_long_share": Metric(perp_liquidations_long_share),
    "pool_drawdown": Metric(pool_drawdown, takes_asset=True),
    "adl_to_perp_liquidation_notional": Metric(adl_to_perp_liquidation_notional),
    "adl_fills_per_perp_liquidation": Metric(adl_fills_per_perp_liquidation),
    "first_perp_liquidation_to_first_adl_s": Metric(first_perp_liquidation_to_first_adl_s),
    "adl_in_profit_share": Metric(adl_in_profit_share),
    "lending_deficit_to_lending_liquidated": Metric(lending_deficit_to_lending_liquidated),
    "perp_liquidation_spread_min": Metric(perp_liquidation_spread_min),
    "market_maker_loss_share_of_capital": Metric(market_maker_loss_share_of_capital),
    "perp_bad_debt_share_of_perp_liquidated": Metric(perp_bad_debt_share_of_perp_liquidated),
    "lending_share_of_liquidations": Metric(lending_share_of_liquidations),
}
"""Metric name -> how to compute it; ``takes_asset``: the target names an asset (``asset: ALT``)."""


def compute(name: str, tables: RunTables, asset: str | None = None) -> float | None:
    """The metric ``name`` of the run (a NaN or infinity read as None: no figure)."""
    metric = METRICS[name]
    value = metric.compute(tables, asset) if metric.takes_asset else metric.compute(tables)
    return value if value is None or np.isfinite(value) else None
