"""The one place where on-chain integers meet human numbers.

On-chain amounts are Python ``int`` in the token's native units, always. Human-facing numbers
(scenario values, printed reports) are ``decimal.Decimal``. Floats are accepted as *input* only
through their shortest decimal representation (``0.1`` means exactly ``Decimal("0.1")``), and are
never produced for an amount.

Scales used across the project:

* token amounts — the token's own decimals (USDC 6, WBTC 8, most others 18);
* WAD — 1e18, for prices and ratios in the lending and perp contracts;
* RAY — 1e27, for interest indexes;
* basis points — 1e4, for parameters (fees, LTVs, margins);
* USD prices — 8 decimals, as Chainlink's USD feeds answer;
* UQ112x112 — Uniswap V2's fixed point for cumulative prices.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, Inexact, InvalidOperation, localcontext
from typing import Literal, Union

WAD = 10**18
RAY = 10**27
BPS = 10_000
USD_DECIMALS = 8
USD_UNIT = 10**USD_DECIMALS
Q112 = 2**112

Number = Union[int, str, Decimal, float]
Rounding = Literal["exact", "floor", "ceil"]

_PRECISION = 120  # digits: enough for any uint256 at any scale used here


def to_decimal(value: Number) -> Decimal:
    """An exact Decimal for ``value``; a float is read through its shortest repr."""
    if isinstance(value, bool):
        raise TypeError(f"expected a number, got bool {value!r}")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, (int, str, Decimal)):
        try:
            result = Decimal(value)
        except InvalidOperation as err:
            raise ValueError(f"not a number: {value!r}") from err
        if not result.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return result
    raise TypeError(f"expected int, str, Decimal or float, got {type(value).__name__}")


def to_units(amount: Number, decimals: int, rounding: Rounding = "exact") -> int:
    """``amount`` whole units (e.g. 1.5 USDC) as an integer of ``decimals`` decimals (1_500_000).

    With ``rounding="exact"`` an amount finer than one native unit is an error, never silently cut.
    """
    _check_decimals(decimals)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.traps[Inexact] = True  # more significant digits than the precision: refuse, never round
        scaled = to_decimal(amount).scaleb(decimals)
        if rounding == "exact":
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{amount} has more than {decimals} decimals")
            return int(scaled)
        if rounding == "floor":
            return int(scaled.to_integral_value(rounding=ROUND_FLOOR))
        if rounding == "ceil":
            return int(scaled.to_integral_value(rounding=ROUND_CEILING))
    raise ValueError(f"rounding must be 'exact', 'floor' or 'ceil', got {rounding!r}")


def from_units(units: int, decimals: int) -> Decimal:
    """An integer of ``decimals`` decimals as an exact Decimal of whole units."""
    _check_int(units, "units")
    _check_decimals(decimals)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        ctx.traps[Inexact] = True
        return Decimal(units).scaleb(-decimals)


def to_wad(value: Number, rounding: Rounding = "exact") -> int:
    """A price or ratio as WAD (1e18 = 1)."""
    return to_units(value, 18, rounding)


def from_wad(wad: int) -> Decimal:
    return from_units(wad, 18)


def to_usd_price(price_usd: Number, rounding: Rounding = "floor") -> int:
    """A USD price as 8-decimal fixed point, as Chainlink USD feeds answer (rounded down by default)."""
    return to_units(price_usd, USD_DECIMALS, rounding)


def from_usd_price(price: int) -> Decimal:
    return from_units(price, USD_DECIMALS)


def to_bps(fraction: Number) -> int:
    """A fraction (0.05) as basis points (500); must be a whole number of bps."""
    return to_units(fraction, 4)


def from_bps(bps: int) -> Decimal:
    return from_units(bps, 4)


def mul_div(a: int, b: int, denominator: int, round_up: bool = False) -> int:
    """``a * b / denominator`` on integers, rounded down (or up), like Math.mulDiv."""
    for name, value in (("a", a), ("b", b), ("denominator", denominator)):
        _check_int(value, name)
    if denominator == 0:
        raise ZeroDivisionError("mul_div by zero")
    quotient, remainder = divmod(a * b, denominator)
    return quotient + 1 if round_up and remainder else quotient


def rescale(amount: int, from_decimals: int, to_decimals: int, round_up: bool = False) -> int:
    """An integer amount moved from one decimal scale to another."""
    _check_decimals(from_decimals)
    _check_decimals(to_decimals)
    if to_decimals >= from_decimals:
        _check_int(amount, "amount")
        return amount * 10 ** (to_decimals - from_decimals)
    return mul_div(amount, 1, 10 ** (from_decimals - to_decimals), round_up)


def usd_price_to_wad(price: int) -> int:
    """8-decimal USD price to WAD."""
    return rescale(price, USD_DECIMALS, 18)


def wad_to_usd_price(wad: int) -> int:
    """WAD price to 8-decimal USD price, rounded down."""
    return rescale(wad, 18, USD_DECIMALS)


def usd_value(amount: int, decimals: int, price: int) -> int:
    """USD value (8 decimals, rounded down) of ``amount`` native units at an 8-decimal USD price."""
    return mul_div(amount, price, 10**decimals)


def _check_int(value: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int of native units, got {type(value).__name__} {value!r}")


def _check_decimals(decimals: int) -> None:
    _check_int(decimals, "decimals")
    if not 0 <= decimals <= 77:
        raise ValueError(f"decimals must be within 0..77, got {decimals}")


def units_for_usd(usd: int, decimals: int, price: int) -> int:
    """Native units worth ``usd`` (8-decimal USD) at an 8-decimal USD price, rounded down."""
    _check_int(usd, "usd")
    return mul_div(usd, 10**decimals, price)


def usd_float(usd: int) -> float:
    """An 8-decimal USD amount as a float, for reporting only (never fed back on chain)."""
    return usd / USD_UNIT


def units_float(amount: int, decimals: int) -> float:
    """Native units as a float number of tokens, for reporting only."""
    return amount / 10**decimals
