"""Stateful property test of the LendingPool: random supplies, borrows, repayments, withdrawals,
price moves, switches between the v3.0 and v3.3 liquidation rules, and liquidations paid in
tokens or in supply claims (receiveAToken), with a protocol fee. The pool's token balances always
equal its accounting, nothing is created or destroyed, every account's scaled balances sum to the
reserve's totals, no healthy account is liquidated, every liquidation moves exactly what the
rules in lending_math.py say (or reverts MustNotLeaveDust when they say so), and no withdrawal
leaves HF < 1."""

from collections import Counter

import ape
from conftest import LendingMarket as M
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from lending_math import USD, V3_0, V3_3, WAD, dust_left, health_factor, liquidation, max_debt_to_liquidate
from stateful import run_machine

MAX_UINT256 = 2**256 - 1
PROTOCOL_FEE_BPS = 1_000
# (rules, receiveAToken) of a liquidation. Hypothesis favours small draws (the first element, False),
# so each liquidation takes the next combination after a drawn offset: all four come up.
COMBINATIONS = [(V3_0, False), (V3_3, True), (V3_3, False), (V3_0, True)]


def test_random_lending_sequences_keep_the_invariants(chain, accounts, make_lending, supply, fund, deployer, lp):
    market = make_lending(18, 6)
    pool, alt, usdc, alt_feed = market.pool, market.collateral, market.debt, market.collateral_feed
    borrowers = [accounts[6], accounts[7], accounts[8]]
    liquidator = accounts[9]
    supply(market, usdc, lp, 200_000 * 10**6)
    for borrower in borrowers:
        fund(alt, borrower, 100_000 * 10**18, spender=pool)
        fund(usdc, borrower, 50_000 * 10**6, spender=pool)
    fund(usdc, liquidator, 10**12, spender=pool)
    pool.setLiquidationProtocolFee(alt, PROTOCOL_FEE_BPS, sender=deployer)
    holders = [*borrowers, lp, liquidator, deployer]  # the deployer is the treasury
    exercised = Counter()  # successful liquidations per (rules, receiveAToken), and dust reverts

    def user_reserve(user, token):
        return pool.getUserReserve(user, token)

    class LendingMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.price = 2 * USD
            self.rules = V3_0
            self.liquidations = 0

        def teardown(self):
            chain.restore(self.snapshot)  # also the rule set: V3_0 again

        @initialize(shares_bps=st.lists(st.integers(5_000, 10_000), min_size=3, max_size=3))
        def open_leveraged_positions(self, shares_bps):
            """Every example starts with each borrower levered to 50–100% of its borrowing power."""
            for borrower, share_bps in zip(borrowers, shares_bps):
                pool.supply(alt, 10_000 * 10**18, borrower, sender=borrower)
                available_base = pool.getUserAccountData(borrower)[2]
                pool.borrow(usdc, available_base * share_bps // 10_000 // 100, sender=borrower)

        @rule(borrower=st.sampled_from(borrowers), share_ppm=st.integers(1, 1_000_000))
        def supply_collateral(self, borrower, share_ppm):
            amount = alt.balanceOf(borrower) * share_ppm // 1_000_000
            if amount:
                pool.supply(alt, amount, borrower, sender=borrower)

        @rule(borrower=st.sampled_from(borrowers), share_bps=st.integers(1, 10_000))
        def borrow(self, borrower, share_bps):
            available_base = pool.getUserAccountData(borrower)[2]
            cash = pool.getReserveData(usdc).cash
            amount = min(available_base * share_bps // 10_000 // 100, cash)  # USD (8 dec) to USDC (6 dec)
            if amount:
                pool.borrow(usdc, amount, sender=borrower)

        @rule(borrower=st.sampled_from(borrowers), share_bps=st.integers(1, 10_000))
        def repay(self, borrower, share_bps):
            debt = user_reserve(borrower, usdc)[1]
            amount = min(debt * share_bps // 10_000, usdc.balanceOf(borrower))
            if amount:
                pool.repay(usdc, amount, borrower, sender=borrower)

        @rule(borrower=st.sampled_from(borrowers), share_bps=st.integers(1, 10_000))
        def withdraw(self, borrower, share_bps):
            amount = user_reserve(borrower, alt)[0] * share_bps // 10_000
            if not amount:
                return
            try:
                pool.withdraw(alt, amount, borrower, sender=borrower)
            except ape.exceptions.ContractLogicError as error:
                assert "HealthFactorBelowOne" in repr(error) or "HealthFactorBelowOne" in str(type(error))
                return
            assert pool.getUserAccountData(borrower)[5] >= WAD

        @rule(factor_bps=st.integers(3_000, 13_000))
        def move_price(self, factor_bps):
            self.price = max(USD // 100, self.price * factor_bps // 10_000)
            alt_feed.setAnswer(self.price, sender=deployer)

        @rule(
            borrower=st.sampled_from(borrowers),
            target_hf_bps=st.integers(8_000, 10_100),
            # Large shares too: they leave v3.3 dust or repay everything.
            share_bps=st.one_of(st.integers(1, 10_000), st.sampled_from([9_000, 9_300, 9_600, 9_900, 10_000])),
            combination=st.integers(0, len(COMBINATIONS) - 1),
        )
        def liquidate(self, borrower, target_hf_bps, share_bps, combination):
            """Moves the price to bring `borrower` to about `target_hf_bps` (mostly below 1, below
            0.84 the bonus exceeds the collateral: deficits), then liquidates `share_bps` of its debt
            under v3.0 or v3.3 rules, paid in tokens or in a supply claim (receiveAToken)."""
            rules, receive_a_token = COMBINATIONS[(combination + self.liquidations) % len(COMBINATIONS)]
            self.liquidations += 1
            collateral = user_reserve(borrower, alt)[0]
            debt = user_reserve(borrower, usdc)[1]
            if collateral and debt:  # HF = collateral × price × LT / debt, solved for the price
                debt_base = debt * USD // 10**6
                self.price = max(1, target_hf_bps * debt_base * 10**18 // (M.COLLATERAL_LT_BPS * collateral))
                alt_feed.setAnswer(self.price, sender=deployer)
            if rules != self.rules:
                pool.setLiquidationRules(rules, sender=deployer)
                self.rules = rules
            health_factor_wad = pool.getUserAccountData(borrower)[5]
            cover = max(1, debt * share_bps // 10_000)
            if health_factor_wad >= WAD:
                with ape.reverts(pool.HealthFactorNotBelowThreshold, healthFactorWad=health_factor_wad):
                    pool.liquidationCall(alt, usdc, borrower, cover, receive_a_token, sender=liquidator)
                return
            # No interest is configured: balances are exact and the rules predict every wei.
            assert health_factor_wad == health_factor([(collateral, self.price, 18, M.COLLATERAL_LT_BPS)], [(debt, USD, 6)])
            max_debt = max_debt_to_liquidate(self.rules, debt, collateral, health_factor_wad, USD, 6, self.price, 18)
            seized, repaid, fee = liquidation(
                min(cover, max_debt), collateral, USD, 6, self.price, 18, M.COLLATERAL_BONUS_BPS, PROTOCOL_FEE_BPS
            )
            dust = dust_left(debt, repaid, collateral, seized, USD, 6, self.price, 18) if self.rules == V3_3 else None
            if dust is not None:
                with ape.reverts(pool.MustNotLeaveDust, debtLeftBase=dust[0], collateralLeftBase=dust[1]):
                    pool.liquidationCall(alt, usdc, borrower, cover, receive_a_token, sender=liquidator)
                exercised["dust"] += 1
                return
            claim_before, tokens_before = user_reserve(liquidator, alt)[0], alt.balanceOf(liquidator)
            fee_before, deficit_before = user_reserve(deployer, alt)[0], pool.getReserveDeficit(usdc)
            pool.liquidationCall(alt, usdc, borrower, cover, receive_a_token, sender=liquidator)
            exercised[(rules, receive_a_token)] += 1
            received = seized - fee
            assert user_reserve(liquidator, alt)[0] == claim_before + (received if receive_a_token else 0)
            assert alt.balanceOf(liquidator) == tokens_before + (0 if receive_a_token else received)
            assert user_reserve(deployer, alt)[0] == fee_before + fee
            assert user_reserve(borrower, alt)[0] == collateral - seized
            written_off = debt - repaid if seized == collateral else 0  # no collateral left: a deficit
            assert user_reserve(borrower, usdc)[1] == debt - repaid - written_off
            assert pool.getReserveDeficit(usdc) == deficit_before + written_off

        @invariant()
        def balances_equal_accounting(self):
            collateral, debt, _ = pool.accountsOf(holders)  # index i * 2 + j: holder i, reserve j
            for j, token in enumerate((alt, usdc)):  # the order of getReservesList()
                reserve = pool.getReserveData(token)
                assert token.balanceOf(pool) == reserve.cash
                # With no interest configured every conversion is exact: what suppliers are owed is
                # the cash, what borrowers owe, and what was written off.
                assert reserve.totalSupplied == reserve.cash + reserve.totalDebt + reserve.deficit
                assert sum(collateral[j::2]) == reserve.totalSupplied
                assert sum(debt[j::2]) == reserve.totalDebt
                scaled = [pool.getUserScaledReserve(h, token) for h in holders]
                assert [sum(b[0] for b in scaled), sum(b[1] for b in scaled)] == list(pool.getReserveScaledTotals(token))
                # No token appears or vanishes: every unit minted is in a wallet or in the pool.
                assert sum(token.balanceOf(h) for h in holders) + token.balanceOf(pool) == token.totalSupply()

    run_machine(LendingMachine, max_examples=15, steps=15)
    # The examples must have reached what this test claims to cover.
    assert all(exercised[(rules, receive)] for rules in (V3_0, V3_3) for receive in (False, True)), exercised
    assert exercised["dust"], exercised
