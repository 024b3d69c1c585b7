"""Overrides: ``PATH=VALUE`` changes to a scenario, validated like the file itself.

A PATH names one field of the scenario: dotted keys descend into mappings, ``[key=value]`` picks
the one list item whose ``key`` is ``value`` and ``[N]`` the N-th item (from 0)::

    blocks=150
    lending.reserves[asset=ALT].liquidation_bonus_bps=10500
    pools[asset=ALT].depth_usd=1_500_000
    agents.whales[0].capital_usd={lognormal: [500_000, 0.5]}

A VALUE is YAML, read as the scenario file is (``1_500_000`` and ``1e6`` are numbers, ``[a, b]``
a list). Paths resolve against the whole scenario, defaults included, so a field the file left
out can be set. :func:`apply_overrides` raises :class:`~sim.scenario.ScenarioError` naming the
override for a path that names nothing (and what is there instead), and the scenario's own field
path for a value the schema refuses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from sim.scenario.loading import parse_scenario, parse_value
from sim.scenario.schema import Scenario, ScenarioError

_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[([A-Za-z_][A-Za-z0-9_]*)=([^\]]+)\]")


@dataclass(frozen=True)
class Override:
    """One ``PATH=VALUE``: the path as written, its steps, and the value read as YAML."""

    path: str
    steps: tuple[str | int | tuple[str, str], ...]  # a key, an index, or (key, value) selecting an item
    value: Any

    def __str__(self) -> str:
        return self.path


def parse_path(path: str) -> tuple[str | int | tuple[str, str], ...]:
    """The steps of an override PATH; :class:`ValueError` saying where it stops making sense."""
    steps: list[str | int | tuple[str, str]] = []
    position = 0
    while position < len(path):
        match = _STEP.match(path, position)
        if match is None or (position == 0 and path.startswith(".")) or (match.group(1) and position and path[position] != "."):
            raise ValueError(f"cannot read {path[position:]!r} at character {position + 1}: expected a key, [N] or [key=value]")
        key, index, select_key, select_value = match.groups()
        steps.append(key if key else int(index) if index else (select_key, select_value.strip()))
        position = match.end()
    if not steps:
        raise ValueError("the path is empty")
    return tuple(steps)


def parse_override(text: str) -> Override:
    """``PATH=VALUE`` read into an :class:`Override`; :class:`ValueError` naming what is wrong.
    The first ``=`` outside brackets splits them (a selector's ``[asset=ALT]`` is the path's)."""
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "[") - (char == "]")
        if char == "=" and depth == 0:
            path, value = text[:i].strip(), text[i + 1 :].strip()
            if not value:
                raise ValueError(f"{text!r} gives {path} no value")
            return Override(path, parse_path(path), parse_value(value))
    raise ValueError(f"{text!r} is not PATH=VALUE")


def _describe(step: str | int | tuple[str, str]) -> str:
    if isinstance(step, tuple):
        return f"[{step[0]}={step[1]}]"
    return f"[{step}]" if isinstance(step, int) else f".{step}"


def _set(data: Any, override: Override) -> None:
    """Write ``override.value`` into the scenario data ``data`` (a dict from ``model_dump``)."""
    container, place, _ = _locate(data, override)
    container[place] = override.value


def target(scenario: Scenario, override: Override) -> tuple[str | int, ...]:
    """The field ``override`` names in ``scenario``, as keys and list positions (``[asset=ALT]``
    resolved): two overrides name the same field when their targets are equal. Raises
    :class:`ScenarioError` for a path that names nothing."""
    return _locate(scenario.model_dump(mode="python"), override)[2]


def value_at(scenario: Scenario, override: Override) -> Any:
    """The value the field ``override`` names has in ``scenario`` (defaults included)."""
    container, place, _ = _locate(scenario.model_dump(mode="python"), override)
    return container[place]


def _locate(data: Any, override: Override) -> tuple[Any, str | int, tuple[str | int, ...]]:
    """Where ``override`` writes in ``data``: the container, the key or position in it, and the
    whole path as keys and positions."""
    node = data
    where = ""
    concrete: list[str | int] = []
    for position, step in enumerate(override.steps):
        if isinstance(step, str):
            if not isinstance(node, dict):
                raise _bad(override, f"{where or 'the scenario'} is not a mapping: it has no key {step!r}")
            if step not in node:
                known = ", ".join(sorted(node)) if node else "none"
                raise _bad(override, f"{where or 'the scenario'} has no field {step!r} (its fields: {known})")
            place: str | int = step
        else:
            if not isinstance(node, list):
                raise _bad(override, f"{where or 'the scenario'} is not a list: {_describe(step)} picks nothing")
            if isinstance(step, int):
                if step >= len(node):
                    raise _bad(override, f"{where} has {len(node)} item(s): {_describe(step)} is not one of them")
                place = step
            else:
                key, wanted = step
                matches = [i for i, item in enumerate(node) if isinstance(item, dict) and str(item.get(key)) == wanted]
                if len(matches) != 1:
                    present = ", ".join(str(item.get(key)) for item in node if isinstance(item, dict)) or "none"
                    count = "no item" if not matches else f"{len(matches)} items"
                    raise _bad(override, f"{count} of {where} has {key}={wanted} ({key} of its items: {present})")
                place = matches[0]
        concrete.append(place)
        if position == len(override.steps) - 1:
            return node, place, tuple(concrete)
        node = node[place]
        where += _describe(step) if where else _describe(step).lstrip(".")
    raise _bad(override, "the path is empty")


def _bad(override: Override, message: str) -> ScenarioError:
    return ScenarioError(override.path, [(override.path, message)])


def apply_overrides(scenario: Scenario, overrides: Sequence[Override], source: str = "<scenario>") -> Scenario:
    """``scenario`` with every override applied in order, validated as a whole like a file.

    Raises :class:`ScenarioError`: for a path that names nothing, naming the override; for values
    the schema refuses, every problem by its field path (as a file's are)."""
    if not overrides:
        return scenario
    data = scenario.model_dump(mode="python")
    described = f"{source} with " + ", ".join(f"{o.path}={o.value!r}" for o in overrides)
    problems = []
    for override in overrides:
        try:
            _set(data, override)
        except ScenarioError as error:
            problems += error.problems
    if problems:
        raise ScenarioError(described, problems)
    return parse_scenario(data, described)
