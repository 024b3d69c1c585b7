"""Expectations: assertions on a run's summary figures that a designer's CI can gate on.

One expectation is ``METRIC.STATISTIC OP NUMBER``::

    bad_debt_usd.total.p99 <= 1_000_000
    liquidations_usd.total.p95 <= 50_000_000

METRIC is a summary figure's dotted path (``summary.json``'s keys), STATISTIC one of
:data:`STATISTICS` taken over the runs it is checked on (one run: every statistic is its value),
OP one of ``<= < >= > == !=`` and NUMBER a number as a scenario file writes it (``1_000_000``,
``1e6``). This module reads the text; whether METRIC names a figure is checked against the summary's
own declaration (:mod:`sim.record.expect`) before anything runs.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Callable

STATISTICS = ("mean", "p50", "p95", "p99", "max", "es95", "es99")
"""``pNN``: the NN-th percentile (linear interpolation); ``esNN``: expected shortfall, the mean of
the largest ⌈n × (100 − NN)%⌉ of the n values, at least the largest one (the worst tail of a loss:
ties at the percentile do not pull it down); ``max``: the largest. Every statistic reads the upper
tail: for a figure where low is bad (a PnL), bound its ``mean`` or ``p50``, or a loss figure."""

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "==": operator.eq, "!=": operator.ne, "<": operator.lt, ">": operator.gt,
}
_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$")
_NUMBER = re.compile(r"^[-+]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][-+]?\d+)?$")


@dataclass(frozen=True)
class Expectation:
    """One parsed expectation: ``metric`` (dotted path), ``statistic``, ``op`` and ``threshold``."""

    text: str
    metric: str
    statistic: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` (the statistic's) meets the expectation; a missing value (NaN) never does."""
        return value == value and OPERATORS[self.op](value, self.threshold)


def parse_expectation(text: str) -> Expectation:
    """Read ``METRIC.STATISTIC OP NUMBER``; :class:`ValueError` saying what is wrong."""
    match = _FORM.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not METRIC.STATISTIC OP NUMBER (e.g. \"bad_debt_usd.total.p99 <= 1_000_000\")")
    path, op, number = match.groups()
    metric, _, statistic = path.rpartition(".")
    if statistic not in STATISTICS:
        raise ValueError(f"{path!r} ends in {statistic!r}, not a statistic: one of {', '.join(STATISTICS)}")
    if not metric:
        raise ValueError(f"{path!r} names no metric before its statistic")
    if not _NUMBER.match(number):
        raise ValueError(f"{number!r} is not a number")
    return Expectation(text.strip(), metric, statistic, op, float(number.replace("_", "")))
