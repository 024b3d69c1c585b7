"""The tests' own statement of the rules they check, written from the Uniswap V2 whitepaper."""

from math import isqrt

BPS = 10_000
Q112 = 2**112
MINIMUM_LIQUIDITY = 1000


def expected_amount_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Largest output with (x + a·(1−f))·(y − out) ≥ x·y, i.e. floor(a'·y / (x + a')) with a' = a·(1−f)."""
    effective_in = amount_in * (BPS - fee_bps)
    return effective_in * reserve_out // (reserve_in * BPS + effective_in)


def first_deposit_shares(amount0: int, amount1: int) -> int:
    return isqrt(amount0 * amount1) - MINIMUM_LIQUIDITY


def later_deposit_shares(amount0: int, amount1: int, reserve0: int, reserve1: int, supply: int) -> int:
    return min(amount0 * supply // reserve0, amount1 * supply // reserve1)


def reserves_of(pool, token):
    """(reserve of ``token``, reserve of the other token)."""
    reserve0, reserve1, _ = pool.getReserves()
    return (reserve0, reserve1) if pool.token0() == token.address else (reserve1, reserve0)


def uq112_price(reserve_quote: int, reserve_base: int) -> int:
    """The V2 accumulator's per-second increment: quote per base as UQ112x112, rounded down."""
    return (reserve_quote << 112) // reserve_base
