"""The median mark and its EMA, to the wei: median(index × (1 + last funding rate), index + EMA of
(vAMM − index), vAMM) with each of the three the median in turn, and the EMA step
ema + (basis − ema) × dt / (dt + τ) (truncated toward zero) after several elapsed times."""

import pytest
from conftest import PerpMarket as P
from perp_math import WAD, Vamm, ema_step, funding_rate, median_mark

HOUR = 3_600
TAU_S = 150
FACTOR, MAX_RATE = WAD // 4, WAD // 100  # a quarter of the premium, at most 1% per hour


def pin(chain, timestamp):
    chain.pending_timestamp = timestamp
    return timestamp


def lifted_market(make_perp, fund, chain, trader, deployer, tau_s=TAU_S):
    """A market on the median source (the vAMM source when τ = 0: the median needs an EMA) whose
    vAMM a $20k long lifted to ~$2.0402 at t0 (index $2). Returns (pm, vamm model, t0)."""
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    ex.setFundingParams(pm.id, HOUR, FACTOR, MAX_RATE, sender=deployer)
    ex.setMarkParams(pm.id, P.SOURCE_MEDIAN if tau_s else P.SOURCE_VAMM, tau_s, sender=deployer)
    fund(pm.usdc, trader, 4_000 * unit, spender=ex)
    vamm = Vamm(pm.v_base, pm.v_quote)
    t0 = pin(chain, chain.blocks.head.timestamp + 10)
    ex.openPosition(pm.id, True, 4_000 * unit, 5 * WAD, 0, sender=trader)
    vamm.open(True, 20_000 * unit, unit)
    return pm, vamm, t0


# index set after the accrual at t1 = t0 + τ (ema = basis / 2, last rate = 0.5025%) → the median:
# A = index × 1.005025, B = index + 0.0201, C = vAMM ≈ 2.0402; A < B throughout.
MEDIAN_ROWS = {
    "ema_when_vamm_above_both": (2 * WAD, "ema"),  # A 2.0101 < B 2.0201 < C
    "vamm_between": (2_025 * WAD // 1_000, "vamm"),  # A 2.0352 < C < B 2.0451
    "funding_when_vamm_below_both": (2_034 * WAD // 1_000, "funding"),  # C < A 2.0442 < B 2.0541
    "ema_below_index": (19 * WAD // 10, "ema"),  # A 1.9095 < B 1.9201 < C
    "funding_far_above_vamm": (25 * WAD // 10, "funding"),  # C < A 2.5126 < B 2.5201
}


@pytest.mark.parametrize("row", MEDIAN_ROWS.values(), ids=MEDIAN_ROWS.keys())
def test_median_mark(make_perp, fund, chain, trader, deployer, row):
    index, which = row
    pm, vamm, t0 = lifted_market(make_perp, fund, chain, trader, deployer)
    ex = pm.exchange
    t1 = pin(chain, t0 + TAU_S)
    ex.settleFunding(pm.id, sender=deployer)
    basis = vamm.price - 2 * WAD
    ema = ema_step(0, basis, TAU_S, TAU_S)
    rate = funding_rate(vamm.price, 2 * WAD, FACTOR, MAX_RATE)
    pin(chain, t1)  # the index moves with no time passing: the EMA and the last rate stay
    pm.set_index(index)
    state = ex.marketState(pm.id)
    assert (state.basisEmaWad, state.lastFundingRateWad, state.lastAccrualS) == (ema, rate, t1)

    components = {"funding": index + index * rate // WAD, "ema": index + ema, "vamm": vamm.price}
    expected = median_mark(index, vamm.price, ema, rate)
    assert expected == components[which]
    assert sorted(components.values())[1] == components[which]
    assert ex.medianMarkPrice(pm.id) == expected
    assert ex.marginPrice(pm.id) == expected  # the market reads the median
    assert ex.markPrice(pm.id) == vamm.price
    assert ex.indexPrice(pm.id) == index


# (τ, the seconds between successive accruals, the index from the second accrual on).
EMA_ROWS = {
    "one_second": (TAU_S, [1], 2 * WAD),
    "one_time_constant": (TAU_S, [TAU_S], 2 * WAD),
    "long_then_short": (TAU_S, [600, 30, 7], 2 * WAD),
    "no_time_constant": (0, [5, 5], 2 * WAD),  # the EMA is the last basis (vAMM source)
    "slow_blocks": (HOUR, [12, 12, 12, 12], 2 * WAD),
    "basis_turns_negative": (TAU_S, [100, 100, 250], 21 * WAD // 10),  # truncation toward zero
}


@pytest.mark.parametrize("row", EMA_ROWS.values(), ids=EMA_ROWS.keys())
def test_ema_step_after_elapsed_times(make_perp, fund, chain, trader, deployer, row):
    tau_s, spans, later_index = row
    pm, vamm, t = lifted_market(make_perp, fund, chain, trader, deployer, tau_s)
    ex = pm.exchange
    ema, index = 0, 2 * WAD  # the open's own accrual sampled the basis before its trade: 0
    for i, span in enumerate(spans):
        t = pin(chain, t + span)
        receipt = ex.settleFunding(pm.id, sender=deployer)
        ema = ema_step(ema, vamm.price - index, span, tau_s)
        assert ex.marketState(pm.id).basisEmaWad == ema
        (event,) = receipt.decode_logs(ex.FundingAccrued)
        assert event.elapsedS == span
        if i == 0 and later_index != index:
            index = later_index
            pin(chain, t)
            pm.set_index(index)
    # A second settlement in the same second steps nothing.
    pin(chain, t)
    ex.settleFunding(pm.id, sender=deployer)
    assert ex.marketState(pm.id).basisEmaWad == ema
    if later_index > vamm.price:
        assert ema < 0
