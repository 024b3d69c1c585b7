"""Liquidation rule sets and where the seized collateral goes, to the wei at named prices.

Rule sets: the health-factor border of the full liquidation (HF exactly 0.95 repays everything
under both), and Aave v3.3's close factor ($2,000 thresholds on the pair's collateral and debt) and
dust rule ($1,000 leftovers). receiveAToken: the liquidator is credited a supply claim instead of
tokens, which needs no idle cash. The protocol fee is always a supply claim of the treasury; with
a growing liquidity index, scaled amounts round against the user and nothing is created.
Every expectation comes from the rules in lending_math.py, never from the contract."""

import ape
import pytest
from conftest import LendingMarket as M
from lending_math import (
    BPS,
    RAY,
    USD,
    V3_0,
    V3_3,
    WAD,
    ceil_div,
    dust_left,
    health_factor,
    liquidation,
    max_debt_to_liquidate,
)

MAX_UINT256 = 2**256 - 1
ALT, STABLE = 10**18, 10**6  # one whole token of the 18-decimal collateral and the 6-decimal debt
LT, BONUS = M.COLLATERAL_LT_BPS, M.COLLATERAL_BONUS_BPS  # 80%, 105% for ALT and OTHER alike
PROTOCOL_FEE_BPS = 1_000
RULES = [V3_0, V3_3]
RULE_IDS = ["v3.0", "v3.3"]


class Market:
    """ALT (18 dec, feed at $2, optionally borrowable), USDC (6 dec, $1) and OTHER (18 dec, $1, a
    second collateral) in a new LendingPool whose owner and treasury is the deployer."""

    def __init__(self, pool, alt, usdc, other, alt_feed):
        self.pool, self.alt, self.usdc, self.other, self.alt_feed = pool, alt, usdc, other, alt_feed


@pytest.fixture
def make_market(project, deployer, make_token):
    def make(alt_borrowable=False, alt_interest=False):
        pool = project.LendingPool.deploy(sender=deployer)
        tokens = {}
        for symbol, decimals, price, borrowable in (("ALT", 18, 2 * USD, alt_borrowable), ("USDC", 6, USD, True), ("OTHER", 18, USD, False)):
            token = make_token(symbol, decimals)
            feed = project.MockAggregator.deploy(8, f"{symbol} / USD", price, sender=deployer)
            pool.listReserve(token, feed, M.COLLATERAL_LTV_BPS, LT, BONUS, borrowable, sender=deployer)
            tokens[symbol] = (token, feed)
        if alt_interest:
            pool.setInterestRateModel(tokens["ALT"][0], 0, 400, 6_000, 8_000, sender=deployer)
        return Market(pool, tokens["ALT"][0], tokens["USDC"][0], tokens["OTHER"][0], tokens["ALT"][1])

    return make


@pytest.fixture
def roles(accounts, lp, whale, trader):
    return {"lender": lp, "borrower": whale, "liquidator": accounts[6], "drainer": trader}


@pytest.fixture
def open_account(supply, fund, roles, deployer):
    """open(market, alt_tokens, debt_units, other_tokens=0, borrow_price=$3): the lender supplies
    1M USDC; the borrower supplies ALT (and OTHER) and borrows `debt_units` of USDC while ALT is at
    `borrow_price`; the liquidator holds exactly `debt_units` of USDC, approved to the pool."""

    def open_(market, alt_tokens, debt_units, other_tokens=0, borrow_price=3 * USD):
        borrower = roles["borrower"]
        market.alt_feed.setAnswer(borrow_price, sender=deployer)
        supply(market, market.usdc, roles["lender"], 1_000_000 * STABLE)
        supply(market, market.alt, borrower, alt_tokens * ALT)
        if other_tokens:
            supply(market, market.other, borrower, other_tokens * ALT)
        market.pool.borrow(market.usdc, debt_units, sender=borrower)
        fund(market.usdc, roles["liquidator"], debt_units, spender=market.pool)

    return open_


def expected(rules, cover, alt_units, debt_units, price, other_units=0, fee_bps=0):
    """(hf, collateral seized incl. fee, debt repaid, fee, dust revert args or None) by the rules."""
    hf = health_factor([(alt_units, price, 18, LT), (other_units, USD, 18, LT)], [(debt_units, USD, 6)])
    max_debt = max_debt_to_liquidate(rules, debt_units, alt_units, hf, USD, 6, price, 18)
    seized, repaid, fee = liquidation(min(cover, max_debt), alt_units, USD, 6, price, 18, BONUS, fee_bps)
    dust = dust_left(debt_units, repaid, alt_units, seized, USD, 6, price, 18) if rules == V3_3 else None
    return hf, seized, repaid, fee, dust


def liquidate_and_check(market, roles, rules, cover, alt_units, debt_units, price, other_units=0):
    """Liquidates as `expected` says it will, or checks the MustNotLeaveDust revert; returns repaid."""
    pool, borrower, liquidator = market.pool, roles["borrower"], roles["liquidator"]
    hf, seized, repaid, _, dust = expected(rules, cover, alt_units, debt_units, price, other_units)
    assert pool.getUserAccountData(borrower)[5] == hf
    if dust is not None:
        with ape.reverts(pool.MustNotLeaveDust, debtLeftBase=dust[0], collateralLeftBase=dust[1]):
            pool.liquidationCall(market.alt, market.usdc, borrower, cover, False, sender=liquidator)
        return None
    pool.liquidationCall(market.alt, market.usdc, borrower, cover, False, sender=liquidator)
    assert market.usdc.balanceOf(liquidator) == debt_units - repaid
    assert market.alt.balanceOf(liquidator) == seized
    if seized < alt_units:
        assert pool.getUserReserve(borrower, market.alt) == (alt_units - seized, 0)
        assert pool.getUserReserve(borrower, market.usdc) == (0, debt_units - repaid)
    return repaid


# ------------------------------------------------------------------ the HF border of the full liquidation

# 10,000 ALT against 8,000 USDC at LT 80%: HF = the ALT price in dollars. Both worth over $2,000.
PRICE_HF_EXACTLY_095 = 95_000_000
PRICE_HF_JUST_ABOVE_095 = PRICE_HF_EXACTLY_095 + 1


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
@pytest.mark.parametrize(
    "price,share_bps", [(PRICE_HF_EXACTLY_095, 10_000), (PRICE_HF_JUST_ABOVE_095, 5_000)], ids=["hf-exactly-0.95", "hf-just-above-0.95"]
)
def test_full_liquidation_at_hf_095_under_both_rule_sets(make_market, open_account, roles, deployer, rules, price, share_bps):
    market = make_market()
    market.pool.setLiquidationRules(rules, sender=deployer)
    open_account(market, 10_000, 8_000 * STABLE)
    market.alt_feed.setAnswer(price, sender=deployer)
    assert (health_factor([(10_000 * ALT, price, 18, LT)], [(8_000 * STABLE, USD, 6)]) == 95 * WAD // 100) == (price == PRICE_HF_EXACTLY_095)
    repaid = liquidate_and_check(market, roles, rules, MAX_UINT256, 10_000 * ALT, 8_000 * STABLE, price)
    assert repaid == 8_000 * STABLE * share_bps // BPS


# ------------------------------------------------------------------ v3.3: the $2,000 thresholds

# 1,000 ALT + 1,600 OTHER against 3,000 USDC: HF ≈ 0.96 with ALT near $2, the pair's debt is
# $3,000 and its collateral (ALT only: OTHER is not in the pair) is near $2,000.
PRICE_ALT_JUST_BELOW_2000 = 199_999_999  # 1,000 ALT = $1,999.99999
PRICE_ALT_EXACTLY_2000 = 200_000_000


def test_v33_collateral_just_below_2000_allows_a_full_liquidation(make_market, open_account, roles, deployer):
    market = make_market()
    market.pool.setLiquidationRules(V3_3, sender=deployer)
    open_account(market, 1_000, 3_000 * STABLE, other_tokens=1_600)
    market.alt_feed.setAnswer(PRICE_ALT_JUST_BELOW_2000, sender=deployer)
    assert market.pool.getUserAccountData(roles["borrower"])[5] > 95 * WAD // 100
    repaid = liquidate_and_check(market, roles, V3_3, MAX_UINT256, 1_000 * ALT, 3_000 * STABLE, PRICE_ALT_JUST_BELOW_2000, 1_600 * ALT)
    assert repaid > 1_500 * STABLE  # beyond the 50% close factor: every ALT was seized
    assert market.pool.getUserReserve(roles["borrower"], market.alt) == (0, 0)


def test_v30_same_position_is_capped_at_50pct(make_market, open_account, roles, deployer):
    market = make_market()
    open_account(market, 1_000, 3_000 * STABLE, other_tokens=1_600)
    market.alt_feed.setAnswer(PRICE_ALT_JUST_BELOW_2000, sender=deployer)
    repaid = liquidate_and_check(market, roles, V3_0, MAX_UINT256, 1_000 * ALT, 3_000 * STABLE, PRICE_ALT_JUST_BELOW_2000, 1_600 * ALT)
    assert repaid == 1_500 * STABLE


def test_v33_collateral_at_2000_is_capped_and_the_cap_would_leave_dust(make_market, open_account, roles, deployer):
    """At $2,000 of ALT the 50% cap applies: seizing 787.5 ALT for 1,500 USDC leaves $425 of it."""
    market = make_market()
    market.pool.setLiquidationRules(V3_3, sender=deployer)
    open_account(market, 1_000, 3_000 * STABLE, other_tokens=1_600)
    market.alt_feed.setAnswer(PRICE_ALT_EXACTLY_2000, sender=deployer)
    dust = expected(V3_3, MAX_UINT256, 1_000 * ALT, 3_000 * STABLE, PRICE_ALT_EXACTLY_2000, 1_600 * ALT)[4]
    assert dust == (1_500 * USD, 425 * USD)
    liquidate_and_check(market, roles, V3_3, MAX_UINT256, 1_000 * ALT, 3_000 * STABLE, PRICE_ALT_EXACTLY_2000, 1_600 * ALT)


# 1,200 ALT at $2 ($2,400) against just under or exactly 2,000 USDC: HF ≈ 0.96.
DEBT_JUST_BELOW_2000 = 2_000 * STABLE - 1
DEBT_EXACTLY_2000 = 2_000 * STABLE


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
def test_debt_just_below_2000(make_market, open_account, roles, deployer, rules):
    """v3.3 repays all of it (leaving $300 of ALT: no dust check without debt); v3.0 half."""
    market = make_market()
    market.pool.setLiquidationRules(rules, sender=deployer)
    open_account(market, 1_200, DEBT_JUST_BELOW_2000)
    market.alt_feed.setAnswer(2 * USD, sender=deployer)
    repaid = liquidate_and_check(market, roles, rules, MAX_UINT256, 1_200 * ALT, DEBT_JUST_BELOW_2000, 2 * USD)
    assert repaid == (DEBT_JUST_BELOW_2000 if rules == V3_3 else DEBT_JUST_BELOW_2000 // 2)


def test_v33_debt_at_2000_is_capped_and_leaves_exactly_1000(make_market, open_account, roles, deployer):
    market = make_market()
    market.pool.setLiquidationRules(V3_3, sender=deployer)
    open_account(market, 1_200, DEBT_EXACTLY_2000)
    market.alt_feed.setAnswer(2 * USD, sender=deployer)
    repaid = liquidate_and_check(market, roles, V3_3, MAX_UINT256, 1_200 * ALT, DEBT_EXACTLY_2000, 2 * USD)
    assert repaid == 1_000 * STABLE  # $1,000 of debt left: exactly the minimum, allowed


# ------------------------------------------------------------------ v3.3: the $1,000 leftovers

# ALT at $1, HF below 0.95 (100% close factor); repaying 8,000 USDC seizes 8,400 ALT.
# (alt, debt): 9,400 against 9,500 leaves exactly $1,000 of ALT; 10,000 against 9,000 leaves exactly
# $1,000 of debt. One more micro-USDC of cover leaves just under $1,000.
DUST_CASES = {
    "collateral-left-exactly-1000": (9_400, 9_500, 8_000 * STABLE, False),
    "collateral-left-just-under-1000": (9_400, 9_500, 8_000 * STABLE + 1, True),
    "debt-left-exactly-1000": (10_000, 9_000, 8_000 * STABLE, False),
    "debt-left-just-under-1000": (10_000, 9_000, 8_000 * STABLE + 1, True),
}


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
@pytest.mark.parametrize("case", list(DUST_CASES), ids=list(DUST_CASES))
def test_dust_leftovers(make_market, open_account, roles, deployer, rules, case):
    alt_tokens, debt_tokens, cover, dusty = DUST_CASES[case]
    market = make_market()
    market.pool.setLiquidationRules(rules, sender=deployer)
    open_account(market, alt_tokens, debt_tokens * STABLE, borrow_price=2 * USD)
    market.alt_feed.setAnswer(USD, sender=deployer)
    dust = expected(rules, cover, alt_tokens * ALT, debt_tokens * STABLE, USD)[4]
    assert (dust is not None) == (dusty and rules == V3_3)
    liquidate_and_check(market, roles, rules, cover, alt_tokens * ALT, debt_tokens * STABLE, USD)


def test_v33_full_liquidation_leaves_no_debt_and_no_dust_revert(make_market, open_account, roles, deployer):
    """9,000 ALT at $1 against 8,000 USDC: repaying all leaves $600 of ALT, allowed as no debt is
    left; leaving one micro-USDC of debt is not."""
    market = make_market()
    market.pool.setLiquidationRules(V3_3, sender=deployer)
    open_account(market, 9_000, 8_000 * STABLE, borrow_price=2 * USD)
    market.alt_feed.setAnswer(USD, sender=deployer)
    args = (market, roles, V3_3)
    position = (9_000 * ALT, 8_000 * STABLE, USD)
    assert expected(V3_3, 8_000 * STABLE - 1, *position)[4] == (100, 600 * USD + 105)  # 1e-6 USDC = 100e-8 USD; 1.05e-6 ALT fewer seized
    liquidate_and_check(*args, 8_000 * STABLE - 1, *position)
    repaid = liquidate_and_check(*args, MAX_UINT256, *position)
    assert repaid == 8_000 * STABLE
    assert market.pool.getUserReserve(roles["borrower"], market.alt) == (600 * ALT, 0)


# ------------------------------------------------------------------ receiveAToken and the protocol fee

# 10,000 ALT at $1.60 against 14,000 USDC: HF 0.914, everything repaid, 9,187.5 ALT seized.
PRICE_LIQUIDATION = 160_000_000


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
def test_receive_a_token_credits_a_supply_claim(make_market, open_account, roles, deployer, rules):
    market = make_market()
    pool, borrower, liquidator = market.pool, roles["borrower"], roles["liquidator"]
    pool.setLiquidationRules(rules, sender=deployer)
    pool.setLiquidationProtocolFee(market.alt, PROTOCOL_FEE_BPS, sender=deployer)
    open_account(market, 10_000, 14_000 * STABLE, borrow_price=2 * USD)
    market.alt_feed.setAnswer(PRICE_LIQUIDATION, sender=deployer)
    _, seized, repaid, fee, dust = expected(rules, MAX_UINT256, 10_000 * ALT, 14_000 * STABLE, PRICE_LIQUIDATION, fee_bps=PROTOCOL_FEE_BPS)
    assert dust is None and fee > 0 and repaid == 14_000 * STABLE

    receipt = pool.liquidationCall(market.alt, market.usdc, borrower, MAX_UINT256, True, sender=liquidator)

    assert market.alt.balanceOf(liquidator) == 0 and market.alt.balanceOf(deployer) == 0
    assert pool.getUserReserve(liquidator, market.alt) == (seized - fee, 0)
    assert pool.getUserReserve(deployer, market.alt) == (fee, 0)  # the deployer is the treasury
    assert pool.getUserReserve(borrower, market.alt) == (10_000 * ALT - seized, 0)
    assert pool.getReserveData(market.alt).cash == 10_000 * ALT  # no ALT left the pool
    assert market.usdc.balanceOf(liquidator) == 0
    (event,) = receipt.decode_logs(pool.LiquidationCall)
    assert (event.debtToCover, event.liquidatedCollateralAmount, event.liquidator, event.receiveAToken) == (repaid, seized - fee, liquidator.address, True)
    (fee_event,) = receipt.decode_logs(pool.LiquidationProtocolFeePaid)
    assert fee_event.amount == fee
    # The claim is the liquidator's to withdraw.
    pool.withdraw(market.alt, MAX_UINT256, liquidator, sender=liquidator)
    assert market.alt.balanceOf(liquidator) == seized - fee


@pytest.mark.parametrize("rules", RULES, ids=RULE_IDS)
def test_zero_idle_collateral_cash(make_market, open_account, supply, roles, deployer, rules):
    """Every ALT is lent out: sending the seized tokens fails, receiving the claim works, and the
    protocol fee never needed cash."""
    market = make_market(alt_borrowable=True)
    pool, borrower, liquidator, drainer = market.pool, roles["borrower"], roles["liquidator"], roles["drainer"]
    pool.setLiquidationRules(rules, sender=deployer)
    pool.setLiquidationProtocolFee(market.alt, PROTOCOL_FEE_BPS, sender=deployer)
    open_account(market, 10_000, 14_000 * STABLE, borrow_price=2 * USD)
    supply(market, market.usdc, drainer, 100_000 * STABLE)
    pool.borrow(market.alt, 10_000 * ALT, sender=drainer)
    assert pool.getReserveData(market.alt).cash == 0
    market.alt_feed.setAnswer(PRICE_LIQUIDATION, sender=deployer)
    _, seized, repaid, fee, _ = expected(rules, MAX_UINT256, 10_000 * ALT, 14_000 * STABLE, PRICE_LIQUIDATION, fee_bps=PROTOCOL_FEE_BPS)

    with ape.reverts(pool.InsufficientLiquidity, asset=market.alt.address, requested=seized - fee, available=0):
        pool.liquidationCall(market.alt, market.usdc, borrower, MAX_UINT256, False, sender=liquidator)
    pool.liquidationCall(market.alt, market.usdc, borrower, MAX_UINT256, True, sender=liquidator)

    assert pool.getUserReserve(liquidator, market.alt) == (seized - fee, 0)
    assert pool.getUserReserve(deployer, market.alt) == (fee, 0)
    assert pool.getReserveData(market.alt).cash == 0
    assert pool.getUserReserve(borrower, market.usdc) == (0, 14_000 * STABLE - repaid)


def test_scaled_amounts_round_against_the_user_with_a_growing_index(make_market, open_account, supply, roles, deployer, chain):
    """A year of ALT interest moves its liquidity index off RAY; the user's scaled collateral is
    burned rounded up, the liquidator's and treasury's credits round down, totals stay the sums."""
    market = make_market(alt_borrowable=True, alt_interest=True)
    pool, borrower, liquidator, drainer = market.pool, roles["borrower"], roles["liquidator"], roles["drainer"]
    pool.setLiquidationProtocolFee(market.alt, PROTOCOL_FEE_BPS, sender=deployer)
    open_account(market, 10_000, 14_000 * STABLE, borrow_price=2 * USD)
    supply(market, market.usdc, drainer, 100_000 * STABLE)
    pool.borrow(market.alt, 5_000 * ALT, sender=drainer)
    market.alt_feed.setAnswer(PRICE_LIQUIDATION, sender=deployer)
    chain.pending_timestamp += 365 * 24 * 3600
    user_scaled = pool.getUserScaledReserve(borrower, market.alt)[0]
    total_scaled = pool.getReserveScaledTotals(market.alt)[0]
    assert user_scaled == 10_000 * ALT  # supplied at index RAY

    receipt = pool.liquidationCall(market.alt, market.usdc, borrower, MAX_UINT256, True, sender=liquidator)

    (index,) = [e.liquidityIndexRay for e in receipt.decode_logs(pool.ReserveDataUpdated) if e.reserve == market.alt.address]
    assert index > RAY
    user_collateral = user_scaled * index // RAY
    hf = health_factor([(user_collateral, PRICE_LIQUIDATION, 18, LT)], [(14_000 * STABLE, USD, 6)])
    max_debt = max_debt_to_liquidate(V3_0, 14_000 * STABLE, user_collateral, hf, USD, 6, PRICE_LIQUIDATION, 18)
    seized, repaid, fee = liquidation(max_debt, user_collateral, USD, 6, PRICE_LIQUIDATION, 18, BONUS, PROTOCOL_FEE_BPS)
    burned = ceil_div(seized * RAY, index)
    credited_liquidator, credited_treasury = (seized - fee) * RAY // index, fee * RAY // index
    assert seized < user_collateral and credited_liquidator + credited_treasury < burned  # a wei stays

    assert pool.getUserScaledReserve(borrower, market.alt)[0] == user_scaled - burned
    assert pool.getUserScaledReserve(liquidator, market.alt)[0] == credited_liquidator
    assert pool.getUserScaledReserve(deployer, market.alt)[0] == credited_treasury
    assert pool.getReserveScaledTotals(market.alt)[0] == total_scaled - burned + credited_liquidator + credited_treasury
    (event,) = receipt.decode_logs(pool.LiquidationCall)
    assert (event.debtToCover, event.liquidatedCollateralAmount) == (repaid, seized - fee)


# ------------------------------------------------------------------ configuration

def test_set_liquidation_rules_is_owner_only_and_announced(make_market, deployer, stranger):
    pool = make_market().pool
    assert pool.liquidationRules() == V3_0
    assert (pool.MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD(), pool.MIN_LEFTOVER_BASE()) == (2_000 * USD, 1_000 * USD)
    with ape.reverts(pool.OwnableUnauthorizedAccount, account=stranger.address):
        pool.setLiquidationRules(V3_3, sender=stranger)
    receipt = pool.setLiquidationRules(V3_3, sender=deployer)
    assert receipt.decode_logs(pool.LiquidationRulesSet)[0].rules == V3_3
    assert pool.liquidationRules() == V3_3
    pool.setLiquidationRules(V3_0, sender=deployer)
    assert pool.liquidationRules() == V3_0
