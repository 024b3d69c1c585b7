"""sim.units: exact integer conversions, no silent truncation, floats only through their repr."""

from decimal import Decimal

import pytest

from sim import units


@pytest.mark.parametrize(
    "amount,decimals,expected",
    [
        ("1.5", 6, 1_500_000),
        (Decimal("123456789.123456789012345678"), 18, 123456789123456789012345678),
        (0.1, 18, 10**17),  # the float 0.1 means the decimal 0.1, not 0.1000000000000000055…
        (3, 8, 300_000_000),
        ("1e12", 18, 10**30),  # larger than Decimal's default 28-digit precision
    ],
)
def test_to_units_is_exact(amount, decimals, expected):
    assert units.to_units(amount, decimals) == expected


def test_finer_than_one_unit_is_an_error_unless_rounding_is_asked():
    with pytest.raises(ValueError, match="more than 6 decimals"):
        units.to_units("0.0000001", 6)
    assert units.to_units("1.0000009", 6, "floor") == 1_000_000
    assert units.to_units("1.0000001", 6, "ceil") == 1_000_001
    assert units.to_units("-1.0000001", 6, "floor") == -1_000_001


@pytest.mark.parametrize("bad", [True, None, [1], "abc", "nan", float("inf")])
def test_non_numbers_are_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        units.to_units(bad, 18)


def test_from_units_round_trips():
    for value in [0, 1, 10**18 - 1, 2**255]:
        assert units.to_units(units.from_units(value, 18), 18) == value
    assert units.from_units(1_500_000, 6) == Decimal("1.5")
    with pytest.raises(TypeError, match="units must be an int"):
        units.from_units(1.5, 6)


def test_scales():
    assert units.to_wad("0.95") == 95 * 10**16
    assert units.to_bps("0.05") == 500
    assert units.from_bps(10_500) == Decimal("1.05")
    with pytest.raises(ValueError):
        units.to_bps("0.00005")  # half a basis point
    assert units.to_usd_price("65000.123456789") == 65000_12345678  # rounded down
    assert units.usd_price_to_wad(2_00000000) == 2 * 10**18
    assert units.wad_to_usd_price(10**18 + 10**10 - 1) == 1_00000000


def test_mul_div_and_rescale_round_as_asked():
    assert units.mul_div(7, 3, 2) == 10
    assert units.mul_div(7, 3, 2, round_up=True) == 11
    assert units.mul_div(8, 3, 2, round_up=True) == 12
    assert units.rescale(1_234_567, 6, 18) == 1_234_567 * 10**12
    assert units.rescale(1_999_999_999_999, 18, 6) == 1
    assert units.rescale(1_000_000_000_001, 18, 6, round_up=True) == 2
    with pytest.raises(ZeroDivisionError):
        units.mul_div(1, 1, 0)


def test_usd_value():
    # 2.5 WBTC (8 decimals) at $65,000.5 -> $162,501.25
    assert units.usd_value(250_000_000, 8, 65000_50000000) == 162501_25000000


def test_more_digits_than_the_precision_are_refused_not_rounded():
    too_long = "0." + "9" * 125
    with pytest.raises(ArithmeticError):
        units.to_units(too_long, 18, "floor")
