"""LP share accounting: minting, burning, the add/remove helpers, skim and sync, to the wei."""

import ape
import pytest
from pool_math import MINIMUM_LIQUIDITY, first_deposit_shares, later_deposit_shares

DEAD = "0x000000000000000000000000000000000000dEaD"
MAX_UINT256 = 2**256 - 1


@pytest.fixture
def empty_pool(make_pool):
    return make_pool(6, 18, 0, 0)


def ordered(pool, token_a, amount_a, amount_b):
    """(amount0, amount1) from amounts given in (token_a, token_b) order."""
    return (amount_a, amount_b) if pool.token0() == token_a.address else (amount_b, amount_a)


def test_first_deposit_mints_sqrt_k_minus_locked_minimum(empty_pool, lp, deployer):
    pool, usdc, alt = empty_pool
    amount_usdc, amount_alt = 1_000_000 * 10**6, 500_000 * 10**18
    usdc.mint(pool, amount_usdc, sender=deployer)
    alt.mint(pool, amount_alt, sender=deployer)
    pool.mint(lp, sender=lp)
    assert pool.balanceOf(lp) == first_deposit_shares(amount_usdc, amount_alt)
    assert pool.balanceOf(DEAD) == MINIMUM_LIQUIDITY
    assert pool.totalSupply() == first_deposit_shares(amount_usdc, amount_alt) + MINIMUM_LIQUIDITY
    assert pool.getReserves()[:2] == ordered(pool, usdc, amount_usdc, amount_alt)


def test_dust_first_deposit_is_refused(empty_pool, lp, deployer):
    pool, usdc, alt = empty_pool
    usdc.mint(pool, 1000, sender=deployer)
    alt.mint(pool, 1000, sender=deployer)
    with ape.reverts(pool.InsufficientLiquidityMinted, amount0=1000, amount1=1000):
        pool.mint(lp, sender=lp)


def test_unbalanced_later_deposit_mints_the_smaller_share(make_pool, deployer, trader):
    reserve_usdc, reserve_alt = 2_000_000 * 10**6, 1_000_000 * 10**18
    pool, usdc, alt = make_pool(6, 18, reserve_usdc, reserve_alt)
    supply = pool.totalSupply()
    add_usdc, add_alt = 20_000 * 10**6 + 7, 15_000 * 10**18  # alt in excess of the 2:1 ratio
    usdc.mint(pool, add_usdc, sender=deployer)
    alt.mint(pool, add_alt, sender=deployer)
    pool.mint(trader, sender=trader)
    reserve0, reserve1 = ordered(pool, usdc, reserve_usdc, reserve_alt)
    amount0, amount1 = ordered(pool, usdc, add_usdc, add_alt)
    assert pool.balanceOf(trader) == later_deposit_shares(amount0, amount1, reserve0, reserve1, supply)


def test_add_liquidity_pulls_amounts_at_the_pool_ratio(make_pool, fund, trader):
    reserve_usdc, reserve_alt = 2_000_000 * 10**6, 1_000_000 * 10**18
    pool, usdc, alt = make_pool(6, 18, reserve_usdc, reserve_alt)
    supply = pool.totalSupply()
    desired_usdc, desired_alt = 50_000 * 10**6, 40_000 * 10**18
    fund(usdc, trader, desired_usdc, spender=pool)
    fund(alt, trader, desired_alt, spender=pool)
    reserve0, reserve1 = ordered(pool, usdc, reserve_usdc, reserve_alt)
    desired0, desired1 = ordered(pool, usdc, desired_usdc, desired_alt)
    # Router rule: keep desired0 if the matching amount1 fits, else keep desired1.
    if desired0 * reserve1 // reserve0 <= desired1:
        amount0, amount1 = desired0, desired0 * reserve1 // reserve0
    else:
        amount0, amount1 = desired1 * reserve0 // reserve1, desired1
    pool.addLiquidity(desired0, desired1, 0, 0, trader, sender=trader)
    assert pool.balanceOf(trader) == later_deposit_shares(amount0, amount1, reserve0, reserve1, supply)
    assert pool.getReserves()[:2] == (reserve0 + amount0, reserve1 + amount1)
    spent_usdc = desired_usdc - usdc.balanceOf(trader)
    spent_alt = desired_alt - alt.balanceOf(trader)
    assert ordered(pool, usdc, spent_usdc, spent_alt) == (amount0, amount1)


def test_add_liquidity_minimums_and_zero(make_pool, fund, trader):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18)
    fund(usdc, trader, 10**12, spender=pool)
    fund(alt, trader, 10**24, spender=pool)
    desired = ordered(pool, usdc, 2_000 * 10**6, 2_000 * 10**18)  # only 1,000 alt fit the ratio
    minimums = ordered(pool, usdc, 0, 2_000 * 10**18)
    with ape.reverts(pool.AmountBelowMinimum, token=alt.address, amount=1_000 * 10**18, minAmount=2_000 * 10**18):
        pool.addLiquidity(*desired, *minimums, trader, sender=trader)
    with ape.reverts(pool.ZeroAmount):
        pool.addLiquidity(0, 10**18, 0, 0, trader, sender=trader)


def test_remove_liquidity_returns_pro_rata_and_burns_shares(make_pool, lp):
    reserve_usdc, reserve_alt = 2_000_000 * 10**6, 1_000_000 * 10**18
    pool, usdc, alt = make_pool(6, 18, reserve_usdc, reserve_alt)
    supply = pool.totalSupply()
    shares = pool.balanceOf(lp) // 3 + 11
    reserve0, reserve1 = ordered(pool, usdc, reserve_usdc, reserve_alt)
    expected0, expected1 = shares * reserve0 // supply, shares * reserve1 // supply
    pool.removeLiquidity(shares, expected0, expected1, lp, sender=lp)
    assert ordered(pool, usdc, usdc.balanceOf(lp), alt.balanceOf(lp)) == (expected0, expected1)
    assert pool.totalSupply() == supply - shares
    assert pool.getReserves()[:2] == (reserve0 - expected0, reserve1 - expected1)


def test_remove_liquidity_minimum_and_zero(make_pool, lp):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18)
    with ape.reverts(pool.ZeroAmount):
        pool.removeLiquidity(0, 0, 0, lp, sender=lp)
    with ape.reverts(pool.AmountBelowMinimum):
        pool.removeLiquidity(10**18, MAX_UINT256, 0, lp, sender=lp)


def test_burning_dust_is_refused(make_pool, lp):
    pool, _, _ = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18)
    pool.transfer(pool, 1, sender=lp)  # one share is worth less than one micro-USDC
    with ape.reverts(pool.InsufficientLiquidityBurned):
        pool.burn(lp, sender=lp)


def test_skim_sends_the_surplus_and_sync_absorbs_it(make_pool, deployer, trader):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18)
    reserves = pool.getReserves()[:2]
    usdc.mint(pool, 777, sender=deployer)
    pool.skim(trader, sender=trader)
    assert usdc.balanceOf(trader) == 777
    assert pool.getReserves()[:2] == reserves
    alt.mint(pool, 999, sender=deployer)
    pool.sync(sender=trader)
    assert pool.getReserves()[:2] == ordered(pool, usdc, 2_000_000 * 10**6, 1_000_000 * 10**18 + 999)
