"""Calibration targets files: the real figures a run is scored against.

::

    targets:
      - name: alt_pool_drawdown
        metric: pool_drawdown        # a name of sim.calibration.metrics.METRICS
        asset: ALT                   # exactly for the metrics that take one
        value: 0.65                  # the real figure
        tolerance: 0.15              # absolute; or tolerance_factor: 2 (multiplicative, > 1)
        weight: 1                    # default 1
        source: "small caps −50% to −80% (oct10-ground-truth.md, Prices)"

:func:`load_targets` returns the :class:`Target` list or raises :class:`TargetsError` naming every
bad field by its place (``targets[3].tolerance_factor: ...``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, model_validator

from sim.calibration.metrics import METRICS
from sim.scenario import Scenario, ScenarioError
from sim.scenario.base import MAX_USD, Symbol, _Strict
from sim.scenario.loading import read_yaml, validation_problems

Finite = Annotated[float, Field(ge=-MAX_USD, le=MAX_USD)]


class Target(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,79}$")]
    metric: str
    asset: Symbol | None = None
    value: Finite
    tolerance: Annotated[float, Field(gt=0.0, le=MAX_USD)] | None = None
    tolerance_factor: Annotated[float, Field(gt=1.0, le=1e6)] | None = None
    weight: Annotated[float, Field(gt=0.0, le=1e6)] = 1.0
    source: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> "Target":
        metric = METRICS.get(self.metric)
        if metric is None:
            raise ValueError(f"metric {self.metric!r} is not one of: {', '.join(sorted(METRICS))}")
        if metric.takes_asset and self.asset is None:
            raise ValueError(f"metric {self.metric} needs asset: the asset whose figure it is")
        if not metric.takes_asset and self.asset is not None:
            raise ValueError(f"metric {self.metric} takes no asset (asset: {self.asset})")
        if (self.tolerance is None) == (self.tolerance_factor is None):
            raise ValueError("give exactly one of tolerance (absolute) and tolerance_factor (multiplicative, > 1)")
        if self.tolerance_factor is not None and self.value <= 0:
            raise ValueError(f"tolerance_factor needs a value above 0 (got {self.value}): use an absolute tolerance")
        return self


class TargetsFile(_Strict):
    targets: Annotated[list[Target], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_names(self) -> "TargetsFile":
        names = [t.name for t in self.targets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"target names must be unique: {', '.join(repeated)} appear(s) more than once")
        return self


class TargetsError(ScenarioError):
    """A targets file that cannot be used; ``problems`` are ``(where, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        super().__init__(source, problems)
        lines = [f"{path}: {message}" if path else message for path, message in problems]
        self.args = (f"invalid calibration targets {source}:\n  " + "\n  ".join(lines),)


def load_targets(path: str | Path) -> list[Target]:
    """Read and validate a targets file; :class:`TargetsError` listing every problem."""
    try:
        data = read_yaml(Path(path))
    except ScenarioError as error:
        raise TargetsError(str(path), error.problems) from None
    if not isinstance(data, dict):
        raise TargetsError(str(path), [("", "expected a mapping with targets: [...]")])
    try:
        return list(TargetsFile.model_validate(data).targets)
    except ValidationError as error:
        raise TargetsError(str(path), validation_problems(error)) from None


def calibration_problems(scenario: Scenario) -> list[tuple[str, str]]:
    """``("calibration", why)`` when the scenario's targets file cannot be used, else nothing."""
    if scenario.calibration is None:
        return []
    try:
        targets = load_targets(scenario.calibration)
    except TargetsError as error:
        return [("calibration", f"{scenario.calibration}: " + "; ".join(f"{w}: {m}" if w else m for w, m in error.problems))]
    pooled = [pool.asset for pool in scenario.pools]  # the one metric with an asset reads its pool
    unknown = [f"targets[{i}].asset: scenario {scenario.name!r} has no pool of {t.asset!r} (its pools: {', '.join(pooled) or 'none'})"
               for i, t in enumerate(targets) if t.asset is not None and t.asset not in pooled]
    return [("calibration", f"{scenario.calibration}: " + "; ".join(unknown))] if unknown else []
