"""The agents' decisions, from hand-built Snapshots (no node): what each agent sends, and how much.

Expected amounts are derived in the tests from the economics (exact fractions, then floored as
on chain), not copied from the code: e.g. the debt at a target health factor is
collateral × LT / HF, and the input moving a constant-product pool to a price p is
(sqrt(k / p) − reserve) grossed up by the fee.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import replace
from fractions import Fraction as F

import numpy as np
import pytest
from agent_fixtures import (
    ALT,
    ARB,
    BTC,
    FEED_ADDR,
    KEEPER,
    LIQUIDATOR,
    MARKET_IDS,
    MM,
    NOISE,
    POOL_ADDR,
    T0,
    TOKEN_ADDR,
    TWAP_ORACLE_ADDR,
    USD8,
    USDC,
    USER_A,
    USER_B,
    USER_C,
    USER_D,
    VENUE,
    WAD,
    WHALE,
    actions,
    make_context,
    make_protocol,
    make_snapshot,
    market_snap,
    perp_pos,
    reserves_at,
    v2_out,
)

from sim.agents.arbitrageur import Arbitrageur
from sim.agents.keeper import Keeper
from sim.agents.liquidator import MAX_ADL_COUNTERPARTIES, Liquidator, adl_ranking
from sim.agents.market_maker import MarketMaker
from sim.agents.noise import NoiseTrader
from sim.protocol.amm import MAX_UINT256, input_to_reach_price, max_input_within_slippage
from sim.protocol.state import lp_symbol

BPS = 10_000
ALT_ID = MARKET_IDS["ALT"]


def floor(x: F) -> int:
    return math.floor(x)


@pytest.fixture(scope="module")
def protocol():
    return make_protocol()


# ======================================================================== sim.protocol.amm sizing helpers


class TestInputToReachPrice:
    # 1M ALT / 2M USDC: ALT at $2; k = x·y in native units
    BASE, QUOTE = reserves_at(2 * USD8, 1_000_000 * ALT)

    @pytest.mark.parametrize("fee_bps", [0, 5, 30, 100])
    def test_selling_the_base_lands_at_the_target(self, fee_bps):
        # push ALT from $2 down to $1.90: ALT's price in USDC units per ALT unit is 1.9·1e6/1e18
        num, den = 19 * USDC, 10 * ALT
        amount = input_to_reach_price(self.BASE, self.QUOTE, num, den, fee_bps)
        # x' = sqrt(k / p); the input is (x' − x) grossed up by the fee (it stays in the pool)
        k = self.BASE * self.QUOTE
        x_after = math.isqrt(k * den // num)
        assert amount == (x_after - self.BASE) * BPS // (BPS - fee_bps)
        # and the exact real root agrees to a unit or two
        exact = (math.sqrt(k * den / num) - self.BASE) / (1 - fee_bps / BPS)
        assert abs(amount - exact) <= 2 + exact * 1e-12
        # executing it lands the price at the target: at most at it, at least (1 − fee) below,
        # because grossing up adds (x'−x)·f/(1−f) to the input reserve (plus rounding)
        out = v2_out(amount, self.BASE, self.QUOTE, fee_bps)
        price_after = F(self.QUOTE - out, self.BASE + amount)
        target = F(num, den)
        assert price_after <= target * (1 + F(1, 10**9))
        assert price_after >= target * (1 - F(fee_bps, BPS)) * (1 - F(1, 10**9))
        if fee_bps == 0:
            assert abs(price_after / target - 1) < F(1, 10**9)

    def test_buying_the_base_with_the_stablecoin(self):
        # push ALT up to $2.10: the input is USDC, its price in ALT units per USDC unit goes down
        fee = 30
        num, den = 10 * ALT, 21 * USDC  # 1 USDC = 1/2.1 ALT
        amount = input_to_reach_price(self.QUOTE, self.BASE, num, den, fee)
        k = self.BASE * self.QUOTE
        q_after = math.sqrt(k * 21 * USDC / (10 * ALT))  # sqrt(k · p) with p in USDC units per ALT unit
        assert abs(amount - (q_after - self.QUOTE) / (1 - fee / BPS)) <= 2 + amount * 1e-12
        out = v2_out(amount, self.QUOTE, self.BASE, fee)
        alt_price = F(self.QUOTE + amount, self.BASE - out) * F(ALT, USDC)  # USD per ALT
        assert F(21, 10) <= alt_price <= F(21, 10) / (1 - F(fee, BPS)) * (1 + F(1, 10**9))

    def test_nothing_when_already_at_or_past_the_target(self):
        assert input_to_reach_price(self.BASE, self.QUOTE, 2 * USDC, ALT, 30) == 0  # at $2
        assert input_to_reach_price(self.BASE, self.QUOTE, 21 * USDC, 10 * ALT, 30) == 0  # selling can't raise it
        assert input_to_reach_price(self.BASE, self.QUOTE, 0, ALT, 30) == 0
        assert input_to_reach_price(0, self.QUOTE, USDC, ALT, 30) == 0


class TestMaxInputWithinSlippage:
    X, Y = reserves_at(2 * USD8, 1_000_000 * ALT)

    @pytest.mark.parametrize("slippage_bps,fee_bps", [(800, 30), (500, 30), (100, 5), (31, 30), (9_000, 0)])
    def test_the_boundary_of_the_slippage_limit(self, slippage_bps, fee_bps):
        amount = max_input_within_slippage(self.X, slippage_bps, fee_bps)
        s, f = F(slippage_bps, BPS), F(fee_bps, BPS)
        # out(a) = a(1−f)y / (x + a(1−f)) ≥ (1−s)·a·y/x  ⇔  a ≤ x(s−f) / ((1−s)(1−f))
        assert amount == floor(self.X * (s - f) / ((1 - s) * (1 - f)))

        def out_real(a):
            return F(a) * (1 - f) * self.Y / (self.X + F(a) * (1 - f))

        def floor_value(a):
            return (1 - s) * F(a) * self.Y / self.X

        assert out_real(amount) >= floor_value(amount)
        bigger = amount + max(amount // 1000, 1)
        assert out_real(bigger) < floor_value(bigger)

    def test_zero_when_the_fee_alone_exceeds_the_limit_or_the_limit_is_100_percent(self):
        assert max_input_within_slippage(self.X, 30, 30) == 0
        assert max_input_within_slippage(self.X, 20, 30) == 0
        assert max_input_within_slippage(self.X, BPS, 30) == 0


# ======================================================================== Whale


def make_whale(**kw):
    from sim.agents.whale import Whale

    params = dict(
        collateral="ALT",
        market="ALT",
        capital_usd8=1_000_000 * USD8,
        target_health_factor=1.2,
        leverage=5.0,
        spare_fraction=0.1,
        topup_health_factor=1.03,
        topup_margin_ratio=0.08,
        ltv_bps=6_000,
        liquidation_threshold_bps=7_000,
    )
    params.update(kw)
    return Whale("whale", WHALE, **params)


class TestWhale:
    COLLATERAL_USD8 = 1_000_000 * USD8

    def test_borrow_at_the_target_health_factor(self):
        whale = make_whale(target_health_factor=1.2)
        # HF = collateral × LT / debt  ⇒  debt = collateral × 0.70 / 1.2 = $583,333.33… (< LTV 60%)
        expected = floor(F(self.COLLATERAL_USD8) * F(7_000, BPS) / F("1.2"))
        assert expected < self.COLLATERAL_USD8 * 6 // 10
        assert whale.borrow_usd8(self.COLLATERAL_USD8) == expected

    def test_borrow_capped_just_under_the_ltv(self):
        whale = make_whale(target_health_factor=1.1)  # 0.70 / 1.1 = 63.6% > 60% LTV
        expected = floor(F(self.COLLATERAL_USD8) * F(6_000, BPS) * F(999, 1000))
        assert whale.borrow_usd8(self.COLLATERAL_USD8) == expected == 599_400 * USD8

    def _view(self, protocol, hf, debt, spare, position=None):
        return make_snapshot(
            protocol,
            balances={WHALE: {"USDC": spare}},
            lending_positions={WHALE: {"ALT": (500_000 * ALT, 0), "USDC": (0, debt)}},
            health={WHALE: hf} if hf is not None else {},
            perp_positions={"ALT": {WHALE: position}} if position else {},
        )

    def test_no_repay_at_or_above_the_top_up_line(self, protocol):
        whale = make_whale()
        debt = 500_000 * USDC
        for hf in (103 * WAD // 100, 105 * WAD // 100, 2 * WAD):
            ctx = make_context(protocol, self._view(protocol, hf, debt, 100_000 * USDC))
            assert whale.repay_amount(ctx, 100_000 * USDC) == 0
        ctx = make_context(protocol, self._view(protocol, None, 0, 100_000 * USDC))
        assert whale.repay_amount(ctx, 100_000 * USDC) == 0  # no debt, no health factor

    def test_repay_back_to_the_target(self, protocol):
        whale = make_whale()
        debt, hf = 500_000 * USDC, WAD  # HF 1.00 < 1.03
        ctx = make_context(protocol, self._view(protocol, hf, debt, 1_000_000 * USDC))
        # collateral fixed: HF ∝ 1/debt, so debt' = debt × hf / target; repay debt − debt'
        expected = debt - floor(F(debt) * F(hf, WAD) / F("1.2"))
        assert expected == 83_333_333_334  # $83,333.333334 (debt' rounded down)
        assert whale.repay_amount(ctx, 1_000_000 * USDC) == expected
        # limited by what is spare
        assert whale.repay_amount(ctx, 10_000 * USDC) == 10_000 * USDC
        assert whale.repay_amount(ctx, 0) == 0

    def test_margin_top_up_restores_one_over_leverage(self, protocol):
        whale = make_whale(leverage=5.0, topup_margin_ratio=0.08)
        size = 100_000 * WAD  # long 100k ALT at a $2 mark: notional $200,000
        notional = 200_000 * USDC
        # equity = margin + pnl − funding = 20,000 − 6,000 − 1,000 = $13,000 < 8% × 200,000
        position = perp_pos(size, margin=20_000 * USDC, pnl=-6_000 * USDC, funding=1_000 * USDC)
        ctx = make_context(protocol, self._view(protocol, 2 * WAD, 0, 100_000 * USDC, position))
        wanted = notional // 5 - 13_000 * USDC  # back to notional / leverage
        assert whale.margin_top_up(ctx, 100_000 * USDC) == wanted == 27_000 * USDC
        assert whale.margin_top_up(ctx, 5_000 * USDC) == 5_000 * USDC  # capped by the spare
        assert whale.margin_top_up(ctx, 0) == 0

    def test_no_margin_top_up_at_or_above_the_ratio(self, protocol):
        whale = make_whale(leverage=5.0, topup_margin_ratio=0.08)
        for equity in (16_000 * USDC, 30_000 * USDC):  # 8% of $200k is exactly $16,000
            position = perp_pos(100_000 * WAD, margin=equity)
            ctx = make_context(protocol, self._view(protocol, 2 * WAD, 0, 100_000 * USDC, position))
            assert whale.margin_top_up(ctx, 100_000 * USDC) == 0
        ctx = make_context(protocol, self._view(protocol, 2 * WAD, 0, 100_000 * USDC))
        assert whale.margin_top_up(ctx, 100_000 * USDC) == 0  # no position

    def test_step_repays_then_adds_margin_from_what_is_left(self, protocol):
        whale = make_whale()
        debt, spare = 500_000 * USDC, 100_000 * USDC
        position = perp_pos(100_000 * WAD, margin=13_000 * USDC)
        ctx = make_context(protocol, self._view(protocol, WAD, debt, spare, position))
        calls = whale.step(ctx)
        assert actions(calls) == ["repay", "addMargin"]
        repay = debt - floor(F(debt) / F("1.2"))
        assert calls[0].args == (TOKEN_ADDR["USDC"], repay, WHALE)
        assert calls[0].to == protocol.lending
        # $27,000 wanted, but only spare − repay = $16,666.666666 is left
        assert calls[1].args == (ALT_ID, spare - repay)
        assert calls[1].to == protocol.perp

    def test_step_does_nothing_when_healthy(self, protocol):
        whale = make_whale()
        position = perp_pos(100_000 * WAD, margin=40_000 * USDC)
        ctx = make_context(protocol, self._view(protocol, 12 * WAD // 10, 500_000 * USDC, 50_000 * USDC, position))
        assert whale.step(ctx) == []

    def test_setup_supplies_borrows_and_posts_the_rest_as_margin(self, protocol):
        whale = make_whale(spare_fraction=0.1, leverage=4.0)
        held = 500_000 * ALT  # $1M at $2
        ctx = make_context(protocol, make_snapshot(protocol, block=0, balances={WHALE: {"ALT": held}}))
        calls = whale.setup(ctx)
        assert actions(calls)[:5] == ["approve", "approve", "approve", "supply", "borrow"]
        assert calls[3].args == (TOKEN_ADDR["ALT"], held, WHALE)
        borrowed = floor(F(1_000_000 * USD8) * F(7, 10) / F("1.2")) * USDC // USD8
        assert calls[4].args == (TOKEN_ADDR["USDC"], borrowed)
        opens = calls[5:]
        assert set(actions(opens)) == {"openPosition"}
        assert all(c.args[1] is True and c.args[3] == 4 * WAD for c in opens)
        assert sum(c.args[2] for c in opens) == borrowed - borrowed // 10  # 10% kept spare


# ======================================================================== Liquidator


def make_liquidator(**kw):
    params = dict(capital_usd8=1_000_000 * USD8, max_slippage=0.08, close_factor_bps=5_000, full_liquidation_hf_wad=95 * WAD // 100)
    params.update(kw)
    return Liquidator("liquidator", LIQUIDATOR, **params)


def loan(debt_usdc: int, collateral_alt: int = 10_000_000 * ALT) -> dict:
    return {"ALT": (collateral_alt, 0), "USDC": (0, debt_usdc * USDC)}


class TestLiquidator:
    def _view(self, protocol, health, positions, budget=10_000_000 * USDC, **kw):
        return make_snapshot(
            protocol, balances={LIQUIDATOR: {"USDC": budget}}, lending_positions=positions, health=health, **kw
        )

    def test_ignores_healthy_accounts_and_itself(self, protocol):
        liq = make_liquidator()
        health = {USER_A: WAD, USER_B: 12 * WAD // 10, LIQUIDATOR: WAD // 2}
        positions = {USER_A: loan(100_000), USER_B: loan(100_000), LIQUIDATOR: loan(100_000)}
        ctx = make_context(protocol, self._view(protocol, health, positions))
        assert liq.liquidate_loans(ctx) == []
        assert liq.step(ctx) == []

    def test_largest_debt_first_with_the_close_factor(self, protocol):
        liq = make_liquidator()
        hf = 98 * WAD // 100  # below 1, above the full-liquidation line 0.95
        health = {USER_A: hf, USER_B: hf, USER_C: hf}
        positions = {USER_A: loan(100_000), USER_B: loan(300_000), USER_C: loan(200_000)}
        calls = liq.liquidate_loans(make_context(protocol, self._view(protocol, health, positions)))
        assert actions(calls) == ["liquidationCall"] * 3
        assert [c.args[2] for c in calls] == [USER_B, USER_C, USER_A]
        assert [c.args[3] for c in calls] == [150_000 * USDC, 100_000 * USDC, 50_000 * USDC]  # 50% each
        assert all(c.args[:2] == (TOKEN_ADDR["ALT"], TOKEN_ADDR["USDC"]) for c in calls)
        assert all(c.to == protocol.lending for c in calls)

    def test_whole_debt_below_the_full_liquidation_line(self, protocol):
        liq = make_liquidator()
        health = {USER_A: 90 * WAD // 100, USER_B: 95 * WAD // 100, USER_C: 95 * WAD // 100 - 1}
        positions = {USER_A: loan(100_000), USER_B: loan(90_000), USER_C: loan(80_000)}
        calls = liq.liquidate_loans(make_context(protocol, self._view(protocol, health, positions)))
        cover = {c.args[2]: c.args[3] for c in calls}
        # as Aave (and the contract): all of it at or below 0.95, the close factor only above it
        assert cover == {USER_A: 100_000 * USDC, USER_B: 90_000 * USDC, USER_C: 80_000 * USDC}
        above = {USER_B: 95 * WAD // 100 + 1}
        (call,) = liq.liquidate_loans(make_context(protocol, self._view(protocol, above, positions)))
        assert call.args[3] == 45_000 * USDC

    def test_receive_a_token_is_passed_on(self, protocol):
        liq = make_liquidator(receive_a_token=True)
        view = self._view(protocol, {USER_A: 90 * WAD // 100}, {USER_A: loan(1_000)})
        (call,) = liq.liquidate_loans(make_context(protocol, view))
        assert call.args == (TOKEN_ADDR["ALT"], TOKEN_ADDR["USDC"], USER_A, 1_000 * USDC, True)

    def test_stablecoin_budget_caps_the_covers_across_accounts(self, protocol):
        liq = make_liquidator()
        hf = 98 * WAD // 100
        health = {USER_A: hf, USER_B: hf, USER_C: hf}
        positions = {USER_A: loan(100_000), USER_B: loan(300_000), USER_C: loan(200_000)}
        view = self._view(protocol, health, positions, budget=200_000 * USDC)
        calls = liq.liquidate_loans(make_context(protocol, view))
        # B: 150k of the 200k; C: the 50k left (not its 100k); A: nothing left
        assert [(c.args[2], c.args[3]) for c in calls] == [(USER_B, 150_000 * USDC), (USER_C, 50_000 * USDC)]
        empty = self._view(protocol, health, positions, budget=0)
        assert liq.liquidate_loans(make_context(protocol, empty)) == []

    # ---- Aave v3.3 rules: close factor by position size, and no dust left behind.
    # ALT at $2 (the snapshot's external price), USDC at $1, bonus 10%.

    def _v33(self, **kw):
        return make_liquidator(rules="v3.3", liquidation_bonus_bps={"ALT": 11_000}, **kw)

    def test_v33_half_only_when_collateral_and_debt_are_both_2000_usd(self, protocol):
        liq = self._v33()
        hf = 98 * WAD // 100
        positions = {
            USER_A: loan(2_000, collateral_alt=10_000 * ALT),  # $2,000 of debt, $20,000 of collateral: 50%
            USER_B: loan(2_000, collateral_alt=1_000 * ALT - 1),  # collateral one wei under $2,000: 100%
            USER_C: loan(1_999, collateral_alt=10_000 * ALT),  # debt under $2,000: 100%
        }
        # (collateral of exactly $2,000 against $2,000 of debt would be capped at 50%, but seizing
        # $1,100 for it leaves $900: dust, so the liquidator repays everything there too)
        calls = liq.liquidate_loans(make_context(protocol, self._view(protocol, dict.fromkeys(positions, hf), positions)))
        # all of it is asked as the maximum: the pool takes what is owed when the call runs, interest
        # of the blocks since this view included (a stale "all" would leave dust and revert)
        assert {c.args[2]: c.args[3] for c in calls} == {USER_A: 1_000 * USDC, USER_B: MAX_UINT256, USER_C: MAX_UINT256}

    def test_v33_all_of_it_is_the_exact_debt_when_the_budget_has_no_margin_for_interest(self, protocol):
        liq = self._v33()
        view = self._view(protocol, {USER_A: 90 * WAD // 100}, {USER_A: loan(1_500)}, budget=1_500 * USDC + 1_500 * USDC // 1_000)
        (call,) = liq.liquidate_loans(make_context(protocol, view))
        assert call.args[3] == 1_500 * USDC  # one unit short of debt + debt / 1,000 + 1
        roomy = self._view(protocol, {USER_A: 90 * WAD // 100}, {USER_A: loan(1_500)}, budget=1_500 * USDC + 1_500 * USDC // 1_000 + 1)
        (call,) = liq.liquidate_loans(make_context(protocol, roomy))
        assert call.args[3] == MAX_UINT256

    def test_v33_a_budget_short_of_the_debt_leaves_exactly_the_minimum_debt(self, protocol):
        # HF 0.9: all of the $1,500 may go, the budget holds $1,200, which would leave $300 of debt:
        # the call instead leaves $1,000 (plus a unit: the contract values leftovers rounding down)
        liq = self._v33()
        view = self._view(protocol, {USER_A: 90 * WAD // 100}, {USER_A: loan(1_500)}, budget=1_200 * USDC)
        (call,) = liq.liquidate_loans(make_context(protocol, view))
        assert call.args[3] == 1_500 * USDC - (1_000 * USDC + 1)

    def test_v33_collateral_dust_makes_it_take_everything_or_nothing(self, protocol):
        # $2,100 of debt against $2,200 of ALT at HF 0.98: half the debt seizes $1,155 (10% bonus)
        # and leaves $1,045 of collateral: allowed. Against $2,100 of ALT it would leave $945: the
        # call repays all the debt (the collateral then runs out first: no dust rule), if it can.
        liq = self._v33()
        hf = 98 * WAD // 100
        ok = {USER_A: loan(2_100, collateral_alt=1_100 * ALT)}
        (call,) = liq.liquidate_loans(make_context(protocol, self._view(protocol, {USER_A: hf}, ok)))
        assert call.args[3] == 1_050 * USDC
        dusty = {USER_A: loan(2_100, collateral_alt=1_050 * ALT)}
        (call,) = liq.liquidate_loans(make_context(protocol, self._view(protocol, {USER_A: hf}, dusty)))
        assert call.args[3] == MAX_UINT256  # all of it
        short = self._view(protocol, {USER_A: hf}, dusty, budget=2_000 * USDC)
        assert liq.liquidate_loans(make_context(protocol, short)) == []

    def test_seizes_the_collateral_worth_most_at_lending_prices(self):
        protocol = make_protocol(("ALT", "BTC"))
        liq = make_liquidator()
        hf = 98 * WAD // 100
        health = {USER_A: hf, USER_B: hf, USER_D: hf}
        positions = {
            # 100k ALT × $2 = $200k beats 1 BTC × $110k; the USDC collateral is never seized
            USER_A: {"ALT": (100_000 * ALT, 0), "BTC": (1 * BTC, 0), "USDC": (10_000_000 * USDC, 40_000 * USDC)},
            # 50k ALT × $2 = $100k loses to 1 BTC
            USER_B: {"ALT": (50_000 * ALT, 0), "BTC": (1 * BTC, 0), "USDC": (0, 30_000 * USDC)},
            # ALT has no lending price (its oracle reverts): BTC even though the ALT is worth more
            USER_C: {"ALT": (10_000_000 * ALT, 0), "BTC": (BTC // 100, 0), "USDC": (0, 20_000 * USDC)},
            # only stablecoin collateral: nothing to seize
            USER_D: {"USDC": (1_000_000 * USDC, 10_000 * USDC)},
        }
        prices = {"USDC": USD8, "ALT": 2 * USD8, "BTC": 110_000 * USD8}
        view = self._view(protocol, health, positions, lending_prices=prices)
        calls = liq.liquidate_loans(make_context(protocol, view))
        assert {c.args[2]: c.args[0] for c in calls} == {USER_A: TOKEN_ADDR["ALT"], USER_B: TOKEN_ADDR["BTC"]}

        view_c = self._view(protocol, {USER_C: hf}, positions, lending_prices={**prices, "ALT": None})
        (call,) = liq.liquidate_loans(make_context(protocol, view_c))
        assert call.args[:3] == (TOKEN_ADDR["BTC"], TOKEN_ADDR["USDC"], USER_C)

    def test_liquidates_flagged_perp_positions_only(self, protocol):
        liq = make_liquidator()
        positions = {
            "ALT": {
                # every one entered at $2 with $2 of margin: bankruptcy at $1.80 (longs), $2.20 (shorts)
                USER_A: perp_pos(10 * WAD, margin=2 * USDC, open_notional=20 * USDC, liquidatable=True),
                USER_B: perp_pos(-10 * WAD, margin=2 * USDC, open_notional=20 * USDC, liquidatable=False),
                USER_C: perp_pos(-10 * WAD, margin=2 * USDC, open_notional=20 * USDC, liquidatable=True),
                LIQUIDATOR: perp_pos(10 * WAD, margin=2 * USDC, open_notional=20 * USDC, liquidatable=True),
            }
        }
        ctx = make_context(protocol, self._view(protocol, {}, {}, perp_positions=positions))
        calls = liq.step(ctx)
        assert actions(calls) == ["liquidate", "liquidate"]
        assert sorted(c.args[:2] for c in calls) == sorted([(USER_A, ALT_ID), (USER_C, ALT_ID)])
        assert all(c.to == protocol.perp for c in calls)
        # each offers the opposite side for ADL: the long A the shorts B and C, the short C the longs
        offers = {c.args[0]: c.args[2] for c in calls}
        assert sorted(offers[USER_A]) == sorted([USER_B, USER_C]) and sorted(offers[USER_C]) == sorted([USER_A, LIQUIDATOR])

    # A liquidated long of 10 ALT, $20 open notional and $2 of margin: bankruptcy price (20 − 2) / 10 = $1.80.
    LONG = dict(size_wad=10 * WAD, margin=2 * USDC, open_notional=20 * USDC)

    def test_adl_ranking_by_score_then_size_until_twice_the_size_is_covered(self):
        positions = {
            USER_A: perp_pos(**self.LONG),
            USER_B: perp_pos(-4 * WAD, open_notional=8 * USDC, adl_score=3 * WAD),
            USER_C: perp_pos(-9 * WAD, open_notional=18 * USDC, adl_score=5 * WAD),
            USER_D: perp_pos(-30 * WAD, open_notional=60 * USDC, adl_score=0),  # not in profit yet: last, by size
            LIQUIDATOR: perp_pos(-6 * WAD, open_notional=12 * USDC, adl_score=3 * WAD),
            ARB: perp_pos(7 * WAD, open_notional=14 * USDC, adl_score=9 * WAD),  # same side: never listed
        }
        offered: dict[str, int] = {}
        # C (score 5), then B and the liquidator (score 3: the larger first), then D; 9+6+4 = 19 < 2 × 10 = 20
        assert adl_ranking(positions, USER_A, offered) == [USER_C, LIQUIDATOR, USER_B, USER_D]
        # only the liquidated size counts as used: C's 9 and 1 of the liquidator's 6
        assert offered == {USER_C: 9 * WAD, LIQUIDATOR: 1 * WAD, USER_B: 0, USER_D: 0}
        # a second liquidation in the block skips C (fully used) and starts from the liquidator
        assert adl_ranking(positions, USER_A, offered)[:2] == [LIQUIDATOR, USER_B]

    def test_adl_ranking_leaves_out_shorts_that_lose_at_the_bankruptcy_price(self):
        positions = {
            USER_A: perp_pos(**self.LONG),
            # entries $1.80 exactly (no gain at $1.80), $1.8000001 and $1.79
            USER_B: perp_pos(-10 * WAD, open_notional=18 * USDC, adl_score=WAD),
            USER_C: perp_pos(-10 * WAD, open_notional=18 * USDC + 1, adl_score=WAD),
            USER_D: perp_pos(-10 * WAD, open_notional=17_900_000, adl_score=9 * WAD),
        }
        assert adl_ranking(positions, USER_A, {}) == [USER_C]
        # funding owed lowers the margin and so raises the bankruptcy price: (20 − 1) / 10 = $1.90
        positions[USER_A] = perp_pos(**self.LONG, funding=1 * USDC)
        assert adl_ranking(positions, USER_A, {}) == []

    def test_adl_ranking_for_a_liquidated_short(self):
        # a short of 10 at $20 with $2 of margin: bankruptcy price (20 + 2) / 10 = $2.20
        positions = {
            USER_A: perp_pos(-10 * WAD, margin=2 * USDC, open_notional=20 * USDC),
            USER_B: perp_pos(10 * WAD, open_notional=22 * USDC, adl_score=WAD),  # entry $2.20: no gain
            USER_C: perp_pos(10 * WAD, open_notional=21 * USDC, adl_score=WAD),  # entry $2.10: gains $1
        }
        assert adl_ranking(positions, USER_A, {}) == [USER_C]

    def test_adl_ranking_stops_at_the_most_counterparties(self):
        positions = {USER_A: perp_pos(10**6 * WAD, open_notional=2 * 10**6 * USDC)}
        positions.update({f"0x{i:040x}": perp_pos(-WAD, open_notional=3 * USDC, adl_score=WAD) for i in range(1, 20)})
        assert len(adl_ranking(positions, USER_A, {})) == MAX_ADL_COUNTERPARTIES

    def _sell_ctx(self, protocol, held_alt):
        view = make_snapshot(protocol, balances={LIQUIDATOR: {"ALT": held_alt}})
        return make_context(protocol, view)

    def test_sells_all_seized_collateral_when_within_slippage(self, protocol):
        liq = make_liquidator(max_slippage=0.08)
        x, y = reserves_at(2 * USD8, 1_000_000 * ALT)
        held = 50_000 * ALT
        limit = floor(F(x) * F(800 - 30, BPS) / (F(BPS - 800, BPS) * F(BPS - 30, BPS)))
        assert held < limit  # ~83,946 ALT
        (call,) = liq.sell_seized(self._sell_ctx(protocol, held))
        assert call.action == "swapExactIn" and call.to == POOL_ADDR["ALT"]
        token_in, amount, min_out, to = call.args
        assert (token_in, amount, to) == (TOKEN_ADDR["ALT"], held, LIQUIDATOR)
        # value at the pool price less 8%: 50,000 × $2 × 0.92
        assert min_out == floor(F(held) * y / x * F(92, 100)) == 92_000 * USDC
        assert v2_out(amount, x, y, 30) >= min_out  # would pass at the state it saw

    def test_sells_only_what_fits_within_slippage(self, protocol):
        liq = make_liquidator(max_slippage=0.08)
        x, y = reserves_at(2 * USD8, 1_000_000 * ALT)
        (call,) = liq.sell_seized(self._sell_ctx(protocol, 200_000 * ALT))
        _, amount, min_out, _ = call.args
        assert amount == max_input_within_slippage(x, 800, 30) < 200_000 * ALT
        assert min_out == floor(floor(F(amount) * y / x) * F(92, 100))
        assert v2_out(amount, x, y, 30) >= min_out
        # one step more would break the slippage limit
        more = amount + amount // 1000
        assert v2_out(more, x, y, 30) < floor(F(more) * y / x * F(92, 100))

    def test_nothing_to_sell(self, protocol):
        liq = make_liquidator()
        assert liq.sell_seized(self._sell_ctx(protocol, 0)) == []
        fee_above_slippage = make_liquidator(max_slippage=0.002)  # 20 bps < the pool's 30 bps fee
        assert fee_above_slippage.sell_seized(self._sell_ctx(protocol, 1_000 * ALT)) == []

    def test_step_sells_then_liquidates_perps_then_loans(self, protocol):
        liq = make_liquidator()
        view = make_snapshot(
            protocol,
            balances={LIQUIDATOR: {"USDC": 1_000_000 * USDC, "ALT": 1_000 * ALT}},
            lending_positions={USER_A: loan(10_000)},
            health={USER_A: WAD // 2},
            perp_positions={"ALT": {USER_B: perp_pos(WAD, liquidatable=True)}},
        )
        assert actions(liq.step(make_context(protocol, view))) == ["swapExactIn", "liquidate", "liquidationCall"]


# ======================================================================== Keeper


def make_keeper(**kw):
    params = dict(heartbeat_s=3_600, deviation_bps=50, funding_interval_s={"ALT": 3_600})
    params.update(kw)
    keeper = Keeper("keeper", KEEPER, **params)
    return keeper


class TestKeeper:
    def _step(self, keeper, protocol, timestamp_s, external):
        view = make_snapshot(protocol)
        ctx = make_context(protocol, view, external=external, timestamp_s=timestamp_s)
        return keeper.step(ctx)

    def _pushes(self, calls):
        return {c.to: c.args for c in calls if c.action == "setAnswer"}

    def test_pushes_on_deviation_only_beyond_the_threshold(self, protocol):
        keeper = make_keeper(funding_interval_s={})
        keeper.start({"ALT": 2 * USD8, "USDC": USD8}, {"ALT": T0, "USDC": T0}, T0)
        # 49.5 bps: no push; 50 bps exactly: push (Chainlink's "at least")
        calls = self._step(keeper, protocol, T0 + 12, {"ALT": 200_990_000, "USDC": USD8})
        assert self._pushes(calls) == {}
        calls = self._step(keeper, protocol, T0 + 24, {"ALT": 201_000_000, "USDC": USD8})
        assert self._pushes(calls) == {FEED_ADDR["ALT"]: (201_000_000,)}
        # measured from the last push, not the start: 201.99 is < 50 bps off 201
        calls = self._step(keeper, protocol, T0 + 36, {"ALT": 201_990_000, "USDC": USD8})
        assert self._pushes(calls) == {}
        # downward moves count too
        calls = self._step(keeper, protocol, T0 + 48, {"ALT": 199_995_000, "USDC": USD8})
        assert self._pushes(calls) == {FEED_ADDR["ALT"]: (199_995_000,)}

    def test_pushes_on_heartbeat(self, protocol):
        keeper = make_keeper(funding_interval_s={})
        keeper.start({"ALT": 2 * USD8, "USDC": USD8}, {"ALT": T0, "USDC": T0}, T0)
        prices = {"ALT": 2 * USD8, "USDC": USD8}
        assert self._pushes(self._step(keeper, protocol, T0 + 3_599, prices)) == {}
        pushed = self._pushes(self._step(keeper, protocol, T0 + 3_600, prices))
        assert pushed == {FEED_ADDR["ALT"]: (2 * USD8,), FEED_ADDR["USDC"]: (USD8,)}
        assert self._pushes(self._step(keeper, protocol, T0 + 3_612, prices)) == {}  # the clock restarted

    def test_heartbeat_counts_from_when_the_feed_was_written(self, protocol):
        keeper = make_keeper(funding_interval_s={})
        prices = {"ALT": 2 * USD8, "USDC": USD8}
        keeper.start(prices, {"ALT": T0 - 3_000, "USDC": T0}, T0)  # ALT's feed is 3,000 s old at the start
        pushed = self._pushes(self._step(keeper, protocol, T0 + 600, prices))
        assert pushed == {FEED_ADDR["ALT"]: (2 * USD8,)}

    def test_updates_every_pool_twap_every_block(self):
        protocol = make_protocol(("ALT", "BTC"))
        keeper = make_keeper(funding_interval_s={})
        prices = {"ALT": 2 * USD8, "BTC": 100_000 * USD8, "USDC": USD8}
        keeper.start(prices, dict.fromkeys(prices, T0), T0)
        for block in range(1, 4):
            calls = self._step(keeper, protocol, T0 + 12 * block, prices)
            updates = [c.to for c in calls if c.action == "update"]
            assert sorted(updates) == sorted([TWAP_ORACLE_ADDR["ALT"], TWAP_ORACLE_ADDR["BTC"]])
            assert actions(calls) == ["update", "update"]

    def test_settles_funding_when_due_and_schedules_the_next(self, protocol):
        keeper = make_keeper(funding_interval_s={"ALT": 3_600})
        prices = {"ALT": 2 * USD8, "USDC": USD8}
        keeper.start(prices, dict.fromkeys(prices, T0), T0)

        def settles(t):
            return [c.args for c in self._step(keeper, protocol, t, prices) if c.action == "settleFunding"]

        assert settles(T0 + 3_588) == []
        assert settles(T0 + 3_612) == [(ALT_ID,)]  # overdue: settled, next one an interval later
        assert keeper.next_funding_s["ALT"] == T0 + 3_612 + 3_600
        assert settles(T0 + 3_612 + 3_599) == []
        assert settles(T0 + 3_612 + 3_600) == [(ALT_ID,)]


# ======================================================================== Arbitrageur


def make_arb(**kw):
    params = dict(
        capital_usd8=2_000_000 * USD8,
        venue=VENUE,
        threshold=0.01,
        max_trade_fraction=0.5,
        refill_delay_blocks=10,
        perp_leverage=2.0,
        pool_weights={"ALT": 1.0},
    )
    params.update(kw)
    return Arbitrageur("arb", ARB, **params)


class TestArbitrageur:
    X, Y = reserves_at(2 * USD8, 1_000_000 * ALT)  # pool at $2
    FEE = 30

    def _ctx(self, protocol, external_alt, usdc=1_000_000 * USDC, alt=500_000 * ALT, block=1, markets=None, positions=None):
        view = make_snapshot(
            protocol,
            block=block,
            balances={ARB: {"USDC": usdc, "ALT": alt}},
            markets=markets,
            perp_positions=positions,
        )
        return make_context(protocol, view, external={"ALT": external_alt, "USDC": USD8})

    def test_buys_when_the_pool_is_cheap(self, protocol):
        arb = make_arb()
        external = 210_000_000  # $2.10: the pool's $2 is 4.8% below
        calls = arb.step(self._ctx(protocol, external))
        assert actions(calls) == ["swapExactIn", "transfer"]
        swap, transfer = calls
        token_in, amount, min_out, to = swap.args
        assert (token_in, to) == (TOKEN_ADDR["USDC"], ARB)
        # USDC in until y'/x' = $2.10 with x'y' = k: y' = sqrt(k × 2.1 USDC-units per ALT-unit)
        y_after = math.isqrt(self.X * self.Y * 21 * USDC // (10 * ALT))
        wanted = (y_after - self.Y) * BPS // (BPS - self.FEE)
        assert 49_000 * USDC < wanted < 50_000 * USDC  # ≈ $49.5k, well inside the 50% budget
        assert amount == wanted
        out = v2_out(amount, self.Y, self.X, self.FEE)
        assert min_out == out * 99 // 100
        # it settles the other leg at once: the ALT bought goes to the venue…
        assert transfer.to == TOKEN_ADDR["ALT"] and transfer.args == (VENUE, min_out)
        # …and its value at the external price comes back later, in USDC
        (refill,) = arb.pending
        assert refill.symbol == "USDC" and refill.due_block == 1 + 10
        assert refill.amount == floor(F(min_out, ALT) * F(external, USD8) * USDC)

    def test_buy_is_capped_by_the_budget(self, protocol):
        arb = make_arb(max_trade_fraction=0.5, pool_weights={"ALT": 0.5})
        calls = arb.step(self._ctx(protocol, 210_000_000, usdc=60_000 * USDC))
        # the pool's share of the stablecoin (50%) × the trade fraction (50%) = $15,000
        assert calls[0].args[1] == 15_000 * USDC

    def test_sells_when_the_pool_is_dear(self, protocol):
        arb = make_arb()
        external = 190_000_000  # $1.90: the pool's $2 is 5.3% above
        calls = arb.step(self._ctx(protocol, external))
        assert actions(calls) == ["swapExactIn", "transfer"]
        token_in, amount, min_out, _ = calls[0].args
        assert token_in == TOKEN_ADDR["ALT"]
        x_after = math.isqrt(self.X * self.Y * 10 * ALT // (19 * USDC))  # x' = sqrt(k / 1.9)
        assert amount == (x_after - self.X) * BPS // (BPS - self.FEE)
        assert min_out == v2_out(amount, self.X, self.Y, self.FEE) * 99 // 100
        assert calls[1].to == TOKEN_ADDR["USDC"] and calls[1].args == (VENUE, min_out)
        (refill,) = arb.pending
        assert refill.symbol == "ALT" and refill.amount == floor(F(min_out, USDC) / F(external, USD8) * ALT)

    def test_sell_is_capped_by_its_altcoin(self, protocol):
        arb = make_arb(max_trade_fraction=0.5)
        calls = arb.step(self._ctx(protocol, 190_000_000, alt=20_000 * ALT))
        assert calls[0].args[:2] == (TOKEN_ADDR["ALT"], 10_000 * ALT)

    @pytest.mark.parametrize("external", [200_000_000, 201_000_000, 199_000_000, 202_000_000])
    def test_nothing_inside_the_threshold(self, protocol, external):
        arb = make_arb(threshold=0.01)
        assert arb.step(self._ctx(protocol, external)) == []
        assert arb.pending == []

    def test_collects_a_refill_when_due(self, protocol):
        arb = make_arb(refill_delay_blocks=10)
        arb.step(self._ctx(protocol, 210_000_000, block=1))
        (refill,) = arb.pending
        for block in range(2, 11):  # pool back at the external price: nothing else to do
            assert arb.step(self._ctx(protocol, 2 * USD8, block=block)) == []
        (call,) = arb.step(self._ctx(protocol, 2 * USD8, block=11))
        assert call.action == "transferFrom" and call.to == TOKEN_ADDR["USDC"]
        assert call.args == (VENUE, ARB, refill.amount)
        assert arb.pending == []
        assert arb.step(self._ctx(protocol, 2 * USD8, block=12)) == []

    def test_perp_opens_long_when_the_mark_is_below_the_index(self, protocol):
        arb = make_arb(threshold=0.01, perp_leverage=2.0, max_trade_fraction=0.5)
        v_base = 10_000_000 * WAD
        markets = {"ALT": market_snap(mark_wad=19 * WAD // 10, index_wad=2 * WAD, v_base_wad=v_base)}
        calls = arb.step(self._ctx(protocol, 2 * USD8, markets=markets))
        (call,) = calls
        assert call.action == "openPosition" and call.to == protocol.perp
        market_id, is_long, margin, leverage, limit = call.args
        assert (market_id, is_long, leverage, limit) == (ALT_ID, True, 2 * WAD, 0)
        # quote to add so vQuote'/vBase' = index with vQuote'·vBase' = k: vQuote' = sqrt(k × index)
        v_quote = v_base * 19 // 10
        target_quote = math.sqrt(v_base / WAD * v_quote / WAD * 2.0)  # in whole USDC
        notional = (target_quote - v_quote / WAD) * USDC  # ≈ $493,590
        assert abs(margin - notional / 2) <= 2  # at 2× leverage, within the 50% of $1M budget

    def test_perp_open_is_capped_by_the_budget(self, protocol):
        arb = make_arb(max_trade_fraction=0.5)
        markets = {"ALT": market_snap(mark_wad=19 * WAD // 10, index_wad=2 * WAD)}
        (call,) = arb.step(self._ctx(protocol, 2 * USD8, usdc=100_000 * USDC, markets=markets))
        assert call.args[2] == 50_000 * USDC

    def test_perp_opens_short_when_the_mark_is_above_the_index(self, protocol):
        arb = make_arb()
        markets = {"ALT": market_snap(mark_wad=21 * WAD // 10, index_wad=2 * WAD)}
        (call,) = arb.step(self._ctx(protocol, 2 * USD8, markets=markets))
        assert call.action == "openPosition" and call.args[1] is False

    def test_perp_closes_a_wrong_side_position(self, protocol):
        arb = make_arb()
        markets = {"ALT": market_snap(mark_wad=19 * WAD // 10, index_wad=2 * WAD)}  # wants long
        short = {"ALT": {ARB: perp_pos(-1_000 * WAD, margin=1_000 * USDC)}}
        (call,) = arb.step(self._ctx(protocol, 2 * USD8, markets=markets, positions=short))
        assert call.action == "closePosition" and call.args == (ALT_ID, 0)
        # underwater: it neither closes nor opens the other side
        broke = {"ALT": {ARB: perp_pos(-1_000 * WAD, margin=1_000 * USDC, pnl=-2_000 * USDC)}}
        assert arb.step(self._ctx(protocol, 2 * USD8, markets=markets, positions=broke)) == []

    def test_perp_reduces_a_large_wrong_side_position_by_the_gap_share(self, protocol):
        arb = make_arb(gap_share=0.5)
        v_base = 10_000_000 * WAD
        markets = {"ALT": market_snap(mark_wad=19 * WAD // 10, index_wad=2 * WAD, v_base_wad=v_base)}  # wants long
        short = {"ALT": {ARB: perp_pos(-2_000_000 * WAD, margin=1_000_000 * USDC, open_notional=4_000_000 * USDC)}}
        (call,) = arb.step(self._ctx(protocol, 2 * USD8, markets=markets, positions=short))
        # buying back Δ base moves the vAMM (x·y = k) to the index at x' = √(k / 2): half of Δ
        v_quote = v_base * 19 // 10
        at_index = math.isqrt(v_base * v_quote // 2)
        assert call.action == "reducePosition" and call.args == (ALT_ID, (v_base - at_index) // 2, 0)

    def test_perp_holds_its_position_inside_the_threshold(self, protocol):
        arb = make_arb(threshold=0.01)
        long = {"ALT": {ARB: perp_pos(1_000 * WAD, margin=1_000 * USDC)}}
        for mark_wad in (1_992 * WAD // 1000, 2 * WAD, 2_019 * WAD // 1000):  # −0.4%, 0, +0.95%
            near = {"ALT": market_snap(mark_wad=mark_wad, index_wad=2 * WAD)}
            assert arb.step(self._ctx(protocol, 2 * USD8, markets=near, positions=long)) == []
        past = {"ALT": market_snap(mark_wad=2_021 * WAD // 1000, index_wad=2 * WAD)}  # +1.05%: past the index
        (call,) = arb.step(self._ctx(protocol, 2 * USD8, markets=past, positions=long))
        assert call.action == "closePosition"

    def test_perp_nothing_without_an_index(self, protocol):
        arb = make_arb()
        markets = {"ALT": market_snap(mark_wad=19 * WAD // 10, index_wad=None)}
        assert arb.step(self._ctx(protocol, 2 * USD8, markets=markets)) == []

    def test_trades_only_its_pools_and_markets(self):
        protocol = make_protocol(("ALT", "BTC"))
        arb = make_arb(pool_weights={"ALT": 1.0}, markets=["ALT"])
        # BTC's pool is 10% rich and its perp 10% cheap, but this arbitrageur does not trade BTC
        markets = {"ALT": market_snap(), "BTC": market_snap(mark_wad=90_000 * WAD, index_wad=100_000 * WAD)}
        view = make_snapshot(protocol, balances={ARB: {"USDC": 1_000_000 * USDC, "ALT": 500_000 * ALT, "BTC": 10 * BTC}}, markets=markets)
        ctx = make_context(protocol, view, external={"ALT": 2 * USD8, "BTC": 90_000 * USD8, "USDC": USD8})
        assert arb.step(ctx) == []
        assert arb.initial_tokens({"ALT": 2 * USD8, "BTC": 100_000 * USD8, "USDC": USD8}, protocol).keys() == {"USDC", "ALT"}

    def test_no_refill_for_a_trade_that_reverted(self, protocol):
        arb = make_arb(refill_delay_blocks=10)
        calls = arb.step(self._ctx(protocol, 210_000_000, alt=0, block=1))
        assert actions(calls) == ["swapExactIn", "transfer"]
        arb.observe(calls)  # both reverted: no ALT bought, none sent to the venue
        # nothing was delivered to the venue, so nothing should come back from it
        assert arb.step(self._ctx(protocol, 2 * USD8, alt=0, block=11)) == []


# ======================================================================== MarketMaker


def make_mm(**kw):
    params = dict(
        asset="ALT",
        market="ALT",
        capital_usd8=1_000_000 * USD8,
        stable_capital_usd8=300_000 * USD8,
        pool_depth_usd8=200_000 * USD8,
        collateral_share=0.5,
        target_health_factor=2.0,
        hedge_leverage=3.0,
        rehedge_interval=10,
        rehedge_threshold=0.1,
        volatility_window=5,
        withdraw_volatility=0.02,
        liquidation_threshold_bps=7_000,
        ltv_bps=6_000,
        phase=0,
    )
    params.update(kw)
    return MarketMaker("mm", MM, **params)


class TestMarketMaker:
    SHARES = 10**23  # 10% of the pool's 1e24 shares: 100k ALT of its 1M

    def test_setup_keeps_a_stable_reserve_then_funds_the_hedge_then_the_pool(self, protocol):
        mm = make_mm(stable_reserve_share=0.1, hedge_leverage=3.0, pool_depth_usd8=200_000 * USD8)
        alt_held, usdc_held = 350_000 * ALT, 300_000 * USDC  # $700k in ALT at $2, $300k in USDC
        view = make_snapshot(protocol, block=0, balances={MM: {"ALT": alt_held, "USDC": usdc_held}})
        calls = mm.setup(make_context(protocol, view))
        supplied = alt_held // 2  # collateral_share 0.5: $350k
        borrowed = 350_000 * 7_000 // (10_000 * 2) * USDC  # at HF 2 with LT 70%: $122,500 (the LTV cap is higher)
        reserve = (usdc_held + borrowed) // 10
        hedge_margin = floor(F(700_000, 3) * USDC)  # the whole $700k inventory at 3x
        lp_quote = min(200_000 * USDC, usdc_held + borrowed - reserve - hedge_margin)
        lp_base = lp_quote * ALT // (2 * USDC)  # the same USD value of ALT at $2
        by_action = {c.action: c for c in calls}
        assert actions(calls)[-8:] == ["openPosition"] * 8
        assert by_action["supply"].args[1] == supplied
        assert by_action["borrow"].args[1] == borrowed
        assert sum(c.args[2] for c in calls if c.action == "openPosition") == hedge_margin
        amount0, amount1 = by_action["addLiquidity"].args[:2]
        base_is_token0 = protocol.pools["ALT"].base_is_token0
        assert (amount0, amount1) == ((lp_base, lp_quote) if base_is_token0 else (lp_quote, lp_base))
        spent = borrowed + usdc_held - hedge_margin - lp_quote
        assert spent >= reserve  # what stays in the wallet covers the reserve

    def _view(self, protocol, block=1, price8=2 * USD8, short_alt=None, spare=1_000_000 * USDC, pnl=0, margin=None):
        positions = {}
        if short_alt is not None:
            m = margin if margin is not None else short_alt * 2 * USDC // 3
            positions = {"ALT": {MM: perp_pos(-short_alt * WAD, margin=m, pnl=pnl)}}
        return make_snapshot(
            protocol,
            block=block,
            pool_reserves={"ALT": reserves_at(price8, 1_000_000 * ALT)},
            balances={MM: {"USDC": spare, "ALT": 10_000 * ALT, lp_symbol("ALT"): self.SHARES}},
            lending_positions={MM: {"ALT": (50_000 * ALT, 0), "USDC": (0, 100_000 * USDC)}},
            perp_positions=positions,
        )

    # inventory: 10k wallet + 50k supplied + 10% of the pool's 1M = 160k ALT

    def _history(self, protocol, prices8, block=1):
        return [self._view(protocol, block=block - len(prices8) + 1 + i, price8=p) for i, p in enumerate(prices8)]

    @staticmethod
    def _stdev_of_log_returns(prices8):
        returns = [math.log(b / a) for a, b in zip(prices8, prices8[1:])]
        return statistics.pstdev(returns)

    def test_withdraws_all_liquidity_when_the_pool_is_volatile(self, protocol):
        mm = make_mm(volatility_window=5, withdraw_volatility=0.02)
        prices = [200_000_000, 210_000_000, 195_000_000, 212_000_000, 190_000_000]
        history = self._history(protocol, prices)
        ctx = make_context(protocol, history[-1], history=history)
        assert mm.pool_volatility(ctx) == pytest.approx(self._stdev_of_log_returns(prices), rel=1e-6)
        assert self._stdev_of_log_returns(prices) > 0.02
        calls = mm.step(ctx)
        assert actions(calls) == ["removeLiquidity"]
        assert calls[0].to == POOL_ADDR["ALT"] and calls[0].args == (self.SHARES, 0, 0, MM)
        assert mm.withdrew_at_block == 1

    def test_stays_when_the_pool_is_calm(self, protocol):
        mm = make_mm(volatility_window=5, withdraw_volatility=0.02)
        # the wild prices fall outside the 5-block window; the last 5 move ±1%
        prices = [100_000_000, 300_000_000, 100_000_000, 200_000_000, 202_000_000, 200_000_000, 202_000_000, 200_000_000]
        history = self._history(protocol, prices)
        ctx = make_context(protocol, history[-1], history=history)
        expected = self._stdev_of_log_returns(prices[-5:])
        assert 0.005 < expected < 0.02
        assert mm.pool_volatility(ctx) == pytest.approx(expected, rel=1e-6)
        assert mm.step(ctx) == []
        assert mm.withdrew_at_block is None

    def test_threshold_is_strict(self, protocol):
        prices = [200_000_000, 210_000_000, 195_000_000, 212_000_000, 190_000_000]
        vol = self._stdev_of_log_returns(prices)
        history = self._history(protocol, prices)
        ctx = make_context(protocol, history[-1], history=history)
        assert make_mm(withdraw_volatility=vol * 1.0001).step(ctx) == []
        assert actions(make_mm(withdraw_volatility=vol * 0.9999).step(ctx)) == ["removeLiquidity"]

    def test_rehedge_opens_more_short_when_under_hedged(self, protocol):
        mm = make_mm(hedge_leverage=3.0, rehedge_threshold=0.1)
        ctx = make_context(protocol, self._view(protocol, block=10, short_alt=100_000))
        assert mm.inventory(ctx) == 160_000 * ALT
        calls = mm.step(ctx)  # block 10: on the re-hedge schedule
        (call,) = calls
        assert call.action == "openPosition"
        # delta 60k ALT > 10% of 160k; margin = 60k × $2 mark / 3 = $40,000
        assert call.args == (ALT_ID, False, 40_000 * USDC, 3 * WAD, 0)

    def test_rehedge_only_on_schedule(self, protocol):
        mm = make_mm(rehedge_interval=10, phase=3)
        assert mm.step(make_context(protocol, self._view(protocol, block=10, short_alt=100_000))) == []
        assert actions(mm.step(make_context(protocol, self._view(protocol, block=17, short_alt=100_000)))) == ["openPosition"]

    def test_rehedge_at_once_when_the_short_shrank_without_it(self, protocol):
        mm = make_mm(rehedge_interval=10)
        assert mm.step(make_context(protocol, self._view(protocol, block=1, short_alt=150_000))) == []
        # block 2 is off schedule, but the short fell from 150k to 100k (ADL): re-hedge now
        (call,) = mm.step(make_context(protocol, self._view(protocol, block=2, short_alt=100_000)))
        assert call.action == "openPosition" and call.args[2] == 40_000 * USDC

    def test_rehedge_buys_back_the_difference_when_over_hedged(self, protocol):
        mm = make_mm(hedge_leverage=3.0)
        ctx = make_context(protocol, self._view(protocol, short_alt=200_000))  # inventory 160k: delta −40k
        (call,) = mm.rehedge(ctx)
        assert call.action == "reducePosition" and call.args == (ALT_ID, 40_000 * WAD, 0)  # ALT has 18 decimals

    def test_over_hedged_closes_when_the_rest_would_be_under_the_minimum(self, protocol):
        mm = make_mm(hedge_leverage=3.0)
        view = self._view(protocol, short_alt=200_000)
        position = view.perp_positions["ALT"][MM]
        # 160k of 200k stays open: with $400k open notional that is $320k, under a $320,001 minimum
        view.perp_positions["ALT"][MM] = replace(position, open_notional=400_000 * USDC)
        small = replace(protocol, markets={"ALT": replace(protocol.markets["ALT"], min_position=320_000 * USDC)})
        assert actions(mm.rehedge(make_context(small, view))) == ["reducePosition"]
        tight = replace(protocol, markets={"ALT": replace(protocol.markets["ALT"], min_position=320_000 * USDC + 1)})
        (call,) = mm.rehedge(make_context(tight, view))
        assert call.action == "closePosition" and call.args == (ALT_ID, 0)

    @pytest.mark.parametrize("short_alt", [150_000, 170_000, 160_000])
    def test_rehedge_nothing_within_the_threshold(self, protocol, short_alt):
        mm = make_mm(rehedge_threshold=0.1)  # |delta| ≤ 16k ALT
        assert mm.rehedge(make_context(protocol, self._view(protocol, short_alt=short_alt))) == []
        assert mm.hedge_failures == 0

    def test_hedge_failure_without_stablecoin_for_margin(self, protocol):
        mm = make_mm()
        ctx = make_context(protocol, self._view(protocol, block=10, short_alt=100_000, spare=0))
        assert mm.step(ctx) == []
        assert mm.hedge_failures == 1

    def test_a_failed_open_counts_as_a_hedge_failure(self, protocol):
        mm = make_mm()
        (call,) = mm.rehedge(make_context(protocol, self._view(protocol, short_alt=100_000)))
        mm.observe([call])
        assert mm.hedge_failures == 1 and mm.failures == 1

    def test_closes_a_naked_short_once_the_inventory_is_gone(self, protocol):
        mm = make_mm()
        view = make_snapshot(
            protocol,
            block=10,
            balances={MM: {"USDC": 1_000_000 * USDC}},  # no ALT anywhere: wallet, lending, pool
            perp_positions={"ALT": {MM: perp_pos(-100_000 * WAD, margin=50_000 * USDC)}},
        )
        ctx = make_context(protocol, view)
        assert mm.inventory(ctx) == 0 and mm.short_units(ctx) == 100_000 * ALT
        assert actions(mm.rehedge(ctx)) == ["closePosition"]  # fully over-hedged: delta = −short

    def test_mark_not_pool_prices_the_hedge(self, protocol):
        mm = make_mm(hedge_leverage=3.0)
        view = self._view(protocol, short_alt=100_000)
        view.markets["ALT"] = market_snap(mark_wad=3 * WAD)  # mark $3, pool $2
        (call,) = mm.rehedge(make_context(protocol, view))
        assert call.args[2] == 60_000 * USDC  # 60k ALT × $3 / 3


# ======================================================================== NoiseTrader


def make_noise(**kw):
    params = dict(capital_usd8=100_000 * USD8, trade_probability=0.1, trade_fraction=0.05, perp_leverage=3.0)
    params.update(kw)
    return NoiseTrader("noise", NOISE, **params)


class TestNoiseTrader:
    def _ctx(self, protocol, rng, block=1, position=None):
        view = make_snapshot(
            protocol,
            block=block,
            balances={NOISE: {"USDC": 100_000 * USDC, "ALT": 1_000 * ALT}},
            perp_positions={"ALT": {NOISE: position}} if position else {},
        )
        return make_context(protocol, view, rng=rng)

    def test_never_trades_at_probability_zero(self, protocol):
        trader = make_noise(trade_probability=0.0)
        rng = np.random.default_rng(0)
        assert all(trader.step(self._ctx(protocol, rng, block=b)) == [] for b in range(1, 51))

    def test_always_trades_at_probability_one(self, protocol):
        trader = make_noise(trade_probability=1.0, trade_fraction=0.05)
        rng = np.random.default_rng(0)
        x, y = reserves_at(2 * USD8, 1_000_000 * ALT)
        for block in range(1, 21):
            calls = trader.step(self._ctx(protocol, rng, block=block))
            assert actions(calls) == ["swapExactIn", "openPosition"]
            swap, perp = calls
            token_in, amount, min_out, to = swap.args
            assert to == NOISE and swap.to == POOL_ADDR["ALT"]
            if token_in == TOKEN_ADDR["USDC"]:  # buy ALT with 5% of its USDC
                assert amount == 5_000 * USDC
                assert min_out == (amount * x // (y + amount)) * 97 // 100  # no-fee quote less 3%
            else:  # sell 5% of its ALT
                assert (token_in, amount) == (TOKEN_ADDR["ALT"], 50 * ALT)
                assert min_out == (amount * y // (x + amount)) * 97 // 100
            market_id, _, margin, leverage, _ = perp.args
            assert (market_id, margin, leverage) == (ALT_ID, 5_000 * USDC, 3 * WAD)

    def test_closes_a_position_it_holds_in_profit(self, protocol):
        trader = make_noise(trade_probability=1.0)
        rng = np.random.default_rng(0)
        calls = trader.step(self._ctx(protocol, rng, position=perp_pos(100 * WAD, margin=100 * USDC)))
        assert actions(calls) == ["swapExactIn", "closePosition"]
        underwater = perp_pos(100 * WAD, margin=100 * USDC, pnl=-200 * USDC)
        assert actions(trader.step(self._ctx(protocol, rng, position=underwater))) == ["swapExactIn"]

    def _run(self, protocol, seed, blocks=30):
        trader = make_noise(trade_probability=0.5)
        rng = np.random.default_rng(seed)
        return [
            [(c.to, c.action, c.args, c.data) for c in trader.step(self._ctx(protocol, rng, block=b))]
            for b in range(1, blocks + 1)
        ]

    def test_same_seed_same_calls(self, protocol):
        first = self._run(protocol, 0)
        assert first == self._run(protocol, 0)
        assert any(first) and not all(first)  # p = 0.5: some blocks trade, some do not
        assert first != self._run(protocol, 1)


# ======================================================================== every agent


def test_an_agent_pulls_its_adl_credit_before_its_own_calls(protocol):
    noise = make_noise(trade_probability=0.0)
    view = make_snapshot(protocol, balances={NOISE: {"USDC": 100_000 * USDC}})
    assert noise.decide(make_context(protocol, view)) == []
    view.perp_credits = {NOISE: 5 * USDC, USER_A: 7 * USDC}
    (call,) = noise.decide(make_context(protocol, view))
    assert call.action == "withdrawCredit" and call.to == protocol.perp and call.args == ()
