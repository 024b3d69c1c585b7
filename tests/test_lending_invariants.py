"""Stateful property test of the LendingPool: random supplies, borrows, repayments, withdrawals,
price moves and liquidations. The pool's token balances always equal its accounting, nothing is
created or destroyed, no healthy account is liquidated and no withdrawal leaves HF < 1."""

import ape
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from lending_math import USD, WAD
from stateful import run_machine

MAX_UINT256 = 2**256 - 1


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
    holders = [*borrowers, lp]

    def user_reserve(user, token):
        return pool.getUserReserve(user, token)

    class LendingMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.price = 2 * USD

        def teardown(self):
            chain.restore(self.snapshot)

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

        @rule(borrower=st.sampled_from(borrowers), share_bps=st.integers(1, 10_000))
        def liquidate(self, borrower, share_bps):
            health_factor = pool.getUserAccountData(borrower)[5]
            debt = user_reserve(borrower, usdc)[1]
            cover = max(1, debt * share_bps // 10_000)
            if health_factor >= WAD:
                with ape.reverts(pool.HealthFactorNotBelowThreshold, healthFactorWad=health_factor):
                    pool.liquidationCall(alt, usdc, borrower, cover, sender=liquidator)
                return
            collateral_before = user_reserve(borrower, alt)[0]
            pool.liquidationCall(alt, usdc, borrower, cover, sender=liquidator)
            collateral_after, debt_after = user_reserve(borrower, alt)[0], user_reserve(borrower, usdc)[1]
            assert collateral_after < collateral_before
            assert debt_after < debt

        @invariant()
        def balances_equal_accounting(self):
            for token in (alt, usdc):
                reserve = pool.getReserveData(token)
                assert token.balanceOf(pool) == reserve.cash
                # With no interest configured every conversion is exact: what suppliers are owed is
                # the cash, what borrowers owe, and what was written off.
                assert reserve.totalSupplied == reserve.cash + reserve.totalDebt + reserve.deficit
                assert sum(user_reserve(h, token)[0] for h in holders) == reserve.totalSupplied
                assert sum(user_reserve(h, token)[1] for h in holders) == reserve.totalDebt

    run_machine(LendingMachine, max_examples=15, steps=15)
