"""A liquidator with ``require_profit`` liquidates only what pays: a loan when selling the seized
collateral into its pool returns more than the repayment plus gas, a perp position when its fee is
above the gas. Expectations are worked out here from those rules (Uniswap V2's getAmountOut written
out in agent_fixtures.v2_out, gas limit × bid at the default gas-token price)."""

from __future__ import annotations

import dataclasses

import pytest
from agent_fixtures import ALT, LIQUIDATOR, MARKET_IDS, USD8, USDC, WAD, actions, addr, make_context, make_protocol, make_snapshot, perp_pos, reserves_at, v2_out

from sim.agents.base import DEFAULT_GAS_TOKEN_USD8
from sim.agents.liquidator import Liquidator
from sim.protocol.gas import GAS_LIMITS, perp_liquidation_gas

USER = addr(0xB001)
OTHER = addr(0xB002)
GWEI = 10**9
BONUS_BPS = 11_000
FEE_BPS = 30  # the pools' fee
HF_ABOVE_FULL_LINE = 98 * WAD // 100  # below 1, above 0.95: the close factor's half of the debt
DEEP = reserves_at(2 * USD8, 1_000_000 * ALT)  # ALT at $2, $2M a side
THIN = reserves_at(2 * USD8, 100_000 * ALT)  # ALT at $2, $200k a side
LENDING_GAS_USDC = GAS_LIMITS[("LendingPool", "liquidationCall")] * GWEI * DEFAULT_GAS_TOKEN_USD8 // 10**18 // 100  # 8 → 6 decimals


@pytest.fixture(scope="module")
def protocol():
    return make_protocol()


def liquidator(**kw) -> Liquidator:
    params = dict(capital_usd8=10_000_000 * USD8, max_slippage=0.08, close_factor_bps=5_000,
                  full_liquidation_hf_wad=95 * WAD // 100, liquidation_bonus_bps={"ALT": BONUS_BPS},
                  require_profit=True, perp_fee_bps={"ALT": 100}, gas_price_gwei=1.0)
    params.update(kw)
    return Liquidator("liquidator", LIQUIDATOR, **params)


def view_of(protocol, debt_usdc: int, reserves, held_alt: int = 0):
    return make_snapshot(
        protocol, pool_reserves={"ALT": reserves},
        balances={LIQUIDATOR: {"USDC": 10_000_000 * USDC, "ALT": held_alt}},
        lending_positions={USER: {"ALT": (10_000_000 * ALT, 0), "USDC": (0, debt_usdc * USDC)}},
        health={USER: HF_ABOVE_FULL_LINE},
    )


def profit(cover: int, reserves, ahead: int = 0) -> int:
    """USDC units gained repaying ``cover`` with ALT at $2 on the lending oracle: the seizure
    (cover × bonus / price) sold after ``ahead`` ALT, less the cover and the gas."""
    seized = cover * 10**12 * BONUS_BPS // 10_000 // 2  # USDC units → ALT units at $2, times the bonus
    base, quote = reserves
    first = v2_out(ahead, base, quote, FEE_BPS) if ahead else 0
    return v2_out(seized, base + ahead, quote - first, FEE_BPS) - cover - LENDING_GAS_USDC


def test_a_loan_whose_seizure_sells_at_a_profit_is_liquidated_at_the_close_factor(protocol):
    cover = 50_000 * USDC  # half of 100k
    assert profit(cover, DEEP) > 0
    (call,) = liquidator().liquidate_loans(make_context(protocol, view_of(protocol, 100_000, DEEP)))
    assert call.action == "liquidationCall" and call.args[2:4] == (USER, cover)


def test_a_thin_pool_halves_the_repayment_until_selling_pays(protocol):
    cover = best_cover(50_000 * USDC, THIN)
    assert cover == 12_500 * USDC  # two halvings: the seizure's slippage falls below the 10% bonus
    (call,) = liquidator().liquidate_loans(make_context(protocol, view_of(protocol, 100_000, THIN)))
    assert call.args[3] == cover


def test_nothing_pays_when_even_a_sixteenth_loses(protocol):
    # already holding 100k ALT on its way into the thin pool: every seizure sells far below $2
    ahead = 100_000 * ALT
    assert all(profit(50_000 * USDC >> k, THIN, ahead) <= 0 for k in range(5))
    view = view_of(protocol, 100_000, THIN, held_alt=ahead)
    assert liquidator().liquidate_loans(make_context(protocol, view)) == []
    # without the check it liquidates the close factor's half as before
    (call,) = liquidator(require_profit=False).liquidate_loans(make_context(protocol, view))
    assert call.args[3] == 50_000 * USDC


def test_a_loan_too_small_to_pay_its_gas_is_left(protocol):
    # $20 of debt: a $10 repayment earns about $1 of bonus, less than 480,000 gas at 1 gwei ($1.44)
    assert profit(10 * USDC, DEEP) < 0 < profit(10 * USDC, DEEP) + LENDING_GAS_USDC
    assert liquidator().liquidate_loans(make_context(protocol, view_of(protocol, 20, DEEP))) == []


def best_cover(cover: int, reserves, ahead: int = 0) -> int:
    """The rule: the close factor's cover, halved at most four times until it pays; 0 if none does."""
    for _ in range(5):
        if profit(cover, reserves, ahead) > 0:
            return cover
        cover //= 2
    return 0


def test_earlier_seizures_of_the_block_count_as_sold_ahead(protocol):
    debts = {USER: 200_000, OTHER: 100_000}  # the larger debt is liquidated first
    view = make_snapshot(
        protocol, pool_reserves={"ALT": THIN}, balances={LIQUIDATOR: {"USDC": 10_000_000 * USDC}},
        lending_positions={u: {"ALT": (10_000_000 * ALT, 0), "USDC": (0, debt * USDC)} for u, debt in debts.items()},
        health={USER: HF_ABOVE_FULL_LINE, OTHER: HF_ABOVE_FULL_LINE},
    )
    first = best_cover(100_000 * USDC, THIN)
    seized_first = first * 10**12 * BONUS_BPS // 10_000 // 2
    alone, after = best_cover(50_000 * USDC, THIN), best_cover(50_000 * USDC, THIN, seized_first)
    assert first > 0 and after < alone  # the first seizure, on its way to the pool, spoils the second
    calls = liquidator().liquidate_loans(make_context(protocol, view))
    assert [(c.args[2], c.args[3]) for c in calls] == [(USER, first)] + ([(OTHER, after)] if after else [])


def test_a_perp_position_is_liquidated_only_when_its_fee_beats_the_gas(protocol):
    positions = {"ALT": {
        USER: perp_pos(10 * WAD, margin=2 * USDC, open_notional=20 * USDC, liquidatable=True),  # fee $0.20
        OTHER: perp_pos(50_000 * WAD, margin=10_000 * USDC, open_notional=100_000 * USDC, liquidatable=True),  # fee $1,000
    }}
    gas_usdc = perp_liquidation_gas(0) * GWEI * DEFAULT_GAS_TOKEN_USD8 // 10**18 // 100
    assert 20 * USDC // 100 < gas_usdc < 100_000 * USDC // 100
    ctx = make_context(protocol, make_snapshot(protocol, perp_positions=positions))
    calls = liquidator().liquidate_perps(ctx)
    assert actions(calls) == ["liquidate"] and calls[0].args[:2] == (OTHER, MARKET_IDS["ALT"])
    assert len(liquidator(require_profit=False).liquidate_perps(ctx)) == 2


def test_a_supply_claim_is_worth_the_pool_spot_and_without_a_pool_the_lending_price():
    no_pool = dataclasses.replace(make_protocol(), pools={})
    view = make_snapshot(no_pool, pool_reserves={}, balances={LIQUIDATOR: {"USDC": 10_000_000 * USDC}},
                         lending_positions={USER: {"ALT": (10_000_000 * ALT, 0), "USDC": (0, 100_000 * USDC)}},
                         health={USER: HF_ABOVE_FULL_LINE})
    ctx = make_context(no_pool, view)
    assert liquidator().liquidate_loans(ctx) == []  # it would have to sell the seizure: nowhere to
    (call,) = liquidator(receive_a_token=True).liquidate_loans(ctx)
    # kept as a claim worth the lending price: 10% bonus on $50k against about $1.44 of gas
    assert call.args[2:] == (USER, 50_000 * USDC, True)
