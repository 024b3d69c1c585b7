"""Experiment files: a base scenario, a grid of overrides, seeds per cell, per-seed path draws and
the expectations checked per cell — read and validated into the runs they ask for.

::

    scenario: ../scenarios/oct10.yaml   # base scenario, relative to this file
    name: alt-liquidation-params
    seeds: 16                           # Monte Carlo paths per cell: the scenario's seed + 0 .. + 15
    grid:                               # full factorial over these overrides
      lending.reserves[asset=ALT].liquidation_bonus_bps: [10300, 10500, 11000]
      pools[asset=ALT].depth_usd: [1_500_000, 15_000_000]
    set:                                # overrides applied to every cell
      blocks: 150
    paths:                              # optional: per-seed draws of the external path
      crash_size_scale: {uniform: [0.5, 1.5]}   # multiplies every crash size, drawn per seed
    expect:                             # checked per cell over its seeds
      - "bad_debt_usd.total.p99 <= 1_000_000"

:func:`load_experiment` raises :class:`ExperimentError` (a :class:`~sim.scenario.ScenarioError`)
naming every problem before anything runs: a bad override path or a value of the wrong type (each cell's scenario is
validated whole), an empty grid, ``seeds: 0``, an unknown metric or statistic in ``expect``, and a
grid of more than :data:`MAX_CELLS` cells unless ``allow_large``.

A run is one ``(cell, seed)``: its scenario depends only on the base, the cell's overrides and the
seed. The path draws depend on the seed alone — every cell sees the same crash on seed k (common
random numbers), so cells differ by their parameters, not by their luck.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Iterator

import numpy as np
from pydantic import Field, ValidationError

from sim.agents.identity import draw
from sim.calibration.targets import calibration_problems
from sim.record.expect import metric_problems
from sim.scenario import Distribution, Scenario, ScenarioError, apply_overrides, load_scenario
from sim.scenario.base import _Strict
from sim.scenario.expectations import Expectation, parse_expectation
from sim.scenario.loading import read_yaml, validation_problems
from sim.scenario.overrides import Override, parse_path, target

MAX_CELLS = 10_000
RUN_FIELDS = ("seed", "name")  # set per run by the experiment: not overridable
MAX_SEEDS = 100_000
CRASH_SIZE_CAP = 0.99  # a scaled crash loses at most 99% of the price (the schema's sizes stay below 1)


class PathDraws(_Strict):
    """Per-seed draws of the external price path."""

    crash_size_scale: Distribution | None = None  # multiplies every crash size (capped at CRASH_SIZE_CAP)


class ExperimentFile(_Strict):
    scenario: Annotated[str, Field(min_length=1)]
    name: Annotated[str, Field(min_length=1, max_length=80)]
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)]
    grid: dict[str, Annotated[list[Any], Field(min_length=1)]]
    set: dict[str, Any] = {}
    paths: PathDraws = PathDraws()
    expect: list[str] = []


class ExperimentError(ScenarioError):
    """An experiment file that cannot be run; ``problems`` are ``(where, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        super().__init__(source, problems)
        lines = [f"{path}: {message}" if path else message for path, message in problems]
        self.args = (f"invalid experiment {source}:\n  " + "\n  ".join(lines),)


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its index, its overrides (``{path: value}``, grid order) and their
    values as table columns (``{"param:<path>": value}``; an axis whose values are not all numbers,
    all text or all flags of one kind is written as text, a mapping as its JSON)."""

    index: int
    params: dict[str, Any]
    columns: dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """A validated experiment: the base scenario, its cells (each one's scenario validated), the
    seeds and path draws, and the expectations."""

    name: str
    source: str
    base: Scenario
    cells: list[Cell]
    scenarios: list[Scenario]  # per cell: the base with ``set`` and the cell's overrides
    seeds: int
    paths: PathDraws
    expectations: list[Expectation]

    @property
    def runs(self) -> int:
        return len(self.cells) * self.seeds

    def seed_of(self, offset: int) -> int:
        return self.base.seed + offset

    def scenario_for(self, cell: int, offset: int) -> Scenario:
        """The scenario of run ``(cell, seed offset)``: the cell's, with the seed and the path draws of
        that seed (the same on every cell). Raises pydantic's ValidationError for a seed or a draw
        the scenario refuses (:func:`check_runs` finds them all first)."""
        return Scenario.model_validate(self._run_data(cell, offset))

    def _run_data(self, cell: int, offset: int) -> dict[str, Any]:
        scenario = self.scenarios[cell]
        seed = self.seed_of(offset)
        data = scenario.model_dump(mode="python")
        data.update(seed=seed, name=f"{self.name}-c{cell}-s{seed}"[:80])
        crash = data["shock"].get("crash")
        if self.paths.crash_size_scale is not None and crash:
            scale = draw(self.paths.crash_size_scale, np.random.default_rng([seed, 0x5EED]))
            crash["size"] = {asset: min(size * scale, CRASH_SIZE_CAP) for asset, size in crash["size"].items()}
        return data

    def tasks(self) -> Iterator[tuple[int, int]]:
        """Every run as ``(cell, seed offset)``, cell by cell."""
        for cell in range(len(self.cells)):
            for offset in range(self.seeds):
                yield cell, offset


def load_experiment(path: str | Path, allow_large: bool = False) -> Experiment:
    """Read and validate an experiment file into an :class:`Experiment`; :class:`ExperimentError`
    listing every problem (by its place in the file) before anything runs."""
    path = Path(path)
    data = read_yaml(path)
    source = str(path)
    if not isinstance(data, dict):
        raise ExperimentError(source, [("", f"expected an experiment mapping (scenario, name, seeds, grid, …), got {type(data).__name__}")])
    try:
        spec = ExperimentFile.model_validate(data)
    except ValidationError as error:
        raise ExperimentError(source, validation_problems(error)) from None
    problems: list[tuple[str, str]] = []
    if not spec.grid:
        problems.append(("grid", "the grid is empty: give at least one override path and its values"))
    for key, values in spec.grid.items():
        repeated = sorted({repr(v) for v in values if sum(1 for w in values if w == v) > 1})
        if repeated:
            problems.append((f"grid.{key}", f"{', '.join(repeated)} appear(s) more than once: each value is one cell"))
    expectations = []
    for i, text in enumerate(spec.expect):
        try:
            expectation = parse_expectation(text)
        except ValueError as error:
            problems.append((f"expect[{i}]", str(error)))
            continue
        expectations.append(expectation)
        problems += [(f"expect[{i}]", message) for _, message in metric_problems([expectation])]
    cells_count = int(np.prod([len(values) for values in spec.grid.values()])) if spec.grid else 0
    if cells_count > MAX_CELLS and not allow_large:
        problems.append(("grid", f"{cells_count:,} cells is more than {MAX_CELLS:,}: pass --yes to run them"))
    base_path = (path.parent / spec.scenario).resolve()
    try:
        base = load_scenario(base_path)
    except ScenarioError as error:
        problems += [(f"scenario ({spec.scenario})", f"{where}: {message}" if where else message) for where, message in error.problems]
        base = None
    else:
        problems += [(f"scenario ({spec.scenario})", f"{where}: {message}") for where, message in calibration_problems(base)]
    fixed = _overrides(_files_beside(spec.set, path.parent), "set", problems)
    axes = {key: _path(key, f"grid.{key}", problems) for key in spec.grid}
    if base is not None and not problems:
        problems += _overlaps(base, fixed + [Override(key, steps, values[0]) for (key, steps), values in zip(axes.items(), spec.grid.values())])
    if problems or base is None:
        raise ExperimentError(source, problems)
    columns = _columns(spec.grid)
    cells = [Cell(i, dict(zip(spec.grid, values)), {f"param:{k}": columns[k](v) for k, v in zip(spec.grid, values)})
             for i, values in enumerate(itertools.product(*spec.grid.values()))]
    scenarios = []
    for cell in cells:
        overrides = fixed + [Override(key, axes[key], value) for key, value in _files_beside(cell.params, path.parent).items()]
        try:
            scenarios.append(apply_overrides(base, overrides, f"{spec.name} cell {cell.index}"))
        except ScenarioError as error:
            label = ", ".join(f"{k}={v!r}" for k, v in cell.params.items())
            problems += [(f"cell {cell.index} ({label}): {where}", message) for where, message in error.problems]
            if len(problems) >= 20:
                break
    checked = {base.calibration}  # a set or grid may name a targets file of its own: checked once each, before any run
    for cell, scenario in zip(cells, scenarios):
        if scenario.calibration not in checked:
            checked.add(scenario.calibration)
            problems += [(f"cell {cell.index}: {where}", message) for where, message in calibration_problems(scenario)]
    if spec.paths.crash_size_scale is not None:
        problems += [(f"cell {cell.index}", "paths.crash_size_scale scales the crash, but this cell's scenario has none (shock.crash)")
                     for cell, scenario in zip(cells, scenarios) if scenario.shock.crash is None][:5]
    if problems:
        raise ExperimentError(source, problems)
    return Experiment(spec.name, source, base, cells, scenarios, spec.seeds, spec.paths, expectations)


def check_runs(experiment: Experiment) -> list[Scenario]:
    """Every run's scenario, cell by cell and seed by seed (as :meth:`Experiment.tasks` orders
    them); :class:`ExperimentError` naming the runs whose seed or path draw the scenario refuses
    (a seed past the schema's bound, a draw that makes a crash size negative)."""
    scenarios, problems = [], []
    for cell, offset in experiment.tasks():
        try:
            scenarios.append(experiment.scenario_for(cell, offset))
        except ValidationError as error:
            where = f"cell {cell}, seed {experiment.seed_of(offset)}"
            problems += [(f"{where}: {path}", message) for path, message in validation_problems(error)]
            if len(problems) >= 20:
                break
    if problems:
        raise ExperimentError(experiment.source, problems)
    return scenarios


def _overlaps(base: Scenario, overrides: list[Override]) -> list[tuple[str, str]]:
    """Two overrides (of ``set`` or the grid) naming one field, or one inside the other: the later
    would silently replace the earlier. Also an override of a field each run sets itself."""
    problems = []
    targets: dict[str, tuple] = {}
    for override in overrides:
        if override.steps[0] in RUN_FIELDS:
            problems.append((override.path, f"{override.steps[0]} is set per run by the experiment (the seeds are the "
                                            "base scenario's seed + 0 .. seeds − 1): change it in the base scenario"))
            continue
        try:
            where = target(base, override)
        except ScenarioError as error:
            problems += error.problems
            continue
        for other, other_where in targets.items():
            shorter = min(len(where), len(other_where))
            if where[:shorter] == other_where[:shorter]:
                problems.append((override.path, f"names the same field as {other}: one would silently replace the other"))
        targets[override.path] = where
    return problems


def _columns(grid: dict[str, list[Any]]) -> dict[str, Any]:
    """Per axis, how its values are written in the tables: as they are when they are all numbers,
    all text or all flags; otherwise as text (a mapping or list as JSON)."""
    import json

    def kind(value: Any) -> str:
        if isinstance(value, bool):
            return "flag"
        if isinstance(value, (int, float)):
            return "number"
        return "text" if isinstance(value, str) else "other"

    out = {}
    for key, values in grid.items():
        kinds = {kind(v) for v in values}
        if len(kinds) == 1 and kinds != {"other"}:
            out[key] = lambda value: value
        else:
            out[key] = lambda value: json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else str(value)
    return out


def _path(key: str, where: str, problems: list[tuple[str, str]]) -> tuple:
    try:
        return parse_path(key)
    except ValueError as error:
        problems.append((where, str(error)))
        return ()


def _files_beside(values: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``values`` with a relative ``calibration`` file read from the experiment's folder, as its
    ``scenario:`` is (not from wherever the sweep was started)."""
    named = values.get("calibration")
    if not isinstance(named, str) or not named:
        return values
    return {**values, "calibration": str(folder / Path(named).expanduser())}


def _overrides(values: dict[str, Any], section: str, problems: list[tuple[str, str]]) -> list[Override]:
    return [Override(key, steps, value) for key, value in values.items() if (steps := _path(key, f"{section}.{key}", problems))]
