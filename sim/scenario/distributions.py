"""Values an agent population draws per agent: a constant, a uniform or a lognormal."""

from __future__ import annotations

import math
from typing import Annotated, Any, Union

from pydantic import Discriminator, Field, Tag, model_validator

from sim.scenario.base import MAX_LOG_SIGMA, _Strict


class Uniform(_Strict):
    uniform: Annotated[list[float], Field(min_length=2, max_length=2)]

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        low, high = self.uniform
        if low > high:
            raise ValueError(f"uniform bounds must be [low, high] with low <= high, got [{low}, {high}]")
        return self


class LogNormal(_Strict):
    """Median and the standard deviation of the logarithm."""

    lognormal: Annotated[list[float], Field(min_length=2, max_length=2)]

    @model_validator(mode="after")
    def _positive(self) -> "LogNormal":
        median, sigma = self.lognormal
        if median <= 0 or not 0 <= sigma <= MAX_LOG_SIGMA:
            raise ValueError(f"lognormal needs median > 0 and 0 <= sigma <= {MAX_LOG_SIGMA}, got [{median}, {sigma}]")
        return self


def _distribution_kind(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in ("uniform", "lognormal") else None
    if isinstance(value, (Uniform, LogNormal)):
        return "uniform" if isinstance(value, Uniform) else "lognormal"
    return None


Distribution = Annotated[
    Union[Annotated[float, Tag("number")], Annotated[Uniform, Tag("uniform")], Annotated[LogNormal, Tag("lognormal")]],
    Discriminator(
        _distribution_kind,
        custom_error_type="distribution",
        custom_error_message="expected a number, {uniform: [low, high]} or {lognormal: [median, sigma]}",
    ),
]
"""A constant, ``{uniform: [low, high]}`` or ``{lognormal: [median, sigma]}``; each agent draws
its own value from the model's generator."""


def bounds(dist: Distribution) -> tuple[float, float]:
    """The smallest and largest value a distribution can give (lognormal: (0, inf))."""
    if isinstance(dist, Uniform):
        return dist.uniform
    if isinstance(dist, LogNormal):
        return (0.0, float("inf"))
    return (float(dist), float(dist))


def typical_high(dist: Distribution) -> float:
    """The largest value a distribution is meant to give: its upper bound, or a lognormal's
    median × e^(3 sigma) (99.87% of draws are below it)."""
    if isinstance(dist, LogNormal):
        median, sigma = dist.lognormal
        return median * math.exp(3 * sigma)
    return bounds(dist)[1]
