"""PerpExchange losses: a covered liquidation, the insurance fund paying a bankrupt position, the
liquidator's fee from the fund, liquidation in chunks with a cooldown, the fund/ADL split (the fund
pays what it has, ADL the share φ = (loss − fund) / loss at the bankruptcy price) against the
counterparties the liquidator lists in falling ADL score, credits, and bad debt when ADL is off."""

import copy

import ape
import pytest
from conftest import PerpMarket as P
from perp_math import (
    BPS,
    WAD,
    Position,
    Vamm,
    adl_fill_pnl,
    adl_score,
    adl_size,
    bankruptcy_price,
    ceil_div,
    chunk_size,
    fee_split,
    liquidation_fee_due,
    margin_ratio,
    notional_at,
    tdiv,
    unrealized_pnl,
)

MAX_UINT256 = 2**256 - 1
SKIP_NO_OPPOSITE_POSITION, SKIP_NOT_IN_PROFIT = 1, 2


@pytest.fixture
def roles(accounts, trader, whale):
    return {"long": trader, "whale": whale, "liquidator": accounts[6], "shorts": [accounts[7], accounts[8], accounts[9]]}


def start_vamm(pm):
    return Vamm(pm.v_base, pm.v_quote)


def is_liquidatable_at_vamm(vamm, p, unit, mm_bps=P.MAINTENANCE_MARGIN_BPS):
    """Under the vAMM source: below maintenance at the vAMM price, or its full exit bankrupt."""
    below = margin_ratio(p.size, p.open_notional, p.margin, vamm.price, unit) < mm_bps * WAD // BPS
    return below or p.margin + vamm.quote_exit(p, abs(p.size), unit).pnl < 0


def test_covered_liquidation_pays_the_liquidator_and_the_fund(make_perp, fund, roles):
    pm = make_perp(0)
    ex, unit, long_trader = pm.exchange, pm.unit, roles["long"]
    vamm = start_vamm(pm)
    p = vamm.open(True, 10_000 * unit, unit, 0, 1_000 * unit)
    pm.open(fund, long_trader, True, 1_000 * unit, 10 * WAD)
    vamm.open(False, 80_000 * unit, unit, 0, 8_000 * unit)
    pm.open(fund, roles["whale"], False, 8_000 * unit, 10 * WAD)  # pushes the mark ~8% down
    assert ex.isLiquidatable(long_trader, pm.id)
    price = vamm.price
    e = vamm.quote_exit(p, p.size, unit)
    remaining = p.margin + e.pnl
    assert remaining > 0
    due = liquidation_fee_due(p.size, price, unit, P.LIQUIDATION_FEE_BPS)
    fee, from_fund = fee_split(due, remaining, 0, 0)
    assert (fee, from_fund) == (min(due, remaining), 0)
    receipt = ex.liquidate(long_trader, pm.id, [], sender=roles["liquidator"])
    vamm.apply(p, e)
    assert pm.usdc.balanceOf(roles["liquidator"]) == fee
    assert ex.insuranceFund() == remaining - fee
    (event,) = receipt.decode_logs(ex.PositionLiquidated)
    assert (event.sizeBase, event.exitPriceWad, event.marginLeft, event.liquidatorFee, event.insuranceChange, event.sizeLeftBase) == (
        e.size, e.price, remaining, fee, remaining - fee, 0)
    assert ex.getPosition(long_trader, pm.id).sizeBase == 0
    assert pm.reserves() == (vamm.base, vamm.quote)


def crash(pm, fund, roles, insurance, whale_margin=100_000, whale_leverage=10):
    """A 10x long of $10k notional, then a whale short (by default $1M notional: the mark from
    ~$2 to ~$0.5). Returns the vAMM model, the long and the whale."""
    unit = pm.unit
    pm.seed_insurance(fund, insurance)
    vamm = start_vamm(pm)
    p = vamm.open(True, 10_000 * unit, unit, 0, 1_000 * unit)
    pm.open(fund, roles["long"], True, 1_000 * unit, 10 * WAD)
    w = vamm.open(False, whale_margin * whale_leverage * unit, unit, 0, whale_margin * unit)
    pm.open(fund, roles["whale"], False, whale_margin * unit, whale_leverage * WAD)
    return vamm, p, w


def test_insurance_fund_pays_a_bankrupt_position_it_can_cover(make_perp, fund, roles):
    pm = make_perp(0)
    ex = pm.exchange
    vamm, p, _ = crash(pm, fund, roles, 10_000 * pm.unit)
    e = vamm.quote_exit(p, p.size, pm.unit)
    loss = -(p.margin + e.pnl)
    assert 0 < loss <= 10_000 * pm.unit
    ex.liquidate(roles["long"], pm.id, [], sender=roles["liquidator"])
    vamm.apply(p, e)
    assert ex.insuranceFund() == 10_000 * pm.unit - loss
    assert pm.usdc.balanceOf(roles["liquidator"]) == 0  # maxFundFeeUsdc is 0 by default
    assert pm.reserves() == (vamm.base, vamm.quote)
    assert ex.badDebt() == 0


# (maxFundFeeUsdc, fund) in dollars; the fee due is ~$24.68 (1% of 4,975 ALT at ~$0.496).
FUND_FEE_ROWS = {
    "no_cap": (0, 10_000),
    "cap_below_due": (10, 10_000),
    "cap_above_due": (1_000, 10_000),
    "fund_below_due": (1_000, 20),
    "empty_fund": (1_000, 0),
}


@pytest.mark.parametrize("row", FUND_FEE_ROWS.values(), ids=FUND_FEE_ROWS.keys())
def test_the_fund_pays_the_liquidator_of_a_bankrupt_position(make_perp, fund, roles, row):
    """min(fee due, maxFundFeeUsdc, fund); then the fund pays the loss with what is left, and what
    it cannot pay (no ADL counterparty listed) is bad debt."""
    cap_usd, fund_usd = row
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    pm.set_liquidation(max_fund_fee=cap_usd * unit)
    vamm, p, _ = crash(pm, fund, roles, fund_usd * unit)
    price = vamm.price
    e = vamm.quote_exit(p, p.size, unit)
    loss = -(p.margin + e.pnl)
    due = liquidation_fee_due(p.size, price, unit, P.LIQUIDATION_FEE_BPS)
    from_margin, from_fund = fee_split(due, p.margin + e.pnl, cap_usd * unit, fund_usd * unit)
    assert from_margin == 0 and from_fund == min(due, cap_usd * unit, fund_usd * unit)
    fund_after_fee = fund_usd * unit - from_fund
    paid = min(loss, fund_after_fee)
    receipt = ex.liquidate(roles["long"], pm.id, [], sender=roles["liquidator"])
    vamm.apply(p, e)
    assert pm.usdc.balanceOf(roles["liquidator"]) == from_fund
    assert ex.insuranceFund() == fund_after_fee - paid
    assert ex.badDebt() == loss - paid
    (event,) = receipt.decode_logs(ex.PositionLiquidated)
    assert (event.liquidatorFee, event.insuranceChange, event.marginLeft) == (from_fund, -from_fund - paid, -loss)
    assert pm.reserves() == (vamm.base, vamm.quote)  # nothing matched: the whole size exited on the vAMM


def eligible(q, p, margin_price, bankruptcy, unit):
    """AdlLogic: an opposite position in profit at the margin price and at the bankruptcy price."""
    return (q.size > 0) != (p.size > 0) and adl_score(q.size, q.open_notional, q.margin, margin_price, unit) > 0 and (
        unrealized_pnl(q.size, q.open_notional, bankruptcy, unit) > 0)


def expected_adl(vamm, p, fund_now, listed, unit):
    """The ADL branch of the waterfall, by the rule. `listed`: [(address, Position)]; the eligible
    ones fill in falling ADL score. Returns (price, fills [(address, size)], counterparties after,
    fund, bad debt)."""
    size = abs(p.size)
    e = vamm.quote_exit(p, size, unit)
    loss = -(p.margin + e.pnl)
    price = bankruptcy_price(p.size, p.open_notional, p.margin, unit)
    to_place = adl_size(size, loss, fund_now)
    ranked = sorted(
        ((a, q) for a, q in listed if eligible(q, p, vamm.price, price, unit)),
        key=lambda row: -adl_score(row[1].size, row[1].open_notional, row[1].margin, vamm.price, unit),
    )
    fills, after, matched = [], {}, 0
    for address, q in ranked:
        if matched == to_place:
            break
        take = min(to_place - matched, abs(q.size))
        pnl, open_part = adl_fill_pnl(q, take, price, unit)
        q2 = Position(q.size + (take if q.size < 0 else -take), q.margin + pnl, q.open_notional - open_part)
        assert q2.margin >= 0
        after[address] = q2
        fills.append((address, take))
        matched += take
    matched_margin = ceil_div(p.margin * matched, size) if p.margin >= 0 else -tdiv(-p.margin * matched, size)
    rest_margin = p.margin - matched_margin  # the matched share's margin rounds up
    rest = Position(p.size - matched if p.size > 0 else p.size + matched, rest_margin, p.open_notional - p.open_notional * matched // size)
    bad_debt = 0
    if matched < size:
        e2 = vamm.quote_exit(rest, abs(rest.size), unit)
        vamm.apply(rest, e2)
        left = rest_margin + e2.pnl
        if left >= 0:
            fund_now += left
        else:
            paid = min(-left, fund_now)
            fund_now -= paid
            bad_debt = -left - paid
    return price, fills, after, fund_now, bad_debt


# The fund, as a share of the loss: all of it, two thirds, one third, one unit short of it, none.
SPLIT_ROWS = {"fund_covers": (1, 1, 0), "two_thirds": (2, 3, 0), "one_third": (1, 3, 0), "one_short": (1, 1, -1), "empty": (0, 1, 0)}


@pytest.mark.parametrize("row", SPLIT_ROWS.values(), ids=SPLIT_ROWS.keys())
def test_the_fund_pays_what_it_has_and_adl_the_rest(make_perp, fund, deployer, roles, chain, row):
    numerator, denominator, offset = row
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    shorts = roles["shorts"]
    # Probe the loss on a copy of the scenario first (the fund does not change it).
    vamm = start_vamm(pm)
    p = vamm.open(True, 10_000 * unit, unit, 0, 1_000 * unit)
    qs = {s.address: vamm.open(False, m * lev * unit, unit, 0, m * unit) for s, (m, lev) in zip(shorts, [(2_000, 2), (1_000, 5), (500, 10)])}
    qs[roles["whale"].address] = vamm.open(False, 600_000 * unit, unit, 0, 300_000 * unit)
    loss = -(p.margin + vamm.quote_exit(p, p.size, unit).pnl)
    fund_usdc = loss * numerator // denominator + offset
    pm.seed_insurance(fund, fund_usdc)
    pm.open(fund, roles["long"], True, 1_000 * unit, 10 * WAD)
    for s, (m, lev) in zip(shorts, [(2_000, 2), (1_000, 5), (500, 10)]):
        pm.open(fund, s, False, m * unit, lev * WAD)
    pm.open(fund, roles["whale"], False, 300_000 * unit, 2 * WAD)  # the crash, by a low-leverage whale
    ranked = sorted(qs.items(), key=lambda kv: -adl_score(kv[1].size, kv[1].open_notional, kv[1].margin, vamm.price, unit))
    listed = [address for address, _ in ranked]
    assert ex.positionsOf(pm.id, listed).adlScore == [adl_score(q.size, q.open_notional, q.margin, vamm.price, unit) for _, q in ranked]

    before_reserves = (vamm.base, vamm.quote)
    receipt = ex.liquidate(roles["long"], pm.id, listed, sender=roles["liquidator"])
    if loss <= fund_usdc:
        # The fund pays it all: no ADL, the whole size exits on the vAMM.
        vamm.apply(p, vamm.quote_exit(p, p.size, unit))
        assert receipt.decode_logs(ex.AutoDeleveraged) == []
        assert ex.insuranceFund() == fund_usdc - loss
        assert pm.reserves() == (vamm.base, vamm.quote) != before_reserves
        return
    price, fills, after, fund_after, bad_debt = expected_adl(vamm, copy.deepcopy(p), fund_usdc, ranked, unit)
    assert [(e.counterparty, e.sizeBase, e.bankruptcyPriceWad) for e in receipt.decode_logs(ex.AutoDeleveraged)] == [
        (a, size, price) for a, size in fills]
    assert sum(size for _, size in fills) == adl_size(p.size, loss, fund_usdc)
    assert ex.insuranceFund() == fund_after
    assert ex.badDebt() == bad_debt
    # The rest's loss is within what the fund had up to rounding: the matched share's margin rounds
    # up, its open notional down, and the rest's exit quote down (fund = loss − 1: 2 units).
    assert bad_debt <= 3
    assert pm.reserves() == (vamm.base, vamm.quote)
    (event,) = receipt.decode_logs(ex.PositionLiquidated)
    assert (event.exitPriceWad, event.marginLeft, event.insuranceChange) == (price, -loss, fund_after - fund_usdc)
    credited = 0
    for address, q in after.items():
        if q.size == 0:  # closed in full: credited, pulled with withdrawCredit
            assert ex.getPosition(address, pm.id).sizeBase == 0
            assert ex.creditOf(address) == q.margin
            credited += q.margin
        else:
            assert pm.position(address) == (q.size, q.margin, q.open_notional)
            assert ex.creditOf(address) == 0
    assert ex.totalCredits() == credited
    for address, q in after.items():
        if q.size == 0:
            account = next(a for a in [*shorts, roles["whale"]] if a.address == address)
            ex.withdrawCredit(sender=account)
            assert pm.usdc.balanceOf(account) == q.margin
            assert ex.creditOf(address) == 0
    assert ex.totalCredits() == 0


def test_adl_disabled_records_bad_debt(make_perp, fund, deployer, roles):
    pm = make_perp(0)
    ex = pm.exchange
    ex.setAdlEnabled(False, sender=deployer)
    vamm, p, w = crash(pm, fund, roles, 100 * pm.unit)
    e = vamm.quote_exit(p, p.size, pm.unit)
    loss = -(p.margin + e.pnl)
    receipt = ex.liquidate(roles["long"], pm.id, [roles["whale"]], sender=roles["liquidator"])
    assert ex.insuranceFund() == 0
    assert ex.badDebt() == loss - 100 * pm.unit
    (event,) = receipt.decode_logs(ex.BadDebtRecorded)
    assert (event.trader, event.amount) == (roles["long"].address, loss - 100 * pm.unit)
    assert receipt.decode_logs(ex.AutoDeleveraged) == []
    assert pm.position(roles["whale"]) == (w.size, w.margin, w.open_notional)


def test_adl_takes_the_listed_counterparties_in_falling_score_and_skips_bad_entries(make_perp, fund, accounts, roles):
    """Fills in falling ADL score at the bankruptcy price; skipped: a position on the liquidated
    side (1), one not in profit at the margin price (2), and the crash's whale, in profit at the
    margin price but not at the bankruptcy price it would be filled at (2)."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    long_trader = roles["long"]
    pm.seed_insurance(fund, 50 * unit)  # far less than the loss
    vamm = start_vamm(pm)
    p = vamm.open(True, 20_000 * unit, unit, 0, 2_000 * unit)
    pm.open(fund, long_trader, True, 2_000 * unit, 10 * WAD)
    shorts = {  # different entries, PnL and leverage; together just more than the ADL size
        accounts[7]: (4_000, 2),
        accounts[8]: (1_000, 5),
        accounts[9]: (800, 10),
    }
    qs = {}
    for trader, (margin, leverage) in shorts.items():
        qs[trader] = vamm.open(False, margin * leverage * unit, unit, 0, margin * unit)
        pm.open(fund, trader, False, margin * unit, leverage * WAD)
    # The crash: a low-leverage whale short.
    qs[roles["whale"]] = vamm.open(False, 600_000 * unit, unit, 0, 300_000 * unit)
    pm.open(fund, roles["whale"], False, 300_000 * unit, 2 * WAD)
    # A short opened after the crash, then a long that lifts the price above its entry: that short
    # is not in profit, and the long is on the liquidated side.
    latecomer, other_long = accounts[5], accounts[4]
    late_q = vamm.open(False, 1_000 * unit, unit, 0, 500 * unit)
    pm.open(fund, latecomer, False, 500 * unit, 2 * WAD)
    vamm.open(True, 2_000 * unit, unit, 0, 1_000 * unit)
    pm.open(fund, other_long, True, 1_000 * unit, 2 * WAD)
    assert adl_score(late_q.size, late_q.open_notional, late_q.margin, vamm.price, unit) == 0

    scores = {t: adl_score(q.size, q.open_notional, q.margin, vamm.price, unit) for t, q in qs.items()}
    view = ex.positionsOf(pm.id, list(qs))
    assert list(view.adlScore) == list(scores.values())
    ranked = sorted(qs, key=lambda t: -scores[t])
    assert len(set(scores.values())) == len(scores)  # a strict order to check
    assert ranked != list(qs)  # not the order the positions were opened in
    # The list: the liquidated side, the best, a position not in profit, the rest.
    listed = [other_long, ranked[0], latecomer, *ranked[1:]]
    price = bankruptcy_price(p.size, p.open_notional, p.margin, unit)
    whale_q = qs[roles["whale"]]
    assert scores[roles["whale"]] > 0 and unrealized_pnl(whale_q.size, whale_q.open_notional, price, unit) < 0
    loss = -(p.margin + vamm.quote_exit(p, p.size, unit).pnl)
    to_place = adl_size(p.size, loss, 50 * unit)
    fills, remaining = [], to_place
    for trader in ranked:
        if remaining == 0:
            break
        if trader == roles["whale"]:
            continue
        fills.append((trader.address, min(remaining, -qs[trader].size)))
        remaining -= fills[-1][1]
    assert len(fills) >= 3 and remaining == 0
    _, model_fills, _, _, _ = expected_adl(copy.deepcopy(vamm), copy.deepcopy(p), 50 * unit, [(t.address, q) for t, q in qs.items()], unit)
    assert model_fills == fills

    receipt = ex.liquidate(long_trader, pm.id, listed, sender=roles["liquidator"])
    events = receipt.decode_logs(ex.AutoDeleveraged)
    assert [(e.counterparty, e.sizeBase) for e in events] == fills
    assert {e.bankruptcyPriceWad for e in events} == {price}
    assert [(e.counterparty, e.reason) for e in receipt.decode_logs(ex.AdlCandidateSkipped)] == [
        (other_long.address, SKIP_NO_OPPOSITE_POSITION),
        (latecomer.address, SKIP_NOT_IN_PROFIT),
        (roles["whale"].address, SKIP_NOT_IN_PROFIT),
    ]
    assert ex.badDebt() == 0
    for trader, fill in fills:  # each short bought `fill` back at the bankruptcy price
        q = qs[next(t for t in qs if t.address == trader)]
        pnl, open_part = adl_fill_pnl(q, fill, price, unit)
        if fill == -q.size:  # closed in full: credited
            assert ex.getPosition(trader, pm.id).sizeBase == 0
            assert ex.creditOf(trader) == q.margin + pnl
        else:
            assert pm.position(trader) == (q.size + fill, q.margin + pnl, q.open_notional - open_part)


def test_a_list_in_the_wrong_order_still_fills_by_score(make_perp, fund, accounts, roles):
    """Listing the lower score first, and an entry twice: the contract fills in falling score."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    vamm = start_vamm(pm)
    p = vamm.open(True, 20_000 * unit, unit, 0, 2_000 * unit)
    pm.open(fund, roles["long"], True, 2_000 * unit, 10 * WAD)
    low, high = accounts[7], accounts[8]
    q_low = vamm.open(False, 4_000 * unit, unit, 0, 2_000 * unit)
    pm.open(fund, low, False, 2_000 * unit, 2 * WAD)
    q_high = vamm.open(False, 5_000 * unit, unit, 0, 500 * unit)
    pm.open(fund, high, False, 500 * unit, 10 * WAD)
    vamm.open(False, 600_000 * unit, unit, 0, 300_000 * unit)
    pm.open(fund, roles["whale"], False, 300_000 * unit, 2 * WAD)
    assert adl_score(q_low.size, q_low.open_notional, q_low.margin, vamm.price, unit) < adl_score(
        q_high.size, q_high.open_notional, q_high.margin, vamm.price, unit)
    assert p.size > -q_low.size - q_high.size  # the two cannot take it all (the fund is empty)
    receipt = ex.liquidate(roles["long"], pm.id, [low, high, low], sender=roles["liquidator"])
    assert [(e.counterparty, e.sizeBase) for e in receipt.decode_logs(ex.AutoDeleveraged)] == [
        (high.address, -q_high.size), (low.address, -q_low.size)]
    assert receipt.decode_logs(ex.AdlCandidateSkipped) == []
    # What the list did not take exited on the vAMM; the fund (empty) could not pay its loss.
    assert ex.badDebt() > 0


def test_bankrupt_close_is_refused(make_perp, fund, roles):
    """A position under water can neither close nor take its margin out by small reductions."""
    pm = make_perp(0)
    ex = pm.exchange
    vamm, p, _ = crash(pm, fund, roles, 0)
    e = vamm.quote_exit(p, p.size, pm.unit)
    with ape.reverts(ex.CloseWouldBeBankrupt, payout=p.margin + e.pnl):
        ex.closePosition(pm.id, 0, sender=roles["long"])
    half = vamm.quote_exit(p, p.size // 2, pm.unit)
    with ape.reverts(ex.CloseWouldBeBankrupt, payout=p.margin + half.pnl):
        ex.reducePosition(pm.id, p.size // 2, 0, sender=roles["long"])
    one_alt = vamm.quote_exit(p, WAD, pm.unit)
    assert p.margin + one_alt.pnl > 0  # the margin covers one ALT's loss, but what is left is under water
    with ape.reverts(ex.OpensLiquidatable):
        ex.reducePosition(pm.id, WAD, 0, sender=roles["long"])


# ------------------------------------------------------------------ chunks and the cooldown

COOLDOWN_S = 60
PARTIAL_ABOVE = 10_000  # dollars of notional at the margin price
# (maxLiquidationBps, minPositionUsdc in dollars): the chunk each takes, by the rule. The next chunk
# waits for the cooldown while the margin ratio is at least half the maintenance margin.
CHUNK_ROWS = {
    "quarter": (2_500, 1_000),
    "third_rounded_up": (3_333, 1_000),
    "half_would_leave_dust": (5_000, 60_000),  # 50% leaves ~$50k of open notional < $60k: whole
    "all": (10_000, 0),
}


@pytest.mark.parametrize("row", CHUNK_ROWS.values(), ids=CHUNK_ROWS.keys())
def test_chunks_and_the_cooldown(make_perp, fund, chain, roles, row):
    max_bps, min_usd = row
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    liquidator = roles["liquidator"]
    pm.set_liquidation(min_position=min_usd * unit, partial_above=PARTIAL_ABOVE * unit, max_bps=max_bps, cooldown_s=COOLDOWN_S)
    vamm = start_vamm(pm)
    p = vamm.open(True, 100_000 * unit, unit, 0, 10_000 * unit)
    pm.open(fund, roles["long"], True, 10_000 * unit, 10 * WAD)
    vamm.open(False, 110_000 * unit, unit, 0, 11_000 * unit)
    pm.open(fund, roles["whale"], False, 11_000 * unit, 10 * WAD)  # margin ratio ~4.5%: liquidatable, not bankrupt
    assert is_liquidatable_at_vamm(vamm, p, unit)

    paid, cooled_down = 0, []
    t = chain.blocks.head.timestamp + 10
    for round_ in range(3):
        price = vamm.price
        chunk = chunk_size(p.size, p.open_notional, notional_at(p.size, price, unit), PARTIAL_ABOVE * unit, max_bps, min_usd * unit)
        e = vamm.quote_exit(p, chunk, unit)
        fee = liquidation_fee_due(chunk, price, unit, P.LIQUIDATION_FEE_BPS)
        whole = chunk == p.size or p.margin + e.pnl - fee < 0
        chain.pending_timestamp = t
        receipt = ex.liquidate(roles["long"], pm.id, [], sender=liquidator)
        (event,) = receipt.decode_logs(ex.PositionLiquidated)
        if whole:
            e = vamm.quote_exit(p, p.size, unit)
            remaining = p.margin + e.pnl
            fee, _ = fee_split(liquidation_fee_due(p.size, price, unit, P.LIQUIDATION_FEE_BPS), remaining, 0, 0)
            assert (event.sizeBase, event.sizeLeftBase, event.liquidatorFee) == (p.size, 0, fee)
            assert ex.getPosition(roles["long"], pm.id).sizeBase == 0
            assert pm.usdc.balanceOf(liquidator) == paid + fee
            if max_bps == 10_000 or min_usd == 60_000:
                assert round_ == 0
            else:
                assert cooled_down  # the cooldown was seen to hold a chunk back at least once
            return
        vamm.apply(p, e)
        p.margin = p.margin + e.pnl - fee
        paid += fee
        assert (event.sizeBase, event.exitPriceWad, event.marginLeft, event.liquidatorFee, event.sizeLeftBase) == (
            chunk, e.price, p.margin + fee, fee, p.size)
        assert chunk == ceil_div((p.size + chunk) * max_bps, BPS)  # of the size before, rounded up
        assert pm.position(roles["long"]) == (p.size, p.margin, p.open_notional)
        assert pm.usdc.balanceOf(liquidator) == paid
        assert p.open_notional >= min_usd * unit
        assert ex.getPosition(roles["long"], pm.id).lastLiquidationS == t
        ready_at = t + COOLDOWN_S
        assert ex.liquidationCooldownEnd(roles["long"], pm.id) == ready_at
        # Still liquidatable: the chunk's own sale moved the vAMM price down.
        assert is_liquidatable_at_vamm(vamm, p, unit)
        ratio = margin_ratio(p.size, p.open_notional, p.margin, vamm.price, unit)
        if ratio < P.MAINTENANCE_MARGIN_BPS * WAD // BPS // 2:
            # Below half the maintenance margin nothing waits: the next chunk at once.
            assert ex.isLiquidatable(roles["long"], pm.id)
            t += 1
            continue
        one_second_early = ready_at - 1
        chain.pending_timestamp = one_second_early
        with ape.reverts(ex.LiquidationCooldown, trader=roles["long"].address, marketId=pm.id, readyAtS=ready_at):
            ex.liquidate(roles["long"], pm.id, [], sender=liquidator)
        assert not ex.isLiquidatable(roles["long"], pm.id)  # the view agrees: not now
        cooled_down.append(round_)
        t = ready_at  # the next chunk, exactly when the cooldown ends
    assert max_bps in (2_500, 3_333) and cooled_down
