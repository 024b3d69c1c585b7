"""Value formatting for the report: missing-value tests, number parsing, and display strings.

Every formatter accepts whatever a summary mapping or a table cell may hold (``None``, NaN, numbers,
numeric strings) and shows a missing or unparseable value as :data:`DASH`.
"""

from __future__ import annotations

import math
from typing import Any, Final, Mapping

import pandas as pd

DASH: Final = "—"


def is_missing(value: Any) -> bool:
    """True for ``None`` and for anything pandas considers NA (NaN, NaT, ``pd.NA``)."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def is_present(value: Any) -> bool:
    """True unless the value is missing or the empty string."""
    return not is_missing(value) and value != ""


def as_float(value: Any) -> float | None:
    """The value as a finite float, or None if it is missing, not a number, or infinite."""
    if is_missing(value):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def as_int(value: Any) -> int | None:
    """The value as an int (truncated toward zero), or None where :func:`as_float` gives None."""
    number = as_float(value)
    return int(number) if number is not None else None


def ratio(numerator: Any, denominator: Any) -> float | None:
    """``numerator / denominator``, or None if either is missing or the denominator is zero."""
    num, den = as_float(numerator), as_float(denominator)
    if num is None or den is None or den == 0:
        return None
    return num / den


def get(mapping: Any, *keys: str) -> Any:
    """``mapping[k1][k2]…`` or None if any level is missing or not a mapping."""
    current = mapping
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def fmt_usd(value: Any) -> str:
    """``$1,234,567`` (cents below $100), ``-$1,234`` for losses, ``—`` when missing."""
    number = as_float(value)
    if number is None:
        return DASH
    decimals = 2 if 0 < abs(number) < 100 else 0
    sign = "-" if number < 0 and round(abs(number), decimals) != 0 else ""
    return f"{sign}${abs(number):,.{decimals}f}"


def fmt_pct(value: Any) -> str:
    """A fraction as a percentage with one decimal: ``0.1234`` → ``12.3%``."""
    number = as_float(value)
    return DASH if number is None else f"{number * 100:,.1f}%"


def fmt_int(value: Any) -> str:
    """An integer with thousands separators: ``1234567`` → ``1,234,567``."""
    number = as_int(value)
    return DASH if number is None else f"{number:,}"


def fmt_float(value: Any, decimals: int = 2, suffix: str = "") -> str:
    """A number with thousands separators, ``decimals`` decimals and an optional unit ``suffix``."""
    number = as_float(value)
    return DASH if number is None else f"{number:,.{decimals}f}{suffix}"


def fmt_text(value: Any) -> str:
    """The value as text, or ``—`` when it is missing or empty."""
    return DASH if is_missing(value) or value == "" else str(value)


def short_address(value: Any) -> str:
    """``0x1234…abcd`` for an address or hash; other text unchanged."""
    text = fmt_text(value)
    return f"{text[:6]}…{text[-4:]}" if text.startswith("0x") and len(text) > 14 else text


def usd_compact(value: float, digits: int = 3) -> str:
    """Axis tick label: $950, $12.5k, $3.2M, $1.1B (``digits`` significant digits)."""
    magnitude = abs(value)
    sign = "-" if value < 0 else ""
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            return f"{sign}${magnitude / threshold:,.{digits}g}{suffix}"
    return f"{sign}${magnitude:,.{digits}g}"


def price_tick(value: float) -> str:
    """Axis tick label for a price: whole dollars from $100 up, four significant digits below."""
    return f"${value:,.0f}" if abs(value) >= 100 else f"${value:,.4g}"
