"""The exchange's guards against the attacks an economic review of PerpExchange v2 found: a margin
withdrawal that leaves a bankrupt exit, a liquidation exiting into a vAMM pushed against the
position, a median without an EMA, unbounded parameters, and funding charged for time no one
could act in (before funding was set, while paused). Expectations come from the rules in
`perp_math.py`."""

import ape
import pytest
from conftest import PerpMarket as P
from perp_math import BPS, WAD, Vamm, funding_payment, funding_rate

HOUR = 3_600


@pytest.fixture
def roles(accounts):
    return {"owner": accounts[0], "long": accounts[6], "pusher": accounts[7], "liquidator": accounts[8]}


def test_a_withdrawal_must_leave_an_exit_that_covers_the_position(make_perp, fund, roles):
    """A 2× long of $400k on the $2M vAMM, and a 10× short of $400k that brings the vAMM back near
    $2: the long shows no loss at the vAMM, but its own exit would slip ~20%. Withdrawing half its
    margin keeps the margin ratio above the initial margin and is refused all the same: the rest
    could not pay for its exit, and the fund would."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    vamm = Vamm(pm.v_base, pm.v_quote)
    p = vamm.open(True, 400_000 * unit, unit, 0, 200_000 * unit)
    pm.open(fund, roles["long"], True, 200_000 * unit, 2 * WAD)
    vamm.open(False, 400_000 * unit, unit, 0, 40_000 * unit)
    pm.open(fund, roles["pusher"], False, 40_000 * unit, 10 * WAD)

    exit_pnl = vamm.quote_exit(p, p.size, unit).pnl
    too_much = 99_990 * unit
    assert p.margin - too_much + exit_pnl < 0  # the rule says: refused
    with ape.reverts(ex.CloseWouldBeBankrupt, payout=p.margin - too_much + exit_pnl):
        ex.removeMargin(pm.id, too_much, sender=roles["long"])
    allowed = p.margin + exit_pnl  # exactly what leaves the exit at zero equity
    ex.removeMargin(pm.id, allowed, sender=roles["long"])
    assert pm.position(roles["long"])[1] == p.margin - allowed


@pytest.mark.parametrize("source", [P.SOURCE_INDEX, P.SOURCE_MEDIAN])
def test_a_liquidation_waits_while_the_vamm_is_pushed_against_the_position(make_perp, fund, chain, roles, source):
    """A 10× long at $2 under the index or median source; the index falls 6% (below maintenance at
    the margin price). A short pushing the vAMM more than the maintenance margin (5%) below the
    margin price makes `liquidate` wait (`VammAgainstPosition`), and the view agrees; once the push
    is closed the same liquidation goes through."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    ex.setMarkParams(pm.id, source, 150, sender=roles["owner"])
    pm.open(fund, roles["long"], True, 10_000 * unit, 10 * WAD)
    t = chain.blocks.head.timestamp + 1
    index = 1_880_000_000_000_000_000  # $1.88: −6% from $2
    pm.set_index(index)
    chain.pending_timestamp = t
    assert ex.isLiquidatable(roles["long"], pm.id)
    margin_price = ex.marginPrice(pm.id)

    # push the vAMM to about $1.70: well below the margin price less 5%
    pm.open(fund, roles["pusher"], False, 30_000 * unit, 10 * WAD)
    vamm = ex.markPrice(pm.id)
    assert vamm + margin_price * P.MAINTENANCE_MARGIN_BPS // BPS < margin_price
    assert not ex.isLiquidatable(roles["long"], pm.id)
    # the margin price the call sees is the median's at the call's own timestamp, which the node
    # takes from the wall clock: under load it is a second or two later than the view above, and
    # the EMA has moved; the vAMM price is the reserves', the same at any time
    with ape.reverts(ex.VammAgainstPosition, vammPriceWad=vamm):
        ex.liquidate(roles["long"], pm.id, [], sender=roles["liquidator"])

    ex.closePosition(pm.id, 0, sender=roles["pusher"])
    assert ex.isLiquidatable(roles["long"], pm.id)
    receipt = ex.liquidate(roles["long"], pm.id, [], sender=roles["liquidator"])
    assert len(receipt.decode_logs(ex.PositionLiquidated)) == 1
    assert ex.getPosition(roles["long"], pm.id).sizeBase == 0


def test_parameters_that_would_break_the_mark_funding_or_chunks_are_refused(make_perp, roles):
    pm = make_perp(0)
    ex, owner = pm.exchange, roles["owner"]
    with ape.reverts(ex.InvalidMarkEma, source=P.SOURCE_MEDIAN, emaTimeS=0):
        ex.setMarkParams(pm.id, P.SOURCE_MEDIAN, 0, sender=owner)
    ex.setMarkParams(pm.id, P.SOURCE_MEDIAN, 1, sender=owner)  # one second is enough
    ex.setMarkParams(pm.id, P.SOURCE_INDEX, 0, sender=owner)  # the index needs no EMA
    with ape.reverts(ex.InvalidPriceSource, source=3):
        ex.setMarkParams(pm.id, 3, 150, sender=owner)
    too_big = 100 * WAD + 1  # a factor above 100 could overflow the rate
    with ape.reverts(ex.InvalidFundingParameters, intervalS=HOUR, fundingFactorWad=too_big, maxRatePerIntervalWad=WAD // 100):
        ex.setFundingParams(pm.id, HOUR, too_big, WAD // 100, sender=owner)
    ex.setFundingParams(pm.id, HOUR, 100 * WAD, WAD // 100, sender=owner)
    with ape.reverts(ex.InvalidLiquidationParameters, maxLiquidationBps=99):
        pm.set_liquidation(max_bps=99)  # 1% is the smallest chunk
    pm.set_liquidation(max_bps=100)


def test_funding_starts_when_it_is_set_and_skips_a_pause(make_perp, fund, chain, roles):
    """A market idle for a day, a long holding the vAMM above the index: setting funding charges
    nothing for that day; a pause of a day charges nothing either (the last accrual moves forward
    by the pause). Only the seconds in which the market ran accrue, at rate × index × elapsed /
    interval."""
    pm = make_perp(0)
    ex, unit, owner = pm.exchange, pm.unit, roles["owner"]
    pm.open(fund, roles["long"], True, 10_000 * unit, 10 * WAD)
    base, quote = pm.reserves()
    vamm_price, index = quote * WAD // base, 2 * WAD
    rate = funding_rate(vamm_price, index, WAD, WAD // 100)
    assert rate > 0

    t0 = chain.blocks.head.timestamp + 86_400
    chain.pending_timestamp = t0
    ex.setFundingParams(pm.id, HOUR, WAD, WAD // 100, sender=owner)
    chain.pending_timestamp = t0 + 60
    ex.settleFunding(pm.id, sender=owner)
    assert ex.marketState(pm.id).cumulativeFundingWad == funding_payment(rate, index, 60, HOUR)

    chain.pending_timestamp = t0 + 120
    ex.setPaused(True, sender=owner)
    chain.pending_timestamp = t0 + 120 + 86_400
    ex.setPaused(False, sender=owner)
    assert ex.marketState(pm.id).lastAccrualS == t0 + 60 + 86_400
    chain.pending_timestamp = t0 + 180 + 86_400
    ex.settleFunding(pm.id, sender=owner)
    # the 60 s before the pause and the 60 s after it, in one accrual of 120 s
    expected = funding_payment(rate, index, 60, HOUR) + funding_payment(rate, index, 120, HOUR)
    assert ex.marketState(pm.id).cumulativeFundingWad == expected
