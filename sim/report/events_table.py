"""The report's largest-events table: the events with the largest notional, as display rows."""

from __future__ import annotations

from typing import Any, Callable, Final, Mapping, NamedTuple

import pandas as pd

from sim.report.format import DASH, fmt_float, fmt_int, fmt_text, fmt_usd, is_present, short_address
from sim.report.frames import column
from sim.report.timeline import Clock

TOP_EVENTS: Final = 20


class EventColumn(NamedTuple):
    """One column of the table: the field of the event record, its title and how to show a value."""

    key: str
    title: str
    fmt: Callable[[Any], str]
    numeric: bool


EVENT_TABLE_COLUMNS: Final[tuple[EventColumn, ...]] = (
    EventColumn("block", "block", fmt_int, True),
    EventColumn("minute", "minute", lambda v: fmt_float(v, 1), True),
    EventColumn("kind", "kind", fmt_text, False),
    EventColumn("venue", "venue", fmt_text, False),
    EventColumn("asset", "asset", fmt_text, False),
    EventColumn("side", "side", fmt_text, False),
    EventColumn("notional_usd", "notional (USD)", fmt_usd, True),
    EventColumn("size", "size (base units)", lambda v: fmt_float(v, 4), True),
    EventColumn("agent", "account (agent)", fmt_text, False),
    EventColumn("counterparty_label", "counterparty", fmt_text, False),
    EventColumn("tx_hash", "tx", short_address, False),
)
EVENT_TABLE_HEADER: Final = tuple(c.title for c in EVENT_TABLE_COLUMNS)
EVENT_TABLE_NUMERIC_COLUMNS: Final = frozenset(i for i, c in enumerate(EVENT_TABLE_COLUMNS) if c.numeric)


def top_events(events: pd.DataFrame | None, clock: Clock, n: int = TOP_EVENTS) -> pd.DataFrame:
    """The ``n`` largest events by notional, with display columns added."""
    if events is None or events.empty:
        return pd.DataFrame()
    frame = events.assign(_notional=column(events, "notional_usd"))
    sort_cols = ["_notional"] + [c for c in ("block", "log_index") if c in frame.columns]
    top = frame.sort_values(sort_cols, ascending=[False] + [True] * (len(sort_cols) - 1), na_position="last",
                            kind="mergesort").head(n)
    blocks = column(top, "block").to_numpy(dtype=float)
    return top.assign(
        minute=clock.minutes(blocks),
        agent=[_agent_label(r) for r in top.to_dict("records")],
        counterparty_label=[_counterparty_label(r) for r in top.to_dict("records")],
    )


def event_rows(top: pd.DataFrame) -> list[tuple[str, ...]]:
    """Display rows of :func:`top_events`' frame, columns as :data:`EVENT_TABLE_HEADER`."""
    return [
        tuple(col.fmt(record.get(col.key)) for col in EVENT_TABLE_COLUMNS)
        for record in top.to_dict("records")
    ]


def _with_type(label: str, kind: Any) -> str:
    return f"{label} ({kind})" if is_present(kind) else label


def _agent_label(row: Mapping[str, Any]) -> str:
    """``agent_id (agent_type)``, or the shortened account address when there is no agent id."""
    who = str(row["agent_id"]) if is_present(row.get("agent_id")) else short_address(row.get("account"))
    return _with_type(who, row.get("agent_type"))


def _counterparty_label(row: Mapping[str, Any]) -> str:
    address = row.get("counterparty")
    return _with_type(short_address(address), row.get("counterparty_type")) if is_present(address) else DASH
