"""PerpExchange losses: a covered liquidation, the insurance fund paying a bankrupt position, ADL
against the most profitable-and-levered opposite positions, and bad debt when ADL is off."""

import ape
import pytest

from conftest import PerpMarket as P
from perp_math import BPS, WAD, adl_score, bankruptcy_price, sell_base, to_collateral


def open_position(pm, fund, trader, is_long, margin, leverage_wad):
    fund(pm.usdc, trader, margin, spender=pm.exchange)
    pm.exchange.openPosition(pm.id, is_long, margin, leverage_wad, 0, sender=trader)


def seed_insurance(pm, fund, deployer, amount):
    if amount:
        fund(pm.usdc, deployer, amount, spender=pm.exchange)
        pm.exchange.fundInsurance(amount, sender=deployer)


def reserves(pm):
    market = pm.exchange.getMarket(pm.id)
    return market.vBase, market.vQuote


def exit_of_long(pm, size, open_notional):
    """(exit quote, exit price, PnL) of selling a long's whole size into the vAMM now."""
    v_base, v_quote = reserves(pm)
    quote, _, _ = sell_base(v_base, v_quote, size)
    return quote, quote * WAD // size, to_collateral(quote, pm.unit) - open_notional


@pytest.fixture
def roles(accounts, trader, whale):
    return {"long": trader, "whale": whale, "liquidator": accounts[6]}


def test_covered_liquidation_pays_the_liquidator_and_the_fund(make_perp, fund, deployer, roles):
    pm = make_perp(0)
    ex, long_trader = pm.exchange, roles["long"]
    open_position(pm, fund, long_trader, True, 1_000 * pm.unit, 10 * WAD)
    open_position(pm, fund, roles["whale"], False, 8_000 * pm.unit, 10 * WAD)  # pushes the mark ~8% down
    size, margin, notional, _ = ex.getPosition(long_trader, pm.id)
    assert ex.isLiquidatable(long_trader, pm.id)
    quote, exit_price, pnl = exit_of_long(pm, size, notional)
    remaining = margin + pnl
    assert remaining > 0
    fee = min(to_collateral(quote, pm.unit) * P.LIQUIDATION_FEE_BPS // BPS, remaining)
    receipt = ex.liquidate(long_trader, pm.id, sender=roles["liquidator"])
    assert pm.usdc.balanceOf(roles["liquidator"]) == fee
    assert ex.insuranceFund() == remaining - fee
    (event,) = receipt.decode_logs(ex.PositionLiquidated)
    assert (event.sizeBase, event.exitPriceWad, event.marginLeft, event.liquidatorFee, event.insuranceChange) == (size, exit_price, remaining, fee, remaining - fee)
    assert ex.getPosition(long_trader, pm.id)[0] == 0


def crash(pm, fund, roles, deployer, insurance):
    """A 10x long, then a whale short of $1M notional that takes the mark from ~$2 to ~$0.5."""
    seed_insurance(pm, fund, deployer, insurance)
    open_position(pm, fund, roles["long"], True, 1_000 * pm.unit, 10 * WAD)
    open_position(pm, fund, roles["whale"], False, 100_000 * pm.unit, 10 * WAD)
    return pm.exchange.getPosition(roles["long"], pm.id)


def test_insurance_fund_pays_a_bankrupt_position_it_can_cover(make_perp, fund, deployer, roles):
    pm = make_perp(0)
    ex = pm.exchange
    size, margin, notional, _ = crash(pm, fund, roles, deployer, 10_000 * pm.unit)
    v_before = reserves(pm)
    quote, _, pnl = exit_of_long(pm, size, notional)
    loss = -(margin + pnl)
    assert 0 < loss <= 10_000 * pm.unit
    ex.liquidate(roles["long"], pm.id, sender=roles["liquidator"])
    assert ex.insuranceFund() == 10_000 * pm.unit - loss
    assert pm.usdc.balanceOf(roles["liquidator"]) == 0
    assert reserves(pm) == sell_base(*v_before, size)[1:]
    assert ex.badDebt() == 0


def test_adl_matches_the_whale_short_at_the_bankruptcy_price(make_perp, fund, deployer, roles):
    pm = make_perp(0)
    ex = pm.exchange
    size, margin, notional, _ = crash(pm, fund, roles, deployer, 100 * pm.unit)
    whale_size, whale_margin, whale_notional, _ = ex.getPosition(roles["whale"], pm.id)
    _, _, pnl = exit_of_long(pm, size, notional)
    assert -(margin + pnl) > 100 * pm.unit  # more than the fund holds
    price = bankruptcy_price(size, notional, margin, pm.unit)
    long_oi, short_oi = ex.openInterest(pm.id)
    v_before = reserves(pm)

    receipt = ex.liquidate(roles["long"], pm.id, sender=roles["liquidator"])

    (fill,) = receipt.decode_logs(ex.AutoDeleveraged)
    assert (fill.liquidated, fill.counterparty, fill.marketId, fill.sizeBase, fill.bankruptcyPriceWad) == (
        roles["long"].address, roles["whale"].address, pm.id, size, price)
    assert ex.insuranceFund() == 100 * pm.unit  # untouched
    assert reserves(pm) == v_before  # the vAMM did not trade
    assert ex.openInterest(pm.id) == (long_oi - size, short_oi - size)  # net open interest unchanged
    notional_part = whale_notional * size // -whale_size
    realized = notional_part - to_collateral(size * price // WAD, pm.unit, round_up=True)
    assert ex.getPosition(roles["whale"], pm.id)[:3] == (whale_size + size, whale_margin + realized, whale_notional - notional_part)
    assert ex.badDebt() == 0


def test_adl_disabled_records_bad_debt(make_perp, fund, deployer, roles):
    pm = make_perp(0)
    ex = pm.exchange
    ex.setAdlEnabled(False, sender=deployer)
    size, margin, notional, _ = crash(pm, fund, roles, deployer, 100 * pm.unit)
    _, _, pnl = exit_of_long(pm, size, notional)
    loss = -(margin + pnl)
    receipt = ex.liquidate(roles["long"], pm.id, sender=roles["liquidator"])
    assert ex.insuranceFund() == 0
    assert ex.badDebt() == loss - 100 * pm.unit
    (event,) = receipt.decode_logs(ex.BadDebtRecorded)
    assert (event.trader, event.amount) == (roles["long"].address, loss - 100 * pm.unit)
    assert receipt.decode_logs(ex.AutoDeleveraged) == []


def test_adl_takes_counterparties_in_descending_score(make_perp, fund, deployer, accounts, roles):
    pm = make_perp(0)
    ex = pm.exchange
    long_trader = roles["long"]
    seed_insurance(pm, fund, deployer, 50 * pm.unit)  # far less than the loss
    open_position(pm, fund, long_trader, True, 2_000 * pm.unit, 10 * WAD)
    shorts = {  # different entries, PnL and leverage
        accounts[7]: (2_000 * pm.unit, 2 * WAD),
        accounts[8]: (1_000 * pm.unit, 5 * WAD),
        accounts[9]: (500 * pm.unit, 10 * WAD),
    }
    for trader, (margin, leverage) in shorts.items():
        open_position(pm, fund, trader, False, margin, leverage)
    # The crash: a low-leverage whale short, which ranks last although it is the largest.
    open_position(pm, fund, roles["whale"], False, 300_000 * pm.unit, 2 * WAD)
    size = ex.getPosition(long_trader, pm.id)[0]
    mark = ex.markPrice(pm.id)

    expected = []
    for trader in [*shorts, roles["whale"]]:
        q_size, q_margin, q_notional, _ = ex.getPosition(trader, pm.id)
        score = adl_score(q_size, q_notional, q_margin, mark, pm.unit)
        assert ex.adlScore(trader, pm.id) == score
        expected.append((score, trader.address, -q_size))
    expected.sort(key=lambda row: -row[0])
    assert len({row[0] for row in expected}) == len(expected)  # a strict order to check
    fills, remaining = [], size
    for _, trader, available in expected:
        if remaining == 0:
            break
        fills.append((trader, min(remaining, available)))
        remaining -= fills[-1][1]
    # Several counterparties, taken in an order that is not the order the positions were opened in.
    assert len(fills) >= 3
    assert [trader for trader, _ in fills] != [a.address for a in [*shorts, roles["whale"]]][: len(fills)]

    net_before = ex.openInterest(pm.id)
    _, long_margin, long_notional, _ = ex.getPosition(long_trader, pm.id)
    price = bankruptcy_price(size, long_notional, long_margin, pm.unit)
    before = {t: ex.getPosition(t, pm.id) for t, _ in fills}
    receipt = ex.liquidate(long_trader, pm.id, sender=roles["liquidator"])
    events = receipt.decode_logs(ex.AutoDeleveraged)
    assert [(e.counterparty, e.sizeBase) for e in events] == fills
    assert {e.bankruptcyPriceWad for e in events} == {price}
    long_oi, short_oi = ex.openInterest(pm.id)
    assert long_oi - short_oi == net_before[0] - net_before[1]
    assert ex.insuranceFund() == 50 * pm.unit  # the fund paid nothing
    for trader, fill in fills:  # each short bought `fill` back at the bankruptcy price
        q_size, q_margin, q_notional, _ = before[trader]
        notional_part = q_notional * fill // -q_size
        realized = notional_part - to_collateral(fill * price // WAD, pm.unit, round_up=True)
        if fill == -q_size:  # closed in full: paid out
            assert ex.getPosition(trader, pm.id)[0] == 0
            assert pm.usdc.balanceOf(trader) == q_margin + realized
        else:
            assert ex.getPosition(trader, pm.id)[:3] == (q_size + fill, q_margin + realized, q_notional - notional_part)


def test_bankrupt_close_is_refused(make_perp, fund, deployer, roles):
    pm = make_perp(0)
    crash(pm, fund, roles, deployer, 0)
    with ape.reverts(pm.exchange.CloseWouldBeBankrupt):
        pm.exchange.closePosition(pm.id, 0, sender=roles["long"])
