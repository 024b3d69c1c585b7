"""Scoring a run against its calibration targets.

Per target, the error in tolerances: |sim − real| / tolerance (absolute), or
|ln(sim / real)| / ln(tolerance_factor) (multiplicative; a simulated value at or below 0 is
infinitely far). Within tolerance: error ≤ 1. Points: 1 / (1 + error²), 0 when the run has no
figure or the error is infinite. The run's ``score`` is the weighted mean of the points, in [0, 1]."""

from __future__ import annotations

import math
from typing import Any, Sequence

from sim.calibration.metrics import RunTables, compute
from sim.calibration.targets import Target


def error_of(target: Target, sim: float | None) -> float | None:
    """The target's error in tolerances; None without a simulated value."""
    if sim is None:
        return None
    if target.tolerance is not None:
        return abs(sim - target.value) / target.tolerance
    if sim <= 0:
        return math.inf
    return abs(math.log(sim / target.value)) / math.log(target.tolerance_factor)


def points_of(error: float | None) -> float:
    return 0.0 if error is None or math.isinf(error) else 1.0 / (1.0 + error * error)


def score_values(targets: Sequence[Target], sims: Sequence[float | None]) -> dict[str, Any]:
    """The overall ``score``, how many targets are ``within`` tolerance of ``target_count``, and
    ``targets``: each one's row (sim, real, tolerance, error, within, points)."""
    rows = []
    for target, sim in zip(targets, sims):
        error = error_of(target, sim)
        rows.append({
            "name": target.name, "metric": target.metric, "asset": target.asset, "sim": sim, "real": target.value,
            "tolerance": target.tolerance, "tolerance_factor": target.tolerance_factor, "weight": target.weight,
            "error": None if error is None or math.isinf(error) else error, "within": error is not None and error <= 1.0,
            "points": points_of(error), "source": target.source,
        })
    total_weight = sum(t.weight for t in targets)
    score = sum(r["points"] * r["weight"] for r in rows) / total_weight if total_weight else 0.0
    return {"score": score, "within": sum(r["within"] for r in rows), "target_count": len(rows), "targets": rows}


def score_run(targets: Sequence[Target], tables: RunTables) -> dict[str, Any]:
    """:func:`score_values` of the run's figures."""
    return score_values(targets, [compute(t.metric, tables, t.asset) for t in targets])
