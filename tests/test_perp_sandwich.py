"""A liquidation sandwich on a market configured like oct10's ALT perp (vAMM depth $20M at $2,
initial margin 10%, maintenance 5%, liquidation fee 1%, trading fee 10 bps, a $100k fund, an index
feed the test controls). A victim long sits a little above maintenance; an attacker, in one second
(three blocks with the same timestamp: nothing accrues between them), shorts to push the vAMM,
liquidates the victim, and closes.

* vAMM source: the push makes the victim liquidatable at the vAMM price; the attacker collects the
  liquidation fee and buys back after the victim's forced sale pushed the price further down:
  attacker PnL > 0.
* median source (`setMarkParams(id, 2, 150)`): within one second neither the basis EMA nor the
  last funding rate moves, so the median stays at the index; the liquidation reverts with
  NotLiquidatable and the attacker only pays two trading fees: attacker PnL ≤ 0.

Run with -s to see the numbers; expectations are computed from the rules (perp_math)."""

import ape
import pytest
from conftest import PerpMarket as P
from perp_math import BPS, WAD, Vamm, fee, fee_split, liquidation_fee_due, margin_ratio, median_mark

HOUR = 3_600
V_BASE, V_QUOTE = 10_000_000 * WAD, 20_000_000 * WAD  # $20M of virtual quote at $2
TRADING_FEE_BPS, TAU_S = 10, 150
VICTIM_MARGIN, VICTIM_LEVERAGE = 50_000, 10  # $500k long
ARB_NOTIONAL = 700_000  # shorts the vAMM back below $2: the victim's margin ratio ~5.77%
ATTACK_MARGIN, ATTACK_LEVERAGE = 10_000, 10  # a $100k short: the vAMM ~1% lower


@pytest.fixture
def roles(accounts):
    return {"victim": accounts[6], "arb": accounts[7], "attacker": accounts[8], "owner": accounts[0]}


def stage(make_perp, fund, chain, roles, source):
    """The market, the victim near maintenance at the vAMM, the index set to the vAMM price, and an
    hour for the EMA and the funding rate to settle. Returns (pm, vamm model, victim, t)."""
    pm = make_perp(TRADING_FEE_BPS, 6, V_BASE, V_QUOTE, 1_000, 500, 100)
    ex, unit = pm.exchange, pm.unit
    ex.setFundingParams(pm.id, HOUR, WAD, WAD // 100, sender=roles["owner"])
    ex.setMarkParams(pm.id, source, TAU_S, sender=roles["owner"])
    pm.seed_insurance(fund, 100_000 * unit)
    fund(pm.usdc, roles["victim"], VICTIM_MARGIN * unit, spender=ex)
    fund(pm.usdc, roles["arb"], ARB_NOTIONAL * unit // 5, spender=ex)
    fund(pm.usdc, roles["attacker"], ATTACK_MARGIN * unit, spender=ex)
    vamm = Vamm(V_BASE, V_QUOTE)
    t = chain.blocks.head.timestamp + 10
    chain.pending_timestamp = t
    ex.openPosition(pm.id, True, VICTIM_MARGIN * unit, VICTIM_LEVERAGE * WAD, 0, sender=roles["victim"])
    victim = vamm.open(True, VICTIM_MARGIN * VICTIM_LEVERAGE * unit, unit, TRADING_FEE_BPS, VICTIM_MARGIN * unit)
    chain.pending_timestamp = t
    ex.openPosition(pm.id, False, ARB_NOTIONAL * unit // 5, 5 * WAD, 0, sender=roles["arb"])
    vamm.open(False, ARB_NOTIONAL * unit, unit, TRADING_FEE_BPS)
    chain.pending_timestamp = t
    pm.set_index(vamm.price // 10**10 * 10**10)
    t += HOUR
    chain.pending_timestamp = t
    ex.settleFunding(pm.id, sender=roles["owner"])
    return pm, vamm, victim, t


def attack(pm, chain, roles, t):
    """Push, liquidate, close, all at timestamp `t`. Returns the liquidation's receipt or the error."""
    ex, attacker = pm.exchange, roles["attacker"]
    chain.pending_timestamp = t
    ex.openPosition(pm.id, False, ATTACK_MARGIN * pm.unit, ATTACK_LEVERAGE * WAD, 0, sender=attacker)
    chain.pending_timestamp = t
    try:
        outcome = ex.liquidate(roles["victim"], pm.id, [], sender=attacker)
    except ape.exceptions.ContractLogicError as error:
        outcome = error
    chain.pending_timestamp = t
    ex.closePosition(pm.id, 0, sender=attacker)
    return outcome


def test_a_sandwich_pays_under_the_vamm_source(make_perp, fund, chain, roles):
    pm, vamm, victim, t = stage(make_perp, fund, chain, roles, P.SOURCE_VAMM)
    unit, mm = pm.unit, P.MAINTENANCE_MARGIN_BPS * WAD // BPS
    before_ratio = margin_ratio(victim.size, victim.open_notional, victim.margin, vamm.price, unit)
    assert mm < before_ratio < mm + WAD // 100  # within 1% of maintenance
    assert not pm.exchange.isLiquidatable(roles["victim"], pm.id)

    # The rule's prediction of the three trades.
    short = vamm.open(False, ATTACK_MARGIN * ATTACK_LEVERAGE * unit, unit, TRADING_FEE_BPS, ATTACK_MARGIN * unit)
    pushed = vamm.price
    after_ratio = margin_ratio(victim.size, victim.open_notional, victim.margin, pushed, unit)
    exit_ = vamm.quote_exit(victim, victim.size, unit)
    fee_from_margin, _ = fee_split(liquidation_fee_due(victim.size, pushed, unit, P.LIQUIDATION_FEE_BPS), victim.margin + exit_.pnl, 0, 0)
    vamm.apply(victim, exit_)
    buy_back = vamm.quote_exit(short, -short.size, unit)
    payout = short.margin + buy_back.pnl - fee(buy_back.notional, TRADING_FEE_BPS)
    expected_pnl = payout + fee_from_margin - ATTACK_MARGIN * unit

    receipt = attack(pm, chain, roles, t)
    attacker_pnl = pm.usdc.balanceOf(roles["attacker"]) - ATTACK_MARGIN * unit
    (event,) = receipt.decode_logs(pm.exchange.PositionLiquidated)
    print(f"\nvAMM source: victim margin ratio {before_ratio / 1e16:.3f}% -> {after_ratio / 1e16:.3f}% after the push "
          f"(${vamm_price_str(pushed)}); liquidation fee ${event.liquidatorFee / unit:,.2f}; "
          f"victim's margin left after its exit ${event.marginLeft / unit:,.2f} (the fee, the rest to the fund); attacker PnL {usd(attacker_pnl, unit)}")
    assert after_ratio < mm
    assert event.liquidatorFee == fee_from_margin
    assert attacker_pnl == expected_pnl
    assert attacker_pnl > 0


def test_the_median_mark_defeats_the_sandwich(make_perp, fund, chain, roles):
    pm, vamm, victim, t = stage(make_perp, fund, chain, roles, P.SOURCE_MEDIAN)
    ex, unit, mm = pm.exchange, pm.unit, P.MAINTENANCE_MARGIN_BPS * WAD // BPS
    state = ex.marketState(pm.id)
    index = ex.indexPrice(pm.id)
    mark = median_mark(index, vamm.price, state.basisEmaWad, state.lastFundingRateWad)
    before_ratio = margin_ratio(victim.size, victim.open_notional, victim.margin, mark, unit)
    assert mm < before_ratio < mm + WAD // 100

    short = vamm.open(False, ATTACK_MARGIN * ATTACK_LEVERAGE * unit, unit, TRADING_FEE_BPS, ATTACK_MARGIN * unit)
    pushed = vamm.price
    # Within the second, the EMA and the last rate stand still: the median ignores the pushed vAMM
    # (it is now the lowest of the three) and stays within a millionth of the index.
    mark_after = median_mark(index, pushed, state.basisEmaWad, state.lastFundingRateWad)
    assert mark_after > pushed and abs(mark_after - index) <= index // 10**6
    after_ratio = margin_ratio(victim.size, victim.open_notional, victim.margin, mark_after, unit)
    assert after_ratio >= mm
    vamm_ratio = margin_ratio(victim.size, victim.open_notional, victim.margin, pushed, unit)
    assert vamm_ratio < mm  # at the vAMM it would have been liquidatable
    buy_back = vamm.quote_exit(short, -short.size, unit)
    expected_pnl = short.margin + buy_back.pnl - fee(buy_back.notional, TRADING_FEE_BPS) - ATTACK_MARGIN * unit

    error = attack(pm, chain, roles, t)
    attacker_pnl = pm.usdc.balanceOf(roles["attacker"]) - ATTACK_MARGIN * unit
    assert isinstance(error, ape.exceptions.ContractLogicError) and "NotLiquidatable" in repr(error), error
    print(f"\nmedian source: median ${vamm_price_str(mark)} before, ${vamm_price_str(mark_after)} after the push to "
          f"${vamm_price_str(pushed)}; victim margin ratio {before_ratio / 1e16:.3f}% -> {after_ratio / 1e16:.3f}% "
          f"(at the vAMM it would be {vamm_ratio / 1e16:.3f}%); "
          f"liquidation refused (NotLiquidatable); attacker PnL {usd(attacker_pnl, unit)}")
    assert attacker_pnl == expected_pnl
    assert attacker_pnl <= 0
    assert ex.getPosition(roles["victim"], pm.id).sizeBase == victim.size


def vamm_price_str(price_wad):
    return f"{price_wad / 1e18:.4f}"


def usd(amount, unit):
    return f"{'-' if amount < 0 else '+'}${abs(amount) / unit:,.2f}"
