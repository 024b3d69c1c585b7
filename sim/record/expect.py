"""Checking expectations (:mod:`sim.scenario.expectations`) against summaries.

Which metrics exist is read from the :class:`~sim.record.summary.Summary` declaration itself (its
numeric figures, with the flattened sections at the top level, as ``summary.json`` has them), so
an expectation naming a figure that does not exist is refused before anything runs
(:func:`metric_problem`). :func:`statistic` computes one of the statistics over the runs'
values and :func:`check` gives each expectation's value and verdict, ready for ``expect.json``.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Iterable, Sequence

import numpy as np

from sim.record.summary import Summary
from sim.scenario.expectations import Expectation

EXPECT_FILE = "expect.json"


def _numeric_tree(cls: type) -> dict[str, Any]:
    """``{field: subtree}`` of a summary dataclass: "number" for a numeric figure, "mapping" for a
    dict (its keys are the run's assets or agent types), a dict for a section; flattened sections
    merged into their parent."""
    tree: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("omit_none"):
            continue  # token conservation and the error: not figures
        kind = _kind(hints[f.name])
        if kind is None:
            continue
        if isinstance(kind, dict) and f.metadata.get("flatten"):
            tree.update(kind)
        else:
            tree[f.name] = kind
    return tree


def _kind(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return _kind(args[0]) if len(args) == 1 else None
    if hint in (int, float):
        return "number"
    if typing.get_origin(hint) is dict:
        return "mapping"
    if dataclasses.is_dataclass(hint):
        return _numeric_tree(hint)
    return None


SUMMARY_METRICS = _numeric_tree(Summary)


def metric_problem(metric: str) -> str | None:
    """Why ``metric`` names no numeric summary figure (with what is there instead), or None."""
    node: Any = SUMMARY_METRICS
    walked = []
    for part in metric.split("."):
        if node == "mapping":
            return None  # keys of a mapping (assets, agent types) are the run's: known only then
        if not isinstance(node, dict) or part not in node:
            where = ".".join(walked) or "the summary"
            choices = ", ".join(sorted(node)) if isinstance(node, dict) else "none: it is a number"
            return f"{where} has no figure {part!r} (there: {choices})"
        node = node[part]
        walked.append(part)
    if node == "number" or node == "mapping":
        return None if node == "number" else f"{metric} is a mapping: name one of its keys"
    return f"{metric} is a section, not a figure (its figures: {', '.join(sorted(node))})"


def metric_problems(expectations: Iterable[Expectation]) -> list[tuple[str, str]]:
    """``(expect[i], why)`` for every expectation whose metric names no figure."""
    return [(f"expect[{i}]", f"{e.metric}: {problem}") for i, e in enumerate(expectations)
            if (problem := metric_problem(e.metric)) is not None]


def value_of(summary: dict[str, Any], metric: str) -> float:
    """The figure at dotted ``metric`` of a ``summary.json`` dict; NaN when the run has none."""
    node: Any = summary
    for part in metric.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            return math.nan
        node = node[part]
    return float(node) if isinstance(node, (int, float)) and not isinstance(node, bool) else math.nan


def statistic(values: Sequence[float], name: str) -> float:
    """One of :data:`~sim.scenario.expectations.STATISTICS` over ``values``; NaN when any is
    missing (a run without the figure cannot be said to pass)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0 or np.isnan(data).any():
        return math.nan
    if name == "mean":
        return float(data.mean())
    if name == "max":
        return float(data.max())
    level = float(name.removeprefix("es").removeprefix("p"))
    if name.startswith("p"):
        return float(np.percentile(data, level))
    worst = max(1, math.ceil(round(data.size * (100.0 - level) / 100.0, 9)))  # the worst (100 − NN)% of runs, at least one
    return float(np.sort(data)[-worst:].mean())


def check(expectations: Sequence[Expectation], summaries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each expectation over ``summaries`` (one per run): its text, the statistic's value and
    whether it passed."""
    results = []
    for e in expectations:
        value = statistic([value_of(s, e.metric) for s in summaries], e.statistic)
        results.append({"expect": e.text, "metric": e.metric, "statistic": e.statistic, "value": None if math.isnan(value) else value,
                        "threshold": e.threshold, "passed": e.holds(value), "runs": len(summaries)})
    return results
