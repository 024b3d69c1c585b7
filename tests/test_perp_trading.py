"""PerpExchange trading: vAMM fills against the constant-product formula, closed-form liquidation
and bankruptcy prices, funding over several intervals, margin changes and every trading error."""

import ape
import pytest

from conftest import PerpMarket as P
from perp_math import (
    WAD,
    bankruptcy_price,
    buy_base,
    buy_base_with_quote,
    fee,
    funding_owed,
    funding_payment_per_base,
    liquidation_price,
    product_to_collateral,
    sell_base,
    sell_base_for_quote,
    to_collateral,
)

MAX_UINT256 = 2**256 - 1


def open_position(pm, fund, trader, is_long, margin, leverage_wad, limit=0):
    fund(pm.usdc, trader, margin, spender=pm.exchange)
    return pm.exchange.openPosition(pm.id, is_long, margin, leverage_wad, limit, sender=trader)


def reserves(pm):
    market = pm.exchange.getMarket(pm.id)
    return market.vBase, market.vQuote


@pytest.mark.parametrize("trading_fee_bps", [0, 30])
@pytest.mark.parametrize("is_long", [True, False], ids=["long", "short"])
def test_open_and_close_against_the_constant_product(make_perp, fund, trader, is_long, trading_fee_bps):
    pm = make_perp(trading_fee_bps)
    ex, unit = pm.exchange, pm.unit
    margin, leverage = 1_000 * unit + 7, 5 * WAD
    notional = margin * leverage // WAD
    v_base, v_quote = reserves(pm)
    quote = notional * WAD // unit
    if is_long:
        size, v_base, v_quote = buy_base_with_quote(v_base, v_quote, quote)
    else:
        size, v_base, v_quote = sell_base_for_quote(v_base, v_quote, quote)
    open_position(pm, fund, trader, is_long, margin, leverage)
    open_fee = fee(notional, trading_fee_bps)
    assert ex.getPosition(trader, pm.id)[:3] == ((size if is_long else -size), margin - open_fee, notional)
    assert reserves(pm) == (v_base, v_quote)
    assert ex.markPrice(pm.id) == v_quote * WAD // v_base
    assert ex.insuranceFund() == open_fee

    if is_long:
        exit_quote, v_base, v_quote = sell_base(v_base, v_quote, size)
        exit_notional = to_collateral(exit_quote, unit)
        pnl = exit_notional - notional
    else:
        exit_quote, v_base, v_quote = buy_base(v_base, v_quote, size)
        exit_notional = to_collateral(exit_quote, unit, round_up=True)
        pnl = notional - exit_notional
    close_fee = fee(exit_notional, trading_fee_bps)
    ex.closePosition(pm.id, 0, sender=trader)
    assert pm.usdc.balanceOf(trader) == margin - open_fee + pnl - close_fee
    assert pnl <= 0  # a round trip through the vAMM never profits
    assert reserves(pm) == (v_base, v_quote)
    assert ex.getPosition(trader, pm.id)[0] == 0
    assert ex.openInterest(pm.id) == (0, 0)
    assert ex.insuranceFund() == open_fee + close_fee


@pytest.mark.parametrize("trading_fee_bps", [0, 30])
@pytest.mark.parametrize("is_long", [True, False], ids=["long", "short"])
def test_liquidation_and_bankruptcy_prices_are_the_closed_forms(make_perp, fund, deployer, trader, is_long, trading_fee_bps):
    pm = make_perp(trading_fee_bps)
    ex = pm.exchange
    open_position(pm, fund, trader, is_long, 2_000 * pm.unit, 8 * WAD)
    size, margin, notional, _ = ex.getPosition(trader, pm.id)
    assert margin == 2_000 * pm.unit - fee(16_000 * pm.unit, trading_fee_bps)
    liq = liquidation_price(size, notional, margin, pm.unit, P.MAINTENANCE_MARGIN_BPS)
    assert ex.liquidationPrice(trader, pm.id) == liq
    assert ex.bankruptcyPrice(trader, pm.id) == bankruptcy_price(size, notional, margin, pm.unit)

    # Read margin from the index, and put the index one 8-decimal step either side of the price.
    ex.setMarginPriceSource(pm.id, 1, sender=deployer)
    step = 10**10  # one unit of an 8-decimal feed, in WAD
    safe, unsafe = (liq // step + 1, liq // step - 1) if is_long else (liq // step - 1, liq // step + 1)
    pm.index_feed.setAnswer(safe, sender=deployer)
    assert not ex.isLiquidatable(trader, pm.id)
    pm.index_feed.setAnswer(unsafe, sender=deployer)
    assert ex.isLiquidatable(trader, pm.id)


def test_funding_over_several_intervals(make_perp, fund, deployer, trader, whale, chain):
    pm = make_perp(0)
    ex = pm.exchange
    factor, max_rate, interval = WAD // 2, WAD // 100, 3_600  # half the premium, at most 1% per hour
    ex.setFundingParams(pm.id, interval, factor, max_rate, sender=deployer)
    fund(pm.usdc, deployer, 10_000 * pm.unit, spender=ex)
    ex.fundInsurance(10_000 * pm.unit, sender=deployer)
    open_position(pm, fund, trader, True, 10_000 * pm.unit, 5 * WAD)  # long $50k: mark above $2
    open_position(pm, fund, whale, False, 5_000 * pm.unit, 4 * WAD)  # short $20k
    long_size, short_size = ex.getPosition(trader, pm.id)[0], -ex.getPosition(whale, pm.id)[0]
    mark = ex.markPrice(pm.id)

    start = chain.blocks.head.timestamp
    cumulative, insurance = 0, ex.insuranceFund()
    for i, index8 in enumerate([2_00000000, 2_01000000, 1_90000000, 2_03500000], start=1):
        pm.index_feed.setAnswer(index8, sender=deployer)
        chain.pending_timestamp = start + i * interval
        ex.settleFunding(pm.id, sender=trader)
        rate, payment = funding_payment_per_base(mark, index8 * 10**10, factor, max_rate)
        cumulative += payment
        # The fund takes the long/short imbalance: it receives (rounded down) or pays (rounded up).
        net_base = long_size - short_size
        fund_receives = (net_base > 0) == (payment > 0)
        net = product_to_collateral(net_base, payment, pm.unit, round_up=not fund_receives)
        insurance += net if fund_receives else -net
        assert ex.getMarket(pm.id).cumulativeFundingWad == cumulative
        assert ex.insuranceFund() == insurance
    assert cumulative != 0

    def owed_collateral(size):
        return funding_owed(size, cumulative, pm.unit)

    assert ex.pendingFunding(trader, pm.id) == owed_collateral(long_size)
    assert ex.pendingFunding(whale, pm.id) == owed_collateral(-short_size)

    margin_before = ex.getPosition(trader, pm.id)[1]
    fund(pm.usdc, trader, 1, spender=ex)
    ex.addMargin(pm.id, 1, sender=trader)  # touching the position applies its funding
    assert ex.getPosition(trader, pm.id)[1] == margin_before + 1 - owed_collateral(long_size)
    assert ex.pendingFunding(trader, pm.id) == 0

    with ape.reverts(ex.FundingTooEarly):
        ex.settleFunding(pm.id, sender=trader)


def test_margin_changes(make_perp, fund, trader):
    pm = make_perp(0)
    ex = pm.exchange
    open_position(pm, fund, trader, True, 1_000 * pm.unit, 5 * WAD)
    fund(pm.usdc, trader, 500 * pm.unit, spender=ex)
    ex.addMargin(pm.id, 500 * pm.unit, sender=trader)
    assert ex.getPosition(trader, pm.id)[1] == 1_500 * pm.unit
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
    with ape.reverts(ex.InsufficientVirtualLiquidity):
        ex.openPosition(pm.id, False, 300_000 * pm.unit, 10 * WAD, 0, sender=trader)  # more than the $2M of quote
    ex.openPosition(pm.id, True, 1_000 * pm.unit, 2 * WAD, 0, sender=trader)
    with ape.reverts(ex.DirectionMismatch):
        ex.openPosition(pm.id, False, 1_000 * pm.unit, 2 * WAD, 0, sender=trader)
    with ape.reverts(ex.NotLiquidatable):
        ex.liquidate(trader, pm.id, sender=deployer)
    with ape.reverts(ex.FundingNotConfigured, marketId=pm.id):
        ex.settleFunding(pm.id, sender=trader)
    pm.index_feed.setAnswer(0, sender=deployer)
    with ape.reverts(ex.InvalidIndexPrice, marketId=pm.id, answer=0):
        ex.indexPrice(pm.id)
    ex.setPaused(True, sender=deployer)
    with ape.reverts(ex.Paused):
        ex.closePosition(pm.id, 0, sender=trader)
    with ape.reverts(ex.Paused):
        ex.liquidate(trader, pm.id, sender=deployer)


def test_collateral_of_more_than_18_decimals_is_refused(project, deployer, make_token):
    token = make_token("WIDE", 24)
    with ape.reverts(project.PerpExchange.UnsupportedCollateralDecimals, decimals=24):
        project.PerpExchange.deploy(token, sender=deployer)


def test_configuration_errors_and_access_control(make_perp, deployer, stranger):
    pm = make_perp(0)
    ex = pm.exchange
    for call in (
        lambda: ex.listMarket("X", pm.index_feed, WAD, WAD, 1_000, 500, 100, 0, sender=stranger),
        lambda: ex.setFundingParams(pm.id, 3_600, WAD, WAD // 100, sender=stranger),
        lambda: ex.setMarginPriceSource(pm.id, 1, sender=stranger),
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
    with ape.reverts(ex.InvalidPriceSource, source=2):
        ex.setMarginPriceSource(pm.id, 2, sender=deployer)
    receipt = ex.listMarket("BTC-PERP", pm.index_feed, WAD, 65_000 * WAD, 1_000, 500, 100, 5, sender=deployer)
    (event,) = receipt.decode_logs(ex.MarketListed)
    assert (event.marketId, event.symbol) == (1, "BTC-PERP")
    assert ex.marketCount() == 2 and ex.markPrice(1) == 65_000 * WAD


def test_funding_beyond_the_margin_leaves_only_liquidation(make_perp, fund, deployer, trader, whale, chain):
    pm = make_perp(0)
    ex = pm.exchange
    ex.setFundingParams(pm.id, 3_600, WAD, WAD // 10, sender=deployer)  # up to 10% of the index per hour
    open_position(pm, fund, trader, True, 1_000 * pm.unit, 10 * WAD)
    pm.index_feed.setAnswer(10**8, sender=deployer)  # index $1, mark $2: longs pay the 10% cap
    start = chain.blocks.head.timestamp
    for i in range(1, 4):
        chain.pending_timestamp = start + i * 3_600
        ex.settleFunding(pm.id, sender=whale)
    owed = ex.pendingFunding(trader, pm.id)
    assert owed > 1_000 * pm.unit + 1
    fund(pm.usdc, trader, 1, spender=ex)
    with ape.reverts(ex.PositionBankrupt, trader=trader.address, marketId=pm.id, equity=1_000 * pm.unit + 1 - owed):
        ex.addMargin(pm.id, 1, sender=trader)
    assert ex.isLiquidatable(trader, pm.id)


def test_own_price_impact_does_not_back_a_margin_withdrawal(make_perp, fund, trader):
    pm = make_perp(0)
    ex = pm.exchange
    # A $1M long on $2M of virtual quote: at the new mark it shows a large paper profit.
    open_position(pm, fund, trader, True, 100_000 * pm.unit, 10 * WAD)
    assert ex.unrealizedPnl(trader, pm.id) > 100_000 * pm.unit
    with ape.reverts(ex.MarginRatioBelowInitial):
        ex.removeMargin(pm.id, 1 * pm.unit, sender=trader)


def test_an_open_that_is_liquidatable_at_once_is_refused(make_perp, fund, deployer, trader):
    pm = make_perp(0)
    ex = pm.exchange
    ex.setMarginPriceSource(pm.id, 1, sender=deployer)
    pm.index_feed.setAnswer(185_000_000, sender=deployer)  # index $1.85 while the mark is $2
    fund(pm.usdc, trader, 1_000 * pm.unit, spender=ex)
    with ape.reverts(ex.OpensLiquidatable):
        ex.openPosition(pm.id, True, 1_000 * pm.unit, 10 * WAD, 0, sender=trader)
