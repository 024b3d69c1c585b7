"""PerpExchange trading: vAMM fills against the constant-product formula, partial reductions and the
minimum size, closed-form liquidation and bankruptcy prices, funding accrued by the second (and
the same charge however often it is settled), margin changes and every trading error."""

import ape
import pytest
from conftest import PerpMarket as P
from perp_math import (
    WAD,
    Vamm,
    bankruptcy_price,
    ceil_div,
    fee,
    fund_imbalance,
    funding_owed,
    funding_payment,
    funding_rate,
    liquidation_price,
    reduce_payout,
)

MAX_UINT256 = 2**256 - 1
HOUR = 3_600


def start_vamm(pm):
    return Vamm(pm.v_base, pm.v_quote)


@pytest.mark.parametrize("trading_fee_bps", [0, 30])
@pytest.mark.parametrize("is_long", [True, False], ids=["long", "short"])
def test_open_and_close_against_the_constant_product(make_perp, fund, trader, is_long, trading_fee_bps):
    pm = make_perp(trading_fee_bps)
    ex, unit = pm.exchange, pm.unit
    margin, leverage = 1_000 * unit + 7, 5 * WAD
    notional = margin * leverage // WAD
    vamm = start_vamm(pm)
    expected = vamm.open(is_long, notional, unit, trading_fee_bps, margin)
    pm.open(fund, trader, is_long, margin, leverage)
    open_fee = fee(notional, trading_fee_bps)
    assert pm.position(trader) == (expected.size, expected.margin, expected.open_notional)
    assert expected.margin == margin - open_fee
    assert pm.reserves() == (vamm.base, vamm.quote)
    assert ex.markPrice(pm.id) == vamm.price
    assert ex.insuranceFund() == open_fee

    exit_ = vamm.quote_exit(expected, abs(expected.size), unit)
    close_fee = fee(exit_.notional, trading_fee_bps)
    ex.closePosition(pm.id, 0, sender=trader)
    vamm.apply(expected, exit_)
    assert pm.usdc.balanceOf(trader) == margin - open_fee + exit_.pnl - close_fee
    assert exit_.pnl <= 0  # a round trip through the vAMM never profits
    assert pm.reserves() == (vamm.base, vamm.quote)
    assert ex.getPosition(trader, pm.id).sizeBase == 0
    assert ex.openInterest(pm.id) == (0, 0)
    assert ex.insuranceFund() == open_fee + close_fee


# (side, trading fee, share of the size closed in ‰): the closed share of margin + PnL − fee is paid.
REDUCE_ROWS = [
    (True, 0, 250),
    (True, 30, 500),
    (False, 0, 100),
    (False, 30, 900),
]


@pytest.mark.parametrize("is_long,trading_fee_bps,share_permille", REDUCE_ROWS)
def test_reduce_position_pays_the_closed_share(make_perp, fund, trader, whale, is_long, trading_fee_bps, share_permille):
    pm = make_perp(trading_fee_bps)
    ex, unit = pm.exchange, pm.unit
    vamm = start_vamm(pm)
    margin, leverage = 2_000 * unit + 3, 6 * WAD
    p = vamm.open(is_long, margin * leverage // WAD, unit, trading_fee_bps, margin)
    pm.open(fund, trader, is_long, margin, leverage)
    # Someone else moves the price against the trader, so the closed part realizes a loss.
    q = vamm.open(not is_long, 3_000 * unit * 3, unit, trading_fee_bps, 3_000 * unit)
    pm.open(fund, whale, not is_long, 3_000 * unit, 3 * WAD)
    assert pm.position(whale) == (q.size, q.margin, q.open_notional)

    closing = abs(p.size) * share_permille // 1_000 + 1  # not a round share
    e = vamm.quote_exit(p, closing, unit)
    payout, trade_fee, kept = reduce_payout(p.margin, e.pnl, e.notional, trading_fee_bps, closing, abs(p.size))
    fund_before = ex.insuranceFund()
    receipt = ex.reducePosition(pm.id, closing, 0, sender=trader)
    vamm.apply(p, e)
    assert e.pnl < 0
    assert pm.usdc.balanceOf(trader) == payout
    assert pm.position(trader) == (p.size, kept, p.open_notional)
    assert pm.reserves() == (vamm.base, vamm.quote)
    assert ex.insuranceFund() == fund_before + trade_fee
    (event,) = receipt.decode_logs(ex.PositionChanged)
    assert (event.sizeDeltaBase, event.notional, event.fee, event.realizedPnl, event.sizeBase, event.margin) == (
        -closing if is_long else closing, e.notional, trade_fee, e.pnl, p.size, kept)

    # Asking for more than the position closes all of it.
    e = vamm.quote_exit(p, abs(p.size), unit)
    payout_rest, _, _ = reduce_payout(kept, e.pnl, e.notional, trading_fee_bps, abs(p.size), abs(p.size))
    ex.reducePosition(pm.id, MAX_UINT256, 0, sender=trader)
    assert pm.usdc.balanceOf(trader) == payout + payout_rest
    assert ex.getPosition(trader, pm.id).sizeBase == 0


def test_minimum_position_size(make_perp, fund, trader):
    """Opening below the minimum open notional is refused; so is a partial close that would leave
    less than it (one base-wei less is accepted); a full close always is."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    minimum = 100 * unit
    pm.set_liquidation(min_position=minimum)
    fund(pm.usdc, trader, 10**12, spender=ex)
    just_below = minimum - 1
    with ape.reverts(ex.PositionBelowMinimum, openNotionalUsdc=just_below, minPositionUsdc=minimum):
        ex.openPosition(pm.id, True, just_below, WAD, 0, sender=trader)
    ex.openPosition(pm.id, True, 50 * unit, 2 * WAD, 0, sender=trader)  # exactly the minimum
    vamm = start_vamm(pm)
    p = vamm.open(True, 100 * unit, unit, 0, 50 * unit)
    assert pm.position(trader) == (p.size, p.margin, p.open_notional)
    with ape.reverts(ex.PositionBelowMinimum, openNotionalUsdc=minimum - 1, minPositionUsdc=minimum):
        ex.reducePosition(pm.id, 1, 0, sender=trader)  # one base-wei closes a unit of open notional (rounded up)
    ex.openPosition(pm.id, True, 100 * unit, 2 * WAD, 0, sender=trader)
    p = vamm.open(True, 200 * unit, unit, 0, 100 * unit, p)
    # The largest reduction that keeps the minimum: open notional left = N − ceil(N × r / S) ≥ min.
    largest = (p.open_notional - minimum) * abs(p.size) // p.open_notional
    too_much = largest + 1
    open_left = p.open_notional - ceil_div(p.open_notional * too_much, p.size)
    with ape.reverts(ex.PositionBelowMinimum, openNotionalUsdc=open_left, minPositionUsdc=minimum):
        ex.reducePosition(pm.id, too_much, 0, sender=trader)
    ex.reducePosition(pm.id, largest, 0, sender=trader)
    assert ex.getPosition(trader, pm.id).openNotional == p.open_notional - ceil_div(p.open_notional * largest, p.size) >= minimum
    ex.closePosition(pm.id, 0, sender=trader)
    assert ex.getPosition(trader, pm.id).sizeBase == 0


@pytest.mark.parametrize("trading_fee_bps", [0, 30])
@pytest.mark.parametrize("is_long", [True, False], ids=["long", "short"])
def test_liquidation_and_bankruptcy_prices_are_the_closed_forms(make_perp, fund, deployer, trader, is_long, trading_fee_bps):
    pm = make_perp(trading_fee_bps)
    ex = pm.exchange
    vamm = start_vamm(pm)
    p = vamm.open(is_long, 16_000 * pm.unit, pm.unit, trading_fee_bps, 2_000 * pm.unit)
    pm.open(fund, trader, is_long, 2_000 * pm.unit, 8 * WAD)
    assert p.margin == 2_000 * pm.unit - fee(16_000 * pm.unit, trading_fee_bps)
    liq = liquidation_price(p.size, p.open_notional, p.margin, pm.unit, P.MAINTENANCE_MARGIN_BPS)
    assert ex.liquidationPrice(trader, pm.id) == liq
    assert ex.bankruptcyPrice(trader, pm.id) == bankruptcy_price(p.size, p.open_notional, p.margin, pm.unit)

    # Read margin from the index, and put the index one 8-decimal step either side of the price.
    ex.setMarkParams(pm.id, P.SOURCE_INDEX, 0, sender=deployer)
    step = 10**10  # one unit of an 8-decimal feed, in WAD
    safe_index = (liq // step + 1) * step if is_long else (liq // step - 1) * step
    unsafe_index = (liq // step - 1) * step if is_long else (liq // step + 1) * step
    pm.set_index(safe_index)
    assert not ex.isLiquidatable(trader, pm.id)
    pm.set_index(unsafe_index)
    assert ex.isLiquidatable(trader, pm.id)


def pin(chain, timestamp):
    """The next block's timestamp (anvil accepts one equal to the previous block's)."""
    chain.pending_timestamp = timestamp
    return timestamp


def fresh_time(chain):
    """A timestamp ahead of the chain's head. Once a block is pinned, every market call is: an
    unpinned block may get the next second, and anvil refuses to go back."""
    return chain.blocks.head.timestamp + 10


def open_at(pm, chain, trader, is_long, margin, leverage_wad, timestamp):
    """openPosition in a block at `timestamp` (the trader already funded and approved)."""
    pin(chain, timestamp)
    return pm.exchange.openPosition(pm.id, is_long, margin, leverage_wad, 0, sender=trader)


def test_funding_accrues_by_elapsed_time(make_perp, fund, deployer, trader, whale, chain):
    """Each accrual charges rate(vAMM, index at the call) × index × elapsed / interval per base; the
    fund takes the long/short imbalance (receiving rounded down, paying rounded up)."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    factor, max_rate = WAD // 2, WAD // 100  # half the premium, at most 1% per hour
    ex.setFundingParams(pm.id, HOUR, factor, max_rate, sender=deployer)
    pm.seed_insurance(fund, 10_000 * unit)
    vamm = start_vamm(pm)
    for account in (trader, whale):
        fund(pm.usdc, account, 10_001 * unit, spender=ex)
    # Both open in one second, at index = vAMM = $2 (no funding for the time before).
    now = fresh_time(chain)
    open_at(pm, chain, trader, True, 10_000 * unit, 5 * WAD, now)  # long $50k: the vAMM above $2
    long_p = vamm.open(True, 50_000 * unit, unit, 0, 10_000 * unit)
    open_at(pm, chain, whale, False, 5_000 * unit, 4 * WAD, now)  # short $20k
    short_p = vamm.open(False, 20_000 * unit, unit, 0, 5_000 * unit)
    last_accrual = now

    cumulative, insurance = 0, ex.insuranceFund()
    # (index, seconds since the last accrual): an interval, a few seconds, five hours, an odd span.
    for index, elapsed in [(2 * WAD, HOUR), (201 * WAD // 100, 7), (19 * WAD // 10, 18_000), (2_035 * WAD // 1_000, 1_234)]:
        pin(chain, last_accrual)  # the new index is set with no time passing
        pm.set_index(index)
        last_accrual = pin(chain, last_accrual + elapsed)
        receipt = ex.settleFunding(pm.id, sender=trader)
        rate = funding_rate(vamm.price, index, factor, max_rate)
        payment = funding_payment(rate, index, elapsed, HOUR)
        cumulative += payment
        insurance += fund_imbalance(long_p.size, -short_p.size, payment, unit)
        state = ex.marketState(pm.id)
        assert (state.cumulativeFundingWad, state.lastFundingRateWad, state.lastAccrualS) == (cumulative, rate, last_accrual)
        assert ex.insuranceFund() == insurance
        (event,) = receipt.decode_logs(ex.FundingAccrued)
        assert (event.elapsedS, event.rateWad, event.paymentPerBaseWad, event.cumulativeFundingWad) == (elapsed, rate, payment, cumulative)
    assert cumulative != 0

    assert ex.pendingFunding(trader, pm.id) == funding_owed(long_p.size, cumulative, unit)
    assert ex.pendingFunding(whale, pm.id) == funding_owed(short_p.size, cumulative, unit)

    pin(chain, last_accrual)
    ex.addMargin(pm.id, 1, sender=trader)  # touching the position applies its funding
    assert ex.getPosition(trader, pm.id).margin == long_p.margin + 1 - funding_owed(long_p.size, cumulative, unit)
    assert ex.pendingFunding(trader, pm.id) == 0

    # Settling again with no time passed accrues nothing (and never reverts).
    pin(chain, last_accrual)
    receipt = ex.settleFunding(pm.id, sender=trader)
    assert receipt.decode_logs(ex.FundingAccrued) == []
    assert ex.marketState(pm.id).cumulativeFundingWad == cumulative


# (seconds to t1, seconds from t1 to t2, index): settling at t1 and t2 or once at t2 charges the same.
SPLIT_ROWS = [
    (HOUR, HOUR, 2 * WAD),
    (1, 86_399, 195 * WAD // 100),
    (777, 3, 21 * WAD // 10),
    (12, 12, 2 * WAD),
]


@pytest.mark.parametrize("first_s,second_s,index", SPLIT_ROWS)
def test_a_late_keeper_loses_nothing(make_perp, fund, deployer, trader, whale, chain, first_s, second_s, index):
    """Two identical exchanges: one settled at t1 and t2, the other only at t2."""
    factor, max_rate = WAD, WAD // 50
    split_pm, once_pm = make_perp(0), make_perp(0)
    for pm in (split_pm, once_pm):
        pm.exchange.setFundingParams(pm.id, HOUR, factor, max_rate, sender=deployer)
        pm.seed_insurance(fund, 1_000 * pm.unit)
    unit = split_pm.unit
    vamm = start_vamm(split_pm)
    long_p = vamm.open(True, 20_000 * unit, unit, 0, 4_000 * unit)
    short_p = vamm.open(False, 3_000 * unit, unit, 0, 1_000 * unit)
    # Both open at index = vAMM = $2, then the index moves, all in one second.
    for pm in (split_pm, once_pm):
        for account in (trader, whale):
            fund(pm.usdc, account, 4_000 * unit, spender=pm.exchange)
    t0 = fresh_time(chain)
    for pm in (split_pm, once_pm):
        open_at(pm, chain, trader, True, 4_000 * unit, 5 * WAD, t0)
        open_at(pm, chain, whale, False, 1_000 * unit, 3 * WAD, t0)
        pin(chain, t0)
        pm.set_index(index)
    rate = funding_rate(vamm.price, index, factor, max_rate)
    t1, t2 = t0 + first_s, t0 + first_s + second_s

    def outcome(pm):
        ex = pm.exchange
        return ex.marketState(pm.id).cumulativeFundingWad, ex.insuranceFund(), ex.pendingFunding(trader, pm.id), ex.pendingFunding(whale, pm.id)

    def expected(spans):
        cumulative, fund_ = 0, 1_000 * unit
        for span in spans:
            payment = funding_payment(rate, index, span, HOUR)
            cumulative += payment
            fund_ += fund_imbalance(long_p.size, -short_p.size, payment, unit)
        return cumulative, fund_, funding_owed(long_p.size, cumulative, unit), funding_owed(short_p.size, cumulative, unit)

    pin(chain, t1)
    split_pm.exchange.settleFunding(split_pm.id, sender=deployer)
    pin(chain, t2)
    split_pm.exchange.settleFunding(split_pm.id, sender=deployer)
    pin(chain, t2)
    once_pm.exchange.settleFunding(once_pm.id, sender=deployer)
    split, once = outcome(split_pm), outcome(once_pm)
    assert split == expected([first_s, second_s])
    assert once == expected([first_s + second_s])
    # The same up to rounding: the cumulative index by one wei per extra accrual, money by one unit.
    assert abs(split[0] - once[0]) <= 1
    assert all(abs(a - b) <= 1 for a, b in zip(split[1:], once[1:]))


def test_margin_changes(make_perp, fund, trader):
    pm = make_perp(0)
    ex = pm.exchange
    pm.open(fund, trader, True, 1_000 * pm.unit, 5 * WAD)
    fund(pm.usdc, trader, 500 * pm.unit, spender=ex)
    ex.addMargin(pm.id, 500 * pm.unit, sender=trader)
    assert ex.getPosition(trader, pm.id).margin == 1_500 * pm.unit
    ex.removeMargin(pm.id, 700 * pm.unit, sender=trader)
    assert pm.usdc.balanceOf(trader) == 700 * pm.unit
    # Margin ratio at the mark must stay at or above the 10% initial margin.
    with ape.reverts(ex.MarginRatioBelowInitial):
        ex.removeMargin(pm.id, 400 * pm.unit, sender=trader)
    with ape.reverts(ex.InsufficientMargin, requested=10**12, margin=800 * pm.unit):
        ex.removeMargin(pm.id, 10**12, sender=trader)


def test_price_limits(make_perp, fund, trader, whale):
    pm = make_perp(0)
    ex = pm.exchange
    fund(pm.usdc, trader, 10**12, spender=ex)
    fund(pm.usdc, whale, 10**12, spender=ex)
    with ape.reverts(ex.PriceLimitExceeded):
        ex.openPosition(pm.id, True, 1_000 * pm.unit, 10 * WAD, 2 * WAD, sender=trader)  # buying lifts the price above $2
    ex.openPosition(pm.id, True, 1_000 * pm.unit, 10 * WAD, 21 * WAD // 10, sender=trader)
    with ape.reverts(ex.PriceLimitExceeded):
        ex.closePosition(pm.id, 3 * WAD, sender=trader)  # a long's exit limit is a floor
    with ape.reverts(ex.PriceLimitExceeded):
        ex.reducePosition(pm.id, WAD, 3 * WAD, sender=trader)
    with ape.reverts(ex.PriceLimitExceeded):
        ex.openPosition(pm.id, False, 1_000 * pm.unit, 10 * WAD, 21 * WAD // 10, sender=whale)  # a short's is a floor too
    ex.openPosition(pm.id, False, 1_000 * pm.unit, 10 * WAD, 19 * WAD // 10, sender=whale)
    with ape.reverts(ex.PriceLimitExceeded):
        ex.closePosition(pm.id, 15 * WAD // 10, sender=whale)  # buying back costs more than $1.50


def test_trading_errors(make_perp, fund, trader, deployer):
    pm = make_perp(0)
    ex = pm.exchange
    fund(pm.usdc, trader, 10**12, spender=ex)
    with ape.reverts(ex.InvalidLeverage, leverageWad=10 * WAD + 1, maxLeverageWad=10 * WAD):
        ex.openPosition(pm.id, True, 1_000 * pm.unit, 10 * WAD + 1, 0, sender=trader)
    with ape.reverts(ex.InvalidLeverage, leverageWad=0, maxLeverageWad=10 * WAD):
        ex.openPosition(pm.id, True, 1_000 * pm.unit, 0, 0, sender=trader)
    with ape.reverts(ex.ZeroAmount):
        ex.openPosition(pm.id, True, 0, WAD, 0, sender=trader)
    with ape.reverts(ex.MarketNotFound, marketId=7):
        ex.openPosition(7, True, 1, WAD, 0, sender=trader)
    with ape.reverts(ex.NoPosition, trader=trader.address, marketId=pm.id):
        ex.closePosition(pm.id, 0, sender=trader)
    with ape.reverts(ex.NoPosition, trader=trader.address, marketId=pm.id):
        ex.reducePosition(pm.id, WAD, 0, sender=trader)
    with ape.reverts(ex.InsufficientVirtualLiquidity):
        ex.openPosition(pm.id, False, 300_000 * pm.unit, 10 * WAD, 0, sender=trader)  # more than the $2M of quote
    ex.openPosition(pm.id, True, 1_000 * pm.unit, 2 * WAD, 0, sender=trader)
    with ape.reverts(ex.ZeroAmount):
        ex.reducePosition(pm.id, 0, 0, sender=trader)
    with ape.reverts(ex.DirectionMismatch):
        ex.openPosition(pm.id, False, 1_000 * pm.unit, 2 * WAD, 0, sender=trader)
    with ape.reverts(ex.NotLiquidatable):
        ex.liquidate(trader, pm.id, [], sender=deployer)
    # Without funding parameters settling only steps the mark's EMA: nothing is charged.
    ex.settleFunding(pm.id, sender=trader)
    assert ex.marketState(pm.id).cumulativeFundingWad == 0
    pm.index_feed.setAnswer(0, sender=deployer)
    with ape.reverts(ex.InvalidIndexPrice, marketId=pm.id, answer=0):
        ex.indexPrice(pm.id)
    pm.set_index(2 * WAD)
    ex.setPaused(True, sender=deployer)
    with ape.reverts(ex.Paused):
        ex.closePosition(pm.id, 0, sender=trader)
    with ape.reverts(ex.Paused):
        ex.reducePosition(pm.id, 1, 0, sender=trader)
    with ape.reverts(ex.Paused):
        ex.liquidate(trader, pm.id, [], sender=deployer)
    with ape.reverts(ex.Paused):
        ex.settleFunding(pm.id, sender=trader)


def test_collateral_of_more_than_18_decimals_is_refused(project, deployer, make_token):
    token = make_token("WIDE", 24)
    with ape.reverts(project.PerpExchange.UnsupportedCollateralDecimals, decimals=24):
        project.PerpExchange.deploy(token, sender=deployer)


def test_configuration_errors_and_access_control(make_perp, deployer, stranger):
    pm = make_perp(0)
    ex = pm.exchange
    for call in (
        lambda: ex.listMarket("X", pm.index_feed, WAD, WAD, 1_000, 500, 100, 0, sender=stranger),
        lambda: ex.setFundingParams(pm.id, HOUR, WAD, WAD // 100, sender=stranger),
        lambda: ex.setMarkParams(pm.id, P.SOURCE_INDEX, 0, sender=stranger),
        lambda: ex.setLiquidationParams(pm.id, (0, MAX_UINT256, 10_000, 0, 0), sender=stranger),
        lambda: ex.setAdlEnabled(False, sender=stranger),
        lambda: ex.setPaused(True, sender=stranger),
    ):
        with ape.reverts(ex.OwnableUnauthorizedAccount, account=stranger.address):
            call()
    with ape.reverts(ex.InvalidMarketParameters, initialMarginBps=500, maintenanceMarginBps=500, liquidationFeeBps=100, tradingFeeBps=0):
        ex.listMarket("X", pm.index_feed, WAD, WAD, 500, 500, 100, 0, sender=deployer)
    with ape.reverts(ex.InvalidMarketParameters):  # a fee at or above maintenance could trap positions
        ex.listMarket("X", pm.index_feed, WAD, WAD, 1_000, 500, 100, 500, sender=deployer)
    with ape.reverts(ex.InvalidVirtualReserves, vBaseReserve=0, vQuoteReserve=WAD):
        ex.listMarket("X", pm.index_feed, 0, WAD, 1_000, 500, 100, 0, sender=deployer)
    with ape.reverts(ex.ZeroAddress):
        ex.listMarket("X", "0x" + "00" * 20, WAD, WAD, 1_000, 500, 100, 0, sender=deployer)
    with ape.reverts(ex.InvalidFundingParameters, intervalS=0, maxRatePerIntervalWad=WAD):
        ex.setFundingParams(pm.id, 0, WAD, WAD, sender=deployer)
    with ape.reverts(ex.InvalidPriceSource, source=3):
        ex.setMarkParams(pm.id, 3, 150, sender=deployer)
    with ape.reverts(ex.InvalidLiquidationParameters, maxLiquidationBps=0):
        ex.setLiquidationParams(pm.id, (0, 1, 0, 0, 0), sender=deployer)
    with ape.reverts(ex.InvalidLiquidationParameters, maxLiquidationBps=10_001):
        ex.setLiquidationParams(pm.id, (0, 1, 10_001, 0, 0), sender=deployer)
    receipt = ex.listMarket("BTC-PERP", pm.index_feed, WAD, 65_000 * WAD, 1_000, 500, 100, 5, sender=deployer)
    (event,) = receipt.decode_logs(ex.MarketListed)
    assert (event.marketId, event.symbol) == (1, "BTC-PERP")
    assert ex.marketCount() == 2 and ex.markPrice(1) == 65_000 * WAD
    config = ex.marketConfig(1)
    assert (config.initialMarginBps, config.maintenanceMarginBps, config.tradingFeeBps, config.marginPriceSource) == (1_000, 500, 5, 0)
    assert (config.partialLiquidationUsdc, config.maxLiquidationBps, config.minPositionUsdc) == (MAX_UINT256, 10_000, 0)


def test_funding_beyond_the_margin_leaves_only_liquidation(make_perp, fund, deployer, trader, whale, chain):
    pm = make_perp(0)
    ex = pm.exchange
    ex.setFundingParams(pm.id, HOUR, WAD, WAD // 10, sender=deployer)  # up to 10% of the index per hour
    pm.open(fund, trader, True, 1_000 * pm.unit, 10 * WAD)
    fund(pm.usdc, trader, 1, spender=ex)
    pm.set_index(WAD)  # index $1, mark $2: longs pay the 10% cap
    start = fresh_time(chain)
    for i in range(1, 4):
        pin(chain, start + i * HOUR)
        ex.settleFunding(pm.id, sender=whale)
    owed = ex.pendingFunding(trader, pm.id)
    assert owed > 1_000 * pm.unit + 1
    pin(chain, start + 3 * HOUR)
    with ape.reverts(ex.PositionBankrupt, trader=trader.address, marketId=pm.id, equity=1_000 * pm.unit + 1 - owed):
        ex.addMargin(pm.id, 1, sender=trader)
    assert ex.isLiquidatable(trader, pm.id)


def test_funding_beyond_the_margin_of_a_profitable_position_can_be_closed(make_perp, fund, deployer, trader, whale, chain):
    """A long far in profit whose funding owed exceeds its stored margin still has positive equity
    (margin − funding + PnL) and is not liquidatable: closing it pays out that equity."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    ex.setFundingParams(pm.id, HOUR, WAD, WAD // 10, sender=deployer)
    vamm = start_vamm(pm)
    fund(pm.usdc, trader, 1_000 * unit, spender=ex)
    fund(pm.usdc, whale, 100_000 * unit, spender=ex)
    t = fresh_time(chain)
    open_at(pm, chain, trader, True, 1_000 * unit, 10 * WAD, t)
    p = vamm.open(True, 10_000 * unit, unit, 0, 1_000 * unit)
    open_at(pm, chain, whale, True, 100_000 * unit, 5 * WAD, t)  # lifts the vAMM ~55%: the trader's profit
    vamm.open(True, 500_000 * unit, unit, 0, 100_000 * unit)
    rate = funding_rate(vamm.price, 2 * WAD, WAD, WAD // 10)
    assert rate == WAD // 10
    elapsed = 4 * HOUR
    pin(chain, t + elapsed)
    ex.settleFunding(pm.id, sender=deployer)
    payment = funding_payment(rate, 2 * WAD, elapsed, HOUR)
    owed = funding_owed(p.size, payment, unit)
    e = vamm.quote_exit(p, p.size, unit)
    equity = p.margin - owed + e.pnl
    assert owed > p.margin and equity > 0
    assert ex.pendingFunding(trader, pm.id) == owed
    assert not ex.isLiquidatable(trader, pm.id)
    pin(chain, t + elapsed)
    ex.closePosition(pm.id, 0, sender=trader)
    assert pm.usdc.balanceOf(trader) == equity


def test_own_price_impact_does_not_back_a_margin_withdrawal(make_perp, fund, trader):
    pm = make_perp(0)
    ex = pm.exchange
    # A $1M long on $2M of virtual quote: at the new mark it shows a large paper profit.
    pm.open(fund, trader, True, 100_000 * pm.unit, 10 * WAD)
    assert ex.unrealizedPnl(trader, pm.id) > 100_000 * pm.unit
    with ape.reverts(ex.MarginRatioBelowInitial):
        ex.removeMargin(pm.id, 1 * pm.unit, sender=trader)


def test_an_open_that_is_liquidatable_at_once_is_refused(make_perp, fund, deployer, trader):
    pm = make_perp(0)
    ex = pm.exchange
    ex.setMarkParams(pm.id, P.SOURCE_INDEX, 0, sender=deployer)
    pm.set_index(185 * WAD // 100)  # index $1.85 while the mark is $2
    fund(pm.usdc, trader, 1_000 * pm.unit, spender=ex)
    with ape.reverts(ex.OpensLiquidatable):
        ex.openPosition(pm.id, True, 1_000 * pm.unit, 10 * WAD, 0, sender=trader)
