"""The record layer: what a run collects and the figures computed from it.

``schema`` declares the vocabulary (event kinds, agent kinds, columns); ``recorder`` collects the
tables block by block; ``events`` decodes loss events; ``metrics`` and ``summary`` turn the tables
into the typed :class:`Summary`. Imports the protocol layer; never the agents or the model."""

from sim.record.recorder import RecordedAgent, Recorder, equity_usd8
from sim.record.schema import AGENT_COLUMNS, EVENT_COLUMNS, TIMESERIES_COLUMNS, AgentKind, EventKind, Side, Venue
from sim.record.summary import Summary

__all__ = [
    "AGENT_COLUMNS",
    "AgentKind",
    "EVENT_COLUMNS",
    "EventKind",
    "RecordedAgent",
    "Recorder",
    "Side",
    "Summary",
    "TIMESERIES_COLUMNS",
    "Venue",
    "equity_usd8",
]
