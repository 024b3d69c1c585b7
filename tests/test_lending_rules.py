"""LendingPool rules: borrow and withdraw borders, caps, pause, oracle checks, configuration
validation, access control, and every user-facing custom error."""

import ape
import pytest
from conftest import LendingMarket as M
from lending_math import USD, WAD, collateral_value, debt_value

MAX_UINT256 = 2**256 - 1
ZERO = "0x" + "00" * 20


@pytest.fixture
def market(make_lending, supply, lp):
    market = make_lending(18, 6)
    supply(market, market.debt, lp, 1_000_000 * 10**6)
    return market


@pytest.fixture
def borrower_with_collateral(market, supply, whale):
    supply(market, market.collateral, whale, 10_000 * 10**18)  # $20,000 at $2
    return whale


@pytest.mark.parametrize("collateral_decimals,debt_decimals", [(18, 6), (6, 18)])
def test_borrow_up_to_ltv_and_not_one_unit_more(make_lending, supply, lp, whale, collateral_decimals, debt_decimals):
    market = make_lending(collateral_decimals, debt_decimals)
    supply(market, market.debt, lp, 1_000_000 * 10**debt_decimals)
    supply(market, market.collateral, whale, 10_000 * 10**collateral_decimals)
    max_debt_base = collateral_value(10_000 * 10**collateral_decimals, 2 * USD, collateral_decimals) * M.COLLATERAL_LTV_BPS // 10_000
    max_borrow = max_debt_base * 10**debt_decimals // USD  # $15,000
    assert max_borrow == 15_000 * 10**debt_decimals
    over = max_borrow + 1
    with ape.reverts(market.pool.BorrowExceedsLtv, debtBaseAfter=debt_value(over, USD, debt_decimals), maxDebtBase=max_debt_base):
        market.pool.borrow(market.debt, over, sender=whale)
    market.pool.borrow(market.debt, max_borrow, sender=whale)
    assert market.debt.balanceOf(whale) == max_borrow
    collateral_base, debt_base, available, threshold, ltv, hf = market.pool.getUserAccountData(whale)
    assert (collateral_base, debt_base, available) == (20_000 * USD, 15_000 * USD, 0)
    assert (threshold, ltv) == (M.COLLATERAL_LT_BPS, M.COLLATERAL_LTV_BPS)
    assert hf == 20_000 * USD * M.COLLATERAL_LT_BPS * WAD // (15_000 * USD * 10_000)


def test_withdraw_keeps_health_factor_at_least_one(market, borrower_with_collateral):
    pool, whale = market.pool, borrower_with_collateral
    pool.borrow(market.debt, 8_000 * 10**6, sender=whale)
    # HF = collateral × $2 × 0.8 / 8,000 ≥ 1 needs collateral ≥ 5,000: 5,000 may go, not one wei more.
    with ape.reverts(pool.HealthFactorBelowOne):
        pool.withdraw(market.collateral, 5_000 * 10**18 + 1, whale, sender=whale)
    pool.withdraw(market.collateral, 5_000 * 10**18, whale, sender=whale)
    assert pool.getUserAccountData(whale)[5] == WAD
    assert pool.getUserReserve(whale, market.collateral) == (5_000 * 10**18, 0)


def test_withdraw_all_and_repay_all(market, borrower_with_collateral, fund):
    pool, whale = market.pool, borrower_with_collateral
    pool.borrow(market.debt, 1_000 * 10**6, sender=whale)
    fund(market.debt, whale, 0, spender=pool)
    receipt = pool.repay(market.debt, MAX_UINT256, whale, sender=whale)
    (event,) = receipt.decode_logs(pool.Repay)
    assert event.amount == 1_000 * 10**6
    assert pool.getUserReserve(whale, market.debt) == (0, 0)
    pool.withdraw(market.collateral, MAX_UINT256, whale, sender=whale)
    assert market.collateral.balanceOf(whale) == 10_000 * 10**18
    assert pool.getUserReserve(whale, market.collateral) == (0, 0)


def test_repay_on_behalf_and_overpayment_is_capped(market, borrower_with_collateral, fund, trader):
    pool, whale = market.pool, borrower_with_collateral
    pool.borrow(market.debt, 1_000 * 10**6, sender=whale)
    fund(market.debt, trader, 5_000 * 10**6, spender=pool)
    pool.repay(market.debt, 5_000 * 10**6, whale, sender=trader)
    assert market.debt.balanceOf(trader) == 4_000 * 10**6
    assert pool.getUserReserve(whale, market.debt) == (0, 0)


def test_caps(market, supply, borrower_with_collateral, deployer, fund, trader):
    pool, whale = market.pool, borrower_with_collateral
    pool.setCaps(market.collateral, 10_500 * 10**18, 0, sender=deployer)
    fund(market.collateral, trader, 1_000 * 10**18, spender=pool)
    with ape.reverts(pool.SupplyCapExceeded, asset=market.collateral.address, totalSuppliedAfter=11_000 * 10**18, supplyCap=10_500 * 10**18):
        pool.supply(market.collateral, 1_000 * 10**18, trader, sender=trader)
    pool.supply(market.collateral, 500 * 10**18, trader, sender=trader)  # exactly at the cap
    pool.setCaps(market.debt, 0, 2_000 * 10**6, sender=deployer)
    with ape.reverts(pool.BorrowCapExceeded, asset=market.debt.address, totalDebtAfter=2_000 * 10**6 + 1, borrowCap=2_000 * 10**6):
        pool.borrow(market.debt, 2_000 * 10**6 + 1, sender=whale)
    pool.borrow(market.debt, 2_000 * 10**6, sender=whale)


def test_pause_stops_every_user_action(market, borrower_with_collateral, deployer, fund):
    pool, whale = market.pool, borrower_with_collateral
    pool.borrow(market.debt, 1_000 * 10**6, sender=whale)
    fund(market.debt, whale, 0, spender=pool)
    pool.setPaused(True, sender=deployer)
    for action in (
        lambda: pool.supply(market.collateral, 1, whale, sender=whale),
        lambda: pool.withdraw(market.collateral, 1, whale, sender=whale),
        lambda: pool.borrow(market.debt, 1, sender=whale),
        lambda: pool.repay(market.debt, 1, whale, sender=whale),
        lambda: pool.liquidationCall(market.collateral, market.debt, whale, 1, False, sender=whale),
    ):
        with ape.reverts(pool.Paused):
            action()
    pool.setPaused(False, sender=deployer)
    pool.repay(market.debt, 1, whale, sender=whale)


def test_stale_price_is_refused(market, borrower_with_collateral, deployer, chain):
    pool, whale = market.pool, borrower_with_collateral
    updated_at = market.collateral_feed.latestRoundData()[3]
    pool.setMaxOracleAge(3_600, sender=deployer)
    chain.pending_timestamp = updated_at + 3_601
    with ape.reverts(pool.StalePrice, asset=market.collateral.address, updatedAt=updated_at, maxOracleAgeS=3_600):
        pool.borrow(market.debt, 1, sender=whale)
    pool.setMaxOracleAge(0, sender=deployer)  # 0 disables the check
    pool.borrow(market.debt, 1, sender=whale)


@pytest.mark.parametrize("bad_answer", [0, -1])
def test_non_positive_price_is_refused(market, borrower_with_collateral, deployer, bad_answer):
    market.collateral_feed.setAnswer(bad_answer, sender=deployer)
    with ape.reverts(market.pool.InvalidPrice, asset=market.collateral.address, answer=bad_answer):
        market.pool.getUserAccountData(borrower_with_collateral)
    with ape.reverts(market.pool.InvalidPrice):
        market.pool.borrow(market.debt, 1, sender=borrower_with_collateral)


def test_oracle_with_other_decimals_is_rescaled(market, borrower_with_collateral, deployer, project):
    feed18 = project.MockAggregator.deploy(18, "ALT / USD", 3 * 10**18 + 123, sender=deployer)
    market.pool.setOracle(market.collateral, feed18, sender=deployer)
    assert market.pool.getAssetPrice(market.collateral) == 3 * USD  # rounded down to 8 decimals
    assert market.pool.getUserAccountData(borrower_with_collateral)[0] == 30_000 * USD


def test_user_action_errors(market, borrower_with_collateral, whale, stranger, make_token):
    pool = market.pool
    other = make_token("OTHER", 18)
    with ape.reverts(pool.ZeroAmount):
        pool.supply(market.collateral, 0, whale, sender=whale)
    with ape.reverts(pool.ZeroAddress):
        pool.supply(market.collateral, 1, ZERO, sender=whale)
    with ape.reverts(pool.ReserveNotListed, asset=other.address):
        pool.supply(other, 1, whale, sender=whale)
    with ape.reverts(pool.BorrowingNotEnabled, asset=market.collateral.address):
        pool.borrow(market.collateral, 1, sender=whale)
    with ape.reverts(pool.InsufficientLiquidity, asset=market.debt.address, requested=1_000_000 * 10**6 + 1, available=1_000_000 * 10**6):
        pool.borrow(market.debt, 1_000_000 * 10**6 + 1, sender=whale)
    with ape.reverts(pool.InsufficientCollateral, asset=market.collateral.address, requested=10_000 * 10**18 + 1, balance=10_000 * 10**18):
        pool.withdraw(market.collateral, 10_000 * 10**18 + 1, whale, sender=whale)
    with ape.reverts(pool.NoDebt, user=stranger.address, asset=market.debt.address):
        pool.repay(market.debt, 1, stranger, sender=whale)
    with ape.reverts(pool.BorrowExceedsLtv):
        pool.borrow(market.debt, 1, sender=stranger)  # no collateral at all


def test_withdraw_is_limited_by_idle_cash(market, supply, lp, whale, make_lending):
    # The lender's deposit is lent out: it cannot be withdrawn until repaid.
    pool = market.pool
    supply(market, market.collateral, whale, 1_000_000 * 10**18)
    pool.borrow(market.debt, 600_000 * 10**6, sender=whale)
    with ape.reverts(pool.InsufficientLiquidity, asset=market.debt.address, requested=1_000_000 * 10**6, available=400_000 * 10**6):
        pool.withdraw(market.debt, MAX_UINT256, lp, sender=lp)


def test_listing_and_configuration_validation(project, deployer, make_token):
    pool = project.LendingPool.deploy(sender=deployer)
    token = make_token("T", 18)
    feed = project.MockAggregator.deploy(8, "T / USD", USD, sender=deployer)
    with ape.reverts(pool.InvalidRiskParameters, ltvBps=8_100, liquidationThresholdBps=8_000, liquidationBonusBps=10_500):
        pool.listReserve(token, feed, 8_100, 8_000, 10_500, True, sender=deployer)
    with ape.reverts(pool.InvalidRiskParameters, ltvBps=8_000, liquidationThresholdBps=9_600, liquidationBonusBps=10_500):
        pool.listReserve(token, feed, 8_000, 9_600, 10_500, True, sender=deployer)  # 96% × 105% > 100%
    with ape.reverts(pool.InvalidRiskParameters):
        pool.listReserve(token, feed, 8_000, 8_500, 9_999, True, sender=deployer)  # a bonus below 100%
    with ape.reverts(pool.ZeroAddress):
        pool.listReserve(token, ZERO, 8_000, 8_500, 10_500, True, sender=deployer)
    pool.listReserve(token, feed, 8_000, 9_500, 10_526, True, sender=deployer)  # 95% × 105.26% ≤ 100%
    with ape.reverts(pool.ReserveAlreadyListed, asset=token.address):
        pool.listReserve(token, feed, 8_000, 8_500, 10_500, True, sender=deployer)
    with ape.reverts(pool.InvalidCloseFactor, closeFactorBps=0, fullLiquidationHealthFactorWad=WAD):
        pool.setCloseFactor(0, WAD, sender=deployer)
    with ape.reverts(pool.InvalidCloseFactor, closeFactorBps=5_000, fullLiquidationHealthFactorWad=WAD + 1):
        pool.setCloseFactor(5_000, WAD + 1, sender=deployer)
    with ape.reverts(pool.InvalidProtocolFee, feeBps=10_001):
        pool.setLiquidationProtocolFee(token, 10_001, sender=deployer)
    with ape.reverts(pool.InvalidInterestRateModel, optimalUtilizationBps=10_000):
        pool.setInterestRateModel(token, 0, 400, 6_000, 10_000, sender=deployer)
    with ape.reverts(pool.ZeroAddress):
        pool.setTreasury(ZERO, sender=deployer)
    with ape.reverts(pool.ReserveNotListed, asset=deployer.address):
        pool.setCaps(deployer, 1, 1, sender=deployer)


def test_reserve_list_is_bounded(project, deployer, make_token):
    pool = project.LendingPool.deploy(sender=deployer)
    feed = project.MockAggregator.deploy(8, "X / USD", USD, sender=deployer)
    for _ in range(pool.MAX_RESERVES()):
        pool.listReserve(make_token("X", 18), feed, 0, 0, 10_000, True, sender=deployer)
    with ape.reverts(pool.TooManyReserves, maxReserves=32):
        pool.listReserve(make_token("X", 18), feed, 0, 0, 10_000, True, sender=deployer)


def test_owner_functions_refuse_strangers(market, stranger):
    pool = market.pool
    calls = [
        lambda: pool.listReserve(market.debt, market.debt_feed, 0, 0, 10_000, True, sender=stranger),
        lambda: pool.setCloseFactor(5_000, WAD, sender=stranger),
        lambda: pool.setLiquidationRules(1, sender=stranger),
        lambda: pool.setLiquidationProtocolFee(market.debt, 0, sender=stranger),
        lambda: pool.setTreasury(stranger, sender=stranger),
        lambda: pool.setInterestRateModel(market.debt, 0, 0, 0, 8_000, sender=stranger),
        lambda: pool.setCaps(market.debt, 0, 0, sender=stranger),
        lambda: pool.setOracle(market.debt, market.debt_feed, sender=stranger),
        lambda: pool.setMaxOracleAge(1, sender=stranger),
        lambda: pool.setPaused(True, sender=stranger),
    ]
    for call in calls:
        with ape.reverts(pool.OwnableUnauthorizedAccount, account=stranger.address):
            call()


def test_configuration_is_stored_and_announced(market, deployer, stranger):
    pool = market.pool
    receipt = pool.setLiquidationProtocolFee(market.collateral, 1_500, sender=deployer)
    assert receipt.decode_logs(pool.LiquidationProtocolFeeSet)[0].feeBps == 1_500
    pool.setCaps(market.debt, 7, 8, sender=deployer)
    pool.setTreasury(stranger, sender=deployer)
    pool.setCloseFactor(4_000, 9 * WAD // 10, sender=deployer)
    assert pool.liquidationRules() == 0  # V3_0 by default
    receipt = pool.setLiquidationRules(1, sender=deployer)  # V3_3
    assert receipt.decode_logs(pool.LiquidationRulesSet)[0].rules == 1
    assert pool.liquidationRules() == 1
    config = pool.getReserveConfig(market.collateral)
    assert (config.ltvBps, config.liquidationThresholdBps, config.liquidationBonusBps) == (M.COLLATERAL_LTV_BPS, M.COLLATERAL_LT_BPS, M.COLLATERAL_BONUS_BPS)
    assert config.liquidationProtocolFeeBps == 1_500 and not config.borrowingEnabled
    debt_config = pool.getReserveConfig(market.debt)
    assert (debt_config.supplyCap, debt_config.borrowCap) == (7, 8)
    assert (pool.treasury(), pool.closeFactorBps(), pool.fullLiquidationHealthFactorWad()) == (stranger.address, 4_000, 9 * WAD // 10)
    assert list(pool.getReservesList()) == [market.collateral.address, market.debt.address]


def test_any_max_oracle_age_is_safe(market, borrower_with_collateral, deployer):
    market.pool.setMaxOracleAge(MAX_UINT256, sender=deployer)  # must not overflow the staleness check
    market.pool.borrow(market.debt, 1, sender=borrower_with_collateral)


def test_price_below_the_base_unit_is_refused(market, borrower_with_collateral, deployer, project):
    feed18 = project.MockAggregator.deploy(18, "ALT / USD", 10**10 - 1, sender=deployer)  # < 1e-8 USD
    market.pool.setOracle(market.collateral, feed18, sender=deployer)
    with ape.reverts(market.pool.InvalidPrice, asset=market.collateral.address, answer=10**10 - 1):
        market.pool.getUserAccountData(borrower_with_collateral)
