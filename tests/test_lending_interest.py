"""Interest: the kinked rate model and the supply and debt indexes against hand computation."""

import pytest
from lending_math import RAY, borrow_rate, ceil_div, compounded_growth, linear_growth

BASE, SLOPE1, SLOPE2, OPTIMAL = 200, 400, 6_000, 8_000  # 2% + 4% to the kink at 80%, then +60%
DAY = 24 * 3600


@pytest.fixture
def market(make_lending, supply, deployer, lp, whale):
    market = make_lending(18, 6)
    market.pool.setInterestRateModel(market.debt, BASE, SLOPE1, SLOPE2, OPTIMAL, sender=deployer)
    supply(market, market.debt, lp, 1_000_000 * 10**6)
    supply(market, market.collateral, whale, 2_000_000 * 10**18)
    return market


def test_indexes_follow_the_rate_model_over_two_periods(market, fund, lp, whale, chain):
    pool, usdc = market.pool, market.debt
    t1 = chain.blocks.head.timestamp + 100
    chain.pending_timestamp = t1
    pool.borrow(usdc, 500_000 * 10**6, sender=whale)

    utilization = RAY // 2  # 500,000 borrowed of 1,000,000
    rate1 = borrow_rate(utilization, BASE, SLOPE1, SLOPE2, OPTIMAL)
    assert rate1 == 45 * RAY // 1_000  # 2% + 4% × 50/80
    # Suppliers earn what borrowers pay, spread over what suppliers are owed: rate × debt / supplied.
    supply_rate1 = rate1 * 500_000 * 10**6 // (1_000_000 * 10**6)
    reserve = pool.getReserveData(usdc)
    assert (reserve.borrowRateRay, reserve.liquidityRateRay) == (rate1, supply_rate1)

    # Period 1: 30 days at rate1. A 1-USDC supply at its end accrues and resets the rates.
    t2 = t1 + 30 * DAY
    fund(usdc, lp, 10**6, spender=pool)
    chain.pending_timestamp = t2
    pool.supply(usdc, 10**6, lp, sender=lp)
    borrow_index = compounded_growth(rate1, 30 * DAY)
    liquidity_index = linear_growth(supply_rate1, 30 * DAY)
    assert pool.getReserveIndexes(usdc) == (liquidity_index, borrow_index)
    debt = ceil_div(500_000 * 10**6 * borrow_index, RAY)
    cash = 500_000 * 10**6 + 10**6
    utilization2 = debt * RAY // (debt + cash)
    rate2 = borrow_rate(utilization2, BASE, SLOPE1, SLOPE2, OPTIMAL)
    lender_scaled = 1_000_000 * 10**6 + 10**6 * RAY // liquidity_index  # second supply scaled down
    supplied = lender_scaled * liquidity_index // RAY
    supply_rate2 = rate2 * debt // supplied
    assert pool.getReserveData(usdc).borrowRateRay == rate2
    assert pool.getReserveData(usdc).liquidityRateRay == supply_rate2

    # Period 2: 10 days at rate2, read without any transaction (views include pending interest).
    chain.mine(timestamp=t2 + 10 * DAY)
    borrow_index2 = borrow_index * compounded_growth(rate2, 10 * DAY) // RAY
    liquidity_index2 = liquidity_index * linear_growth(supply_rate2, 10 * DAY) // RAY
    assert pool.getReserveIndexes(usdc) == (liquidity_index2, borrow_index2)
    assert pool.getUserReserve(whale, usdc) == (0, ceil_div(500_000 * 10**6 * borrow_index2, RAY))
    assert pool.getUserReserve(lp, usdc)[0] == lender_scaled * liquidity_index2 // RAY
    # The debt compounds while the supply index grows linearly: what is owed to suppliers stays
    # covered by cash plus debt.
    reserve = pool.getReserveData(usdc)
    assert reserve.totalSupplied <= reserve.cash + reserve.totalDebt


def test_rate_above_the_kink(market, whale):
    market.pool.borrow(market.debt, 900_000 * 10**6, sender=whale)
    utilization = 9 * RAY // 10
    expected = borrow_rate(utilization, BASE, SLOPE1, SLOPE2, OPTIMAL)
    assert expected == 36 * RAY // 100  # 2% + 4% + 60% × 10/20
    reserve = market.pool.getReserveData(market.debt)
    assert reserve.borrowRateRay == expected
    assert reserve.utilizationWad == 9 * 10**17


def test_no_rates_until_a_model_is_set(make_lending, supply, lp, whale, chain):
    market = make_lending(18, 6)
    supply(market, market.debt, lp, 1_000_000 * 10**6)
    supply(market, market.collateral, whale, 1_000_000 * 10**18)
    market.pool.borrow(market.debt, 500_000 * 10**6, sender=whale)
    chain.mine(timestamp=chain.blocks.head.timestamp + 365 * DAY)
    assert market.pool.getReserveIndexes(market.debt) == (RAY, RAY)
    assert market.pool.getUserReserve(whale, market.debt) == (0, 500_000 * 10**6)
