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

:func:`load_experiment` raises :class:`~sim.scenario.ScenarioError` naming every problem before
anything runs: a bad override path or a value of the wrong type (each cell's scenario is
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
from sim.record.expect import metric_problems
from sim.scenario import Distribution, Scenario, ScenarioError, apply_overrides, load_scenario
from sim.scenario.base import _Strict
from sim.scenario.expectations import Expectation, parse_expectation
from sim.scenario.loading import read_yaml, validation_problems
from sim.scenario.overrides import Override, parse_path

MAX_CELLS = 10_000
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


@dataclass(frozen=True)
class Cell:
    """One point of the grid: its index and its overrides (``{path: value}``, grid order)."""

    index: int
    params: dict[str, Any]


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
        that seed (the same on every cell)."""
        scenario = self.scenarios[cell]
        seed = self.seed_of(offset)
        data = scenario.model_dump(mode="python")
        data.update(seed=seed, name=f"{self.name}-c{cell}-s{seed}"[:80])
        crash = data["shock"].get("crash")
        if self.paths.crash_size_scale is not None and crash:
            scale = draw(self.paths.crash_size_scale, np.random.default_rng([seed, 0x5EED]))
            crash["size"] = {asset: min(size * scale, CRASH_SIZE_CAP) for asset, size in crash["size"].items()}
        return Scenario.model_validate(data)

    def tasks(self) -> Iterator[tuple[int, int]]:
        """Every run as ``(cell, seed offset)``, cell by cell."""
        for cell in range(len(self.cells)):
            for offset in range(self.seeds):
                yield cell, offset


def load_experiment(path: str | Path, allow_large: bool = False) -> Experiment:
    """Read and validate an experiment file into an :class:`Experiment`; :class:`ScenarioError`
    listing every problem (by its place in the file) before anything runs."""
    path = Path(path)
    data = read_yaml(path)
    source = str(path)
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", f"expected an experiment mapping (scenario, name, seeds, grid, …), got {type(data).__name__}")])
    try:
        spec = ExperimentFile.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(source, validation_problems(error)) from None
    problems: list[tuple[str, str]] = []
    if not spec.grid:
        problems.append(("grid", "the grid is empty: give at least one override path and its values"))
    expectations = []
    for i, text in enumerate(spec.expect):
        try:
            expectations.append(parse_expectation(text))
        except ValueError as error:
            problems.append((f"expect[{i}]", str(error)))
    problems += metric_problems(expectations)
    cells_count = int(np.prod([len(values) for values in spec.grid.values()])) if spec.grid else 0
    if cells_count > MAX_CELLS and not allow_large:
        problems.append(("grid", f"{cells_count:,} cells is more than {MAX_CELLS:,}: pass --yes to run them"))
    base_path = (path.parent / spec.scenario).resolve()
    try:
        base = load_scenario(base_path)
    except ScenarioError as error:
        problems += [(f"scenario ({spec.scenario})", f"{where}: {message}" if where else message) for where, message in error.problems]
        base = None
    fixed = _overrides(spec.set, "set", problems)
    axes = {key: _path(key, f"grid.{key}", problems) for key in spec.grid}
    if problems or base is None:
        raise ScenarioError(source, problems)
    cells = [Cell(i, dict(zip(spec.grid, values))) for i, values in enumerate(itertools.product(*spec.grid.values()))]
    scenarios = []
    for cell in cells:
        overrides = fixed + [Override(key, axes[key], value) for key, value in cell.params.items()]
        try:
            scenarios.append(apply_overrides(base, overrides, f"{spec.name} cell {cell.index}"))
        except ScenarioError as error:
            label = ", ".join(f"{k}={v!r}" for k, v in cell.params.items())
            problems += [(f"cell {cell.index} ({label}): {where}", message) for where, message in error.problems]
            if len(problems) >= 20:
                break
    if problems:
        raise ScenarioError(source, problems)
    return Experiment(spec.name, source, base, cells, scenarios, spec.seeds, spec.paths, expectations)


def _path(key: str, where: str, problems: list[tuple[str, str]]) -> tuple:
    try:
        return parse_path(key)
    except ValueError as error:
        problems.append((where, str(error)))
        return ()


def _overrides(values: dict[str, Any], section: str, problems: list[tuple[str, str]]) -> list[Override]:
    return [Override(key, steps, value) for key, value in values.items() if (steps := _path(key, f"{section}.{key}", problems))]
