"""Liquidations to the wei under the default (Aave v3.0) rules: the 50% regime, the 100% regime
and the deficit case, for 18-decimal collateral against a 6-decimal stablecoin and the reverse;
health-factor borders at named prices; the protocol fee credited to the treasury as a supply claim.
The v3.3 rules and receiveAToken: test_lending_v33_rules.py."""

import ape
import pytest
from conftest import LendingMarket as M
from lending_math import BPS, USD, WAD, health_factor, liquidation

MAX_UINT256 = 2**256 - 1
PROTOCOL_FEE_BPS = 1_000  # 10% of the bonus goes to the treasury
DECIMAL_CASES = [(18, 6), (6, 18)]  # (collateral decimals, debt decimals)

COLLATERAL_TOKENS, BORROWED_TOKENS = 10_000, 14_000
PRICE_50_PCT_REGIME = 170_000_000  # $1.70: HF = 0.971, between 0.95 and 1
PRICE_100_PCT_REGIME = 160_000_000  # $1.60: HF = 0.914, below 0.95
PRICE_DEFICIT = 130_000_000  # $1.30: all collateral is worth less than the debt plus bonus


@pytest.fixture
def roles(accounts, lp, whale):
    return {"lender": lp, "borrower": whale, "liquidator": accounts[6]}


def open_position(make_lending, supply, roles, collateral_decimals, debt_decimals, borrowed_tokens=BORROWED_TOKENS):
    market = make_lending(collateral_decimals, debt_decimals)
    supply(market, market.debt, roles["lender"], 1_000_000 * 10**debt_decimals)
    supply(market, market.collateral, roles["borrower"], COLLATERAL_TOKENS * 10**collateral_decimals)
    market.pool.borrow(market.debt, borrowed_tokens * 10**debt_decimals, sender=roles["borrower"])
    return market


@pytest.mark.parametrize("collateral_decimals,debt_decimals", DECIMAL_CASES)
@pytest.mark.parametrize(
    "price,expected_close_factor_bps",
    [(PRICE_50_PCT_REGIME, 5_000), (PRICE_100_PCT_REGIME, 10_000), (PRICE_DEFICIT, 10_000)],
    ids=["50pct", "100pct", "deficit"],
)
def test_liquidation_amounts(make_lending, supply, fund, roles, deployer, collateral_decimals, debt_decimals, price, expected_close_factor_bps):
    market = open_position(make_lending, supply, roles, collateral_decimals, debt_decimals)
    pool, borrower, liquidator = market.pool, roles["borrower"], roles["liquidator"]
    pool.setLiquidationProtocolFee(market.collateral, PROTOCOL_FEE_BPS, sender=deployer)
    market.collateral_feed.setAnswer(price, sender=deployer)

    user_collateral = COLLATERAL_TOKENS * 10**collateral_decimals
    user_debt = BORROWED_TOKENS * 10**debt_decimals
    hf = health_factor([(user_collateral, price, collateral_decimals, M.COLLATERAL_LT_BPS)], [(user_debt, USD, debt_decimals)])
    assert pool.getUserAccountData(borrower)[5] == hf
    close_factor = BPS if hf <= 95 * WAD // 100 else 5_000  # Aave v3.0.2: HF > 0.95 ? 50% : 100%
    assert close_factor == expected_close_factor_bps
    seized, repaid, fee = liquidation(
        user_debt * close_factor // BPS, user_collateral, USD, debt_decimals, price, collateral_decimals, M.COLLATERAL_BONUS_BPS, PROTOCOL_FEE_BPS
    )

    fund(market.debt, liquidator, user_debt, spender=pool)
    receipt = pool.liquidationCall(market.collateral, market.debt, borrower, MAX_UINT256, False, sender=liquidator)

    assert market.debt.balanceOf(liquidator) == user_debt - repaid
    assert market.collateral.balanceOf(liquidator) == seized - fee
    # The deployer is the treasury: its fee is a supply claim in the collateral reserve, not tokens.
    assert fee > 0 and market.collateral.balanceOf(deployer) == 0
    assert pool.getUserReserve(deployer, market.collateral) == (fee, 0)
    (fee_event,) = receipt.decode_logs(pool.LiquidationProtocolFeePaid)
    assert (fee_event.collateralAsset, fee_event.user, fee_event.amount) == (market.collateral.address, borrower.address, fee)
    assert pool.getReserveData(market.collateral).cash == user_collateral - (seized - fee)
    (event,) = receipt.decode_logs(pool.LiquidationCall)
    assert (event.collateralAsset, event.debtAsset, event.user) == (market.collateral.address, market.debt.address, borrower.address)
    assert (event.debtToCover, event.liquidatedCollateralAmount, event.liquidator, event.receiveAToken) == (repaid, seized - fee, liquidator.address, False)

    remaining_debt = user_debt - repaid
    if seized == user_collateral:  # the deficit case: nothing left to back the rest of the debt
        assert price == PRICE_DEFICIT and remaining_debt > 0
        assert pool.getUserReserve(borrower, market.debt) == (0, 0)
        assert pool.getReserveDeficit(market.debt) == remaining_debt
        (deficit_event,) = receipt.decode_logs(pool.DeficitCreated)
        assert (deficit_event.user, deficit_event.debtAsset, deficit_event.amountCreated) == (borrower.address, market.debt.address, remaining_debt)
        assert pool.getUserAccountData(borrower)[5] == MAX_UINT256
    else:
        assert pool.getUserReserve(borrower, market.collateral) == (user_collateral - seized, 0)
        assert pool.getUserReserve(borrower, market.debt) == (0, remaining_debt)
        assert pool.getReserveDeficit(market.debt) == 0


@pytest.mark.parametrize("collateral_decimals,debt_decimals", DECIMAL_CASES)
def test_partial_debt_to_cover_is_respected(make_lending, supply, fund, roles, deployer, collateral_decimals, debt_decimals):
    market = open_position(make_lending, supply, roles, collateral_decimals, debt_decimals)
    market.collateral_feed.setAnswer(PRICE_50_PCT_REGIME, sender=deployer)
    cover = 1_234 * 10**debt_decimals + 5
    seized, repaid, fee = liquidation(cover, COLLATERAL_TOKENS * 10**collateral_decimals, USD, debt_decimals, PRICE_50_PCT_REGIME, collateral_decimals, M.COLLATERAL_BONUS_BPS, 0)
    fund(market.debt, roles["liquidator"], cover, spender=market.pool)
    market.pool.liquidationCall(market.collateral, market.debt, roles["borrower"], cover, False, sender=roles["liquidator"])
    assert market.debt.balanceOf(roles["liquidator"]) == 0  # exactly `cover` was pulled
    assert market.pool.getUserReserve(roles["borrower"], market.debt) == (0, BORROWED_TOKENS * 10**debt_decimals - cover)
    assert market.collateral.balanceOf(roles["liquidator"]) == seized
    assert seized < COLLATERAL_TOKENS * 10**collateral_decimals and repaid == cover


# Borrow 8,000 against 10,000 collateral with LT 80%: HF equals the collateral price in dollars.
BORDER_BORROW = 8_000
PRICE_HF_EXACTLY_ONE = 100_000_000  # $1.00000000
PRICE_HF_ONE_UNIT_BELOW = PRICE_HF_EXACTLY_ONE - 1
PRICE_HF_EXACTLY_FULL_LIQUIDATION = 95_000_000  # HF = 0.95 exactly: already the 100% regime (Aave)
PRICE_HF_ABOVE_FULL_LIQUIDATION = PRICE_HF_EXACTLY_FULL_LIQUIDATION + 1
PRICE_HF_BELOW_FULL_LIQUIDATION = PRICE_HF_EXACTLY_FULL_LIQUIDATION - 1


@pytest.mark.parametrize("collateral_decimals,debt_decimals", DECIMAL_CASES)
def test_health_factor_border(make_lending, supply, fund, roles, deployer, collateral_decimals, debt_decimals):
    market = open_position(make_lending, supply, roles, collateral_decimals, debt_decimals, BORDER_BORROW)
    pool, borrower, liquidator = market.pool, roles["borrower"], roles["liquidator"]
    fund(market.debt, liquidator, BORDER_BORROW * 10**debt_decimals, spender=pool)

    market.collateral_feed.setAnswer(PRICE_HF_EXACTLY_ONE, sender=deployer)
    assert pool.getUserAccountData(borrower)[5] == WAD
    with ape.reverts(pool.HealthFactorNotBelowThreshold, healthFactorWad=WAD):
        pool.liquidationCall(market.collateral, market.debt, borrower, MAX_UINT256, False, sender=liquidator)

    market.collateral_feed.setAnswer(PRICE_HF_ONE_UNIT_BELOW, sender=deployer)
    assert pool.getUserAccountData(borrower)[5] == WAD - WAD // 10**8
    pool.liquidationCall(market.collateral, market.debt, borrower, MAX_UINT256, False, sender=liquidator)
    assert market.debt.balanceOf(liquidator) == BORDER_BORROW * 10**debt_decimals // 2  # 50% regime


@pytest.mark.parametrize(
    "price,expected_repaid_share_bps",
    [(PRICE_HF_ABOVE_FULL_LIQUIDATION, 5_000), (PRICE_HF_EXACTLY_FULL_LIQUIDATION, 10_000), (PRICE_HF_BELOW_FULL_LIQUIDATION, 10_000)],
    ids=["hf-one-unit-above-0.95", "hf-exactly-0.95", "hf-one-unit-below-0.95"],
)
def test_full_liquidation_border(make_lending, supply, fund, roles, deployer, price, expected_repaid_share_bps):
    market = open_position(make_lending, supply, roles, 18, 6, BORDER_BORROW)
    debt = BORDER_BORROW * 10**6
    market.collateral_feed.setAnswer(price, sender=deployer)
    hf = health_factor([(COLLATERAL_TOKENS * 10**18, price, 18, M.COLLATERAL_LT_BPS)], [(debt, USD, 6)])
    assert market.pool.getUserAccountData(roles["borrower"])[5] == hf
    assert (hf == 95 * WAD // 100) == (price == PRICE_HF_EXACTLY_FULL_LIQUIDATION)
    fund(market.debt, roles["liquidator"], debt, spender=market.pool)
    market.pool.liquidationCall(market.collateral, market.debt, roles["borrower"], MAX_UINT256, False, sender=roles["liquidator"])
    assert debt - market.debt.balanceOf(roles["liquidator"]) == debt * expected_repaid_share_bps // BPS


def test_close_factor_is_configurable(make_lending, supply, fund, roles, deployer):
    market = open_position(make_lending, supply, roles, 18, 6)
    market.pool.setCloseFactor(2_500, 0, sender=deployer)  # never a full liquidation
    market.collateral_feed.setAnswer(PRICE_100_PCT_REGIME, sender=deployer)
    debt = BORROWED_TOKENS * 10**6
    fund(market.debt, roles["liquidator"], debt, spender=market.pool)
    market.pool.liquidationCall(market.collateral, market.debt, roles["borrower"], MAX_UINT256, False, sender=roles["liquidator"])
    assert debt - market.debt.balanceOf(roles["liquidator"]) == debt * 2_500 // BPS


def test_liquidation_errors(make_lending, supply, fund, roles, deployer, stranger):
    market = open_position(make_lending, supply, roles, 18, 6)
    pool, borrower, liquidator = market.pool, roles["borrower"], roles["liquidator"]
    market.collateral_feed.setAnswer(PRICE_50_PCT_REGIME, sender=deployer)
    fund(market.debt, liquidator, 10**12, spender=pool)
    with ape.reverts(pool.ZeroAmount):
        pool.liquidationCall(market.collateral, market.debt, borrower, 0, False, sender=liquidator)
    with ape.reverts(pool.NoCollateralToSeize, user=borrower.address, asset=market.debt.address):
        pool.liquidationCall(market.debt, market.debt, borrower, MAX_UINT256, False, sender=liquidator)
    with ape.reverts(pool.NoDebt, user=borrower.address, asset=market.collateral.address):
        pool.liquidationCall(market.collateral, market.collateral, borrower, MAX_UINT256, False, sender=liquidator)
    with ape.reverts(pool.HealthFactorNotBelowThreshold, healthFactorWad=MAX_UINT256):
        pool.liquidationCall(market.collateral, market.debt, stranger, MAX_UINT256, False, sender=liquidator)
    with ape.reverts(pool.ReserveNotListed, asset=stranger.address):
        pool.liquidationCall(stranger, market.debt, borrower, MAX_UINT256, False, sender=liquidator)
