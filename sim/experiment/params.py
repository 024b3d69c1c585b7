"""Calibration parameter files: which fields of a scenario ``ape run calibrate`` may move, and over
what range.

::

    seeds: 3                                    # runs per trial (the scenario's seed + 0 .. + 2); --seeds overrides
    params:                                     # override paths (sim/scenario/overrides.py) -> a range
      perp.insurance_fund_usd: {low: 20_000, high: 2_000_000, log: true}
      shock.crash.size.ALT: {low: 0.4, high: 0.7}
      agents.liquidators[0].latency_blocks: {low: 0, high: 5, int: true}
      perp.markets[asset=ALT].margin_price_source: {choices: [vamm, median]}

:func:`load_params` checks everything before any run: the file's fields, that every path names a
field of the scenario, and that the scenario validates at each range's low and high (or at every
choice), naming the bad path; the scenario must name its calibration targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, ValidationError, model_validator

from sim.experiment.spec import RUN_FIELDS, ExperimentError
from sim.scenario import Scenario, ScenarioError, apply_overrides
from sim.scenario.base import _Strict
from sim.scenario.loading import read_yaml, validation_problems
from sim.scenario.overrides import Override, parse_path, target, value_at

MAX_SEEDS = 1_000
Choice = Union[bool, int, float, str]  # what Optuna can sample


class Range(_Strict):
    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = Field(False, alias="int")
    choices: Annotated[list[Choice], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> "Range":
        if self.choices is not None:
            if self.low is not None or self.high is not None or self.log or self.integer:
                raise ValueError("choices stands alone: no low, high, log or int with it")
            return self
        if self.low is None or self.high is None:
            raise ValueError("give low and high (a number range) or choices (a list)")
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"log needs low above 0 (got {self.low})")
        if self.integer and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError(f"int needs whole low and high (got {self.low}, {self.high})")
        return self

    def ends(self) -> list[Any]:
        """The values the scenario is checked at: every choice, or low and high."""
        if self.choices is not None:
            return list(self.choices)
        return [int(self.low), int(self.high)] if self.integer else [self.low, self.high]


class ParamsFile(_Strict):
    seeds: Annotated[int, Field(ge=1, le=MAX_SEEDS)] = 3
    params: Annotated[dict[str, Range], Field(min_length=1)]


@dataclass(frozen=True)
class Param:
    path: str
    steps: tuple
    range: Range

    def override(self, value: Any) -> Override:
        return Override(self.path, self.steps, value)

    def holds(self, value: Any) -> bool:
        """Whether ``value`` is one the search could draw for this parameter."""
        r = self.range
        if r.choices is not None:
            return value in r.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return r.low <= value <= r.high and (not r.integer or float(value).is_integer())


@dataclass(frozen=True)
class Search:
    """A validated calibration search: the base scenario (with its targets), the parameters and
    the seeds per trial."""

    base: Scenario
    params: list[Param]
    seeds: int
    source: str

    def start_values(self) -> dict[str, Any] | None:
        """The base scenario's own value of every parameter, when each lies in its range (the
        search's first trial: the best it reports is never worse than the scenario as it is);
        None when one does not."""
        values = {}
        for param in self.params:
            value = value_at(self.base, param.override(None))
            if not param.holds(value):
                return None
            values[param.path] = int(value) if param.range.integer else value
        return values


class ParamsError(ExperimentError):
    """A params file that cannot be searched; ``problems`` are ``(where, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        super().__init__(source, problems)
        self.args = (self.args[0].replace("invalid experiment", "invalid params file", 1),)


def load_params(base: Scenario, path: str | Path, seeds: int | None = None) -> Search:
    """Read and check a params file against ``base``; :class:`ParamsError` naming every problem."""
    source = str(path)
    problems: list[tuple[str, str]] = []
    if base.calibration is None:
        problems.append(("scenario", f"{base.name} names no calibration targets (calibration: FILE): nothing to score a trial by"))
    try:
        data = read_yaml(Path(path))
    except ScenarioError as error:  # unreadable, not YAML
        raise ParamsError(source, problems + error.problems) from None
    if not isinstance(data, dict):
        raise ParamsError(source, problems + [("", "expected a mapping with params: {PATH: {low, high} | {choices}}")])
    try:
        spec = ParamsFile.model_validate(data)
    except ValidationError as error:
        raise ParamsError(source, problems + validation_problems(error)) from None
    params = []
    for key, value_range in spec.params.items():
        try:
            params.append(Param(key, parse_path(key), value_range))
        except ValueError as error:
            problems.append((f"params.{key}", str(error)))
    for param in params:
        problems += _param_problems(base, param)
    if seeds is not None and not 1 <= seeds <= MAX_SEEDS:
        problems.append(("--seeds", f"must be 1 to {MAX_SEEDS}, got {seeds}"))
    if problems:
        raise ParamsError(source, problems)
    return Search(base, params, seeds or spec.seeds, source)


def _param_problems(base: Scenario, param: Param) -> list[tuple[str, str]]:
    where = f"params.{param.path}"
    if param.steps[0] in RUN_FIELDS:
        return [(where, f"{param.steps[0]} is set per run by the search: change it in the scenario")]
    if param.steps[0] == "calibration":
        return [(where, "the targets every trial is scored against cannot be searched over: change calibration in the scenario")]
    try:
        target(base, param.override(None))
    except ScenarioError as error:
        return [(where, message) for _, message in error.problems]
    problems = []
    for value in param.range.ends():
        try:
            apply_overrides(base, [param.override(value)], base.name)
        except ScenarioError as error:
            problems += [(f"{where} = {value!r}", f"{field}: {message}") for field, message in error.problems]
    return problems
