"""The report's Calibration section as display rows: each target's simulated and real figure, its
tolerance, whether the run is within it and the points it scored (``calibration.json``)."""

from __future__ import annotations

from typing import Any, Final, Mapping

from sim.report.format import DASH, as_float, fmt_text

Row = tuple[str, ...]

CALIBRATION_HEADER: Final = ("target", "simulated", "real", "tolerance", "within", "points")
CALIBRATION_NUMERIC_COLUMNS: Final = frozenset({1, 2, 3, 5})


def _number(value: Any) -> str:
    number = as_float(value)
    return DASH if number is None else f"{number:.4g}"


def _tolerance(target: Mapping[str, Any]) -> str:
    if target.get("tolerance") is not None:
        return f"± {_number(target['tolerance'])}"
    return f"× / ÷ {_number(target.get('tolerance_factor'))}"


def calibration_rows(calibration: Mapping[str, Any]) -> list[Row]:
    rows = []
    for t in calibration.get("targets", []):
        label = f"{t['name']} ({t['metric']}{', ' + t['asset'] if t.get('asset') else ''})"
        rows.append((label, _number(t.get("sim")), _number(t.get("real")), _tolerance(t), "✓" if t.get("within") else "✗",
                     f"{float(t.get('points', 0.0)):.2f}"))
    return rows


def calibration_summary(calibration: Mapping[str, Any]) -> str:
    """The sentence above the table: the score and how many targets are within tolerance."""
    return (f"Score {float(calibration.get('score', 0.0)):.3f} (weighted mean of the points, 1 = every figure on its "
            f"target): {calibration.get('within', 0)} of {calibration.get('target_count', 0)} targets within tolerance. "
            f"Points per target: 1 / (1 + error²), the error in tolerances (|sim − real| / tolerance, or "
            f"|ln(sim / real)| / ln(factor)); a target the run has no figure for scores 0. "
            f"Targets: {fmt_text(calibration.get('targets_file'))}.")
