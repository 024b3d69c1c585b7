"""Reading scenario files: YAML (no duplicate keys) validated into a :class:`Scenario`.

:func:`load_scenario` either returns a :class:`Scenario` or raises :class:`ScenarioError` listing
every problem by field path (``agents.whales[0].count: Input should be greater than 0 (got 0)``),
before anything runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

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
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise yaml.constructor.ConstructorError(
                None, None, f"a key must be a plain value, not a {type(key).__name__}", key_node.start_mark
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)
# YAML 1.1 reads ``1e-12`` (no dot) as a string; scientific notation is a number here.
_UniqueKeyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$"), list("-+.0123456789")
)

MAX_FILE_BYTES = 1_000_000  # a scenario is a few kilobytes; anything this large is not one
MAX_DEPTH = 32  # a scenario nests six levels; a distribution inside a population, eight
MAX_VALUES = 100_000  # lists, mappings and values in all, aliases counted each time they are used


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


def validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = _path_of(tuple(item["loc"]))
        got = item.get("input")
        shown = "" if isinstance(got, (dict, list)) or item["type"] == "missing" else f" (got {got!r})"
        message = item["msg"].removeprefix("Value error, ") + shown
        problems.setdefault(path, message)  # a union reports once per branch: keep the first
    return list(problems.items())


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-parsed YAML/JSON data into a :class:`Scenario`.

    Every problem is reported at once: field errors, and with them every reference to an asset
    the file does not define (the other cross-field checks need valid fields to run)."""
    if data is None:
        raise ScenarioError(source, [("", "the file is empty; expected a scenario mapping (name, seed, blocks, …)")])
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", f"expected a mapping at the top level, got {type(data).__name__}")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        problems = validation_problems(error)
        seen = {path for path, _ in problems}
        problems += [(path, message) for path, message in unknown_asset_problems(data) if path not in seen]
        raise ScenarioError(source, problems) from None
    except RecursionError:
        raise ScenarioError(source, [("", "nested too deeply to be a scenario")]) from None
    problems = reference_problems(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def parse_value(text: str) -> Any:
    """One value written as in a scenario file (YAML: ``1_500_000`` and ``1e6`` are numbers);
    :class:`ValueError` when it is not YAML."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ValueError(f"{text!r} is not a YAML value: {error}") from None


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a YAML scenario file; :class:`ScenarioError` on any problem (a file that
    cannot be read, is not UTF-8 text, is not YAML or nests too deeply included)."""
    path = Path(path)
    data = read_yaml(path)
    if isinstance(data, dict) and isinstance(data.get("calibration"), str) and data["calibration"]:
        # the folder of the file itself (a symlinked scenario's real one), not the cwd
        data["calibration"] = str(path.resolve().parent / Path(data["calibration"]).expanduser())
    return parse_scenario(data, str(path))


def read_yaml(path: Path) -> Any:
    def refuse(message: str) -> ScenarioError:
        return ScenarioError(str(path), [("", message)])

    try:
        if not path.is_file():
            raise refuse("cannot read the file: not a regular file" if path.exists() else "cannot read the file: No such file or directory")
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)  # never more: /dev/zero is a file too
    except OSError as error:
        raise refuse(f"cannot read the file: {error.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise refuse(f"{len(raw):,} bytes is too large for a scenario file (at most {MAX_FILE_BYTES:,})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(f"not a UTF-8 text file (byte {error.start} cannot be decoded); a scenario is YAML text") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise refuse(f"not valid YAML: {error}") from None
    except RecursionError:
        raise refuse("nested too deeply to be a scenario") from None
    shape = _shape_problem(data)
    if shape:
        raise refuse(shape)
    return data


def _shape_problem(data: Any) -> str | None:
    """Why ``data`` cannot be a scenario by its shape alone: nested more than ``MAX_DEPTH`` levels,
    or more than ``MAX_VALUES`` values once aliases are expanded (a "billion laughs" file is a
    few hundred bytes). Walks without recursion and stops at the first limit."""
    stack, values = [(data, 0)], 0
    while stack:
        node, depth = stack.pop()
        values += 1
        if values > MAX_VALUES:
            return f"more than {MAX_VALUES:,} values (aliases count each time they are used): not a scenario"
        if isinstance(node, (dict, list)):
            if depth >= MAX_DEPTH:
                return f"nested too deeply to be a scenario (more than {MAX_DEPTH} levels)"
            stack.extend((child, depth + 1) for child in (node.values() if isinstance(node, dict) else node))
    return None


# Where a scenario names an asset: ``*`` is every item of a list (or every entry of the agents
# block), ``<key>`` every key of a mapping.
_ASSET_REFERENCES = (
    ("stablecoin",),
    ("pools", "*", "asset"),
    ("lending", "reserves", "*", "asset"),
    ("perp", "markets", "*", "asset"),
    ("agents", "*", "*", "asset"),
    ("agents", "*", "*", "collateral_asset"),
    ("agents", "*", "*", "perp_market"),
    ("agents", "*", "*", "pools", "*"),
    ("agents", "*", "*", "perp_markets", "*"),
    ("shock", "crash", "size", "<key>"),
)


def unknown_asset_problems(data: dict) -> list[tuple[str, str]]:
    """References to assets ``data`` does not define, read from the raw data (for a file whose
    fields do not validate, so that these are reported alongside the field errors)."""
    assets = data.get("assets")
    known = sorted(assets) if isinstance(assets, dict) else []
    problems = []
    for pattern in _ASSET_REFERENCES:
        for path, symbol in _walk(data, pattern, ""):
            if isinstance(symbol, str) and symbol not in known:
                problems.append((path, f"unknown asset {symbol!r}; expected one of {known}"))
    return problems


def _walk(node: Any, pattern: tuple[str, ...], path: str) -> Iterator[tuple[str, Any]]:
    """``(path, value)`` of every place in ``node`` that ``pattern`` names."""
    if not pattern:
        yield path, node
        return
    step, rest = pattern[0], pattern[1:]
    if step == "*" and isinstance(node, list):
        for i, item in enumerate(node):
            yield from _walk(item, rest, f"{path}[{i}]")
    elif step == "*" and isinstance(node, dict):
        for key, item in node.items():
            yield from _walk(item, rest, f"{path}.{key}" if path else str(key))
    elif step == "<key>" and isinstance(node, dict):
        for key in node:
            yield f"{path}.{key}", key
    elif isinstance(node, dict) and step in node:
        yield from _walk(node[step], rest, f"{path}.{step}" if path else step)
