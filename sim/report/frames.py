"""Reading the run's tables for the report: numeric columns, events of given kinds, per-type totals.

Every reader tolerates a missing table, an empty one, or one without the expected columns.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from sim.record.schema import AgentKind


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """The column as floats, or all-NaN if the frame lacks it."""
    if name in frame.columns:
        return pd.to_numeric(frame[name], errors="coerce")
    return pd.Series(np.nan, index=frame.index, dtype=float)


def has_values(series: pd.Series | None) -> bool:
    """True if the series holds at least one non-missing value."""
    return series is not None and bool(series.notna().any())


def events_of(events: pd.DataFrame | None, kinds: Sequence[str]) -> pd.DataFrame:
    """The events whose ``kind`` is one of ``kinds`` (an empty frame if there are none)."""
    if events is None or events.empty or "kind" not in events.columns:
        return pd.DataFrame()
    return events[events["kind"].isin(kinds)]


def agent_type_totals(agents: pd.DataFrame | None) -> pd.DataFrame:
    """Per agent type: number of agents and summed start equity, end equity and PnL, by PnL ascending."""
    if agents is None or agents.empty or "agent_type" not in agents.columns:
        return pd.DataFrame(columns=["n", "start_equity_usd", "end_equity_usd", "pnl_usd"])
    frame = pd.DataFrame(
        {
            "agent_type": agents["agent_type"].fillna(AgentKind.UNKNOWN).astype(str),
            "start_equity_usd": column(agents, "start_equity_usd"),
            "end_equity_usd": column(agents, "end_equity_usd"),
            "pnl_usd": column(agents, "pnl_usd"),
        }
    )
    grouped = frame.groupby("agent_type", sort=True)
    totals = grouped[["start_equity_usd", "end_equity_usd", "pnl_usd"]].sum(min_count=1)
    totals.insert(0, "n", grouped.size())
    return totals.sort_values("pnl_usd", na_position="last")
