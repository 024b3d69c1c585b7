"""Reading scenario files: YAML (no duplicate keys) validated into a :class:`Scenario`.

:func:`load_scenario` either returns a :class:`Scenario` or raises :class:`ScenarioError` listing
every problem by field path (``agents.whales[0].count: Input should be greater than 0 (got 0)``),
before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from sim.scenario.checks import reference_problems
from sim.scenario.schema import Scenario, ScenarioError


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (safe_load keeps the last)."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


# ---------------------------------------------------------------- loading


def _path_of(loc: tuple[Any, ...]) -> str:
    path = ""
    previous: Any = None
    for part in loc:
        tag_after_distribution = previous in _DISTRIBUTION_FIELDS and part in ("number", "uniform", "lognormal")
        previous = part
        if tag_after_distribution or part == "[key]":
            continue  # the distribution's branch tag and pydantic's key marker add nothing for the reader
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_DISTRIBUTION_FIELDS = {"capital_usd", "target_health_factor", "leverage", "hedge_leverage", "gas_price_gwei"}


def _validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = _path_of(tuple(item["loc"]))
        got = item.get("input")
        shown = "" if isinstance(got, (dict, list)) or item["type"] == "missing" else f" (got {got!r})"
        message = item["msg"].removeprefix("Value error, ") + shown
        problems.setdefault(path, message)  # a union reports once per branch: keep the first
    return list(problems.items())


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-parsed YAML/JSON data into a :class:`Scenario`."""
    if data is None:
        raise ScenarioError(source, [("", "the file is empty; expected a scenario mapping (name, seed, blocks, …)")])
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", f"expected a mapping at the top level, got {type(data).__name__}")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(source, _validation_problems(error)) from None
    problems = reference_problems(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a YAML scenario file; :class:`ScenarioError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(str(path), [("", f"cannot read the file: {error.strerror}")]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ScenarioError(str(path), [("", f"not valid YAML: {error}")]) from None
    return parse_scenario(data, str(path))
