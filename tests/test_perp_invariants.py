"""Stateful property test of the PerpExchange: random opens, closes, margin changes, index moves,
funding and liquidations. After every step

* the vAMM's net position equals total long size minus total short size, and the stored open
  interest equals the sum of the positions;
* the exchange's tokens cover every position's withdrawable equity plus the insurance fund, short
  of exactly the bad debt it has recorded: in a snapshot, each position in turn is liquidated if
  liquidatable and closed otherwise, the recorded bad debt is paid in, every payout is paid, and
  what is left is at least the insurance fund.
"""

import ape
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import PerpMarket as P
from perp_math import WAD
from stateful import run_machine

ALLOWED_REFUSALS = (
    "CloseWouldBeBankrupt",
    "MarginRatioBelowInitial",
    "InsufficientMargin",
    "PositionBankrupt",
    "InsufficientVirtualLiquidity",
    "DirectionMismatch",
    "OpensLiquidatable",
)


def refused_for_a_stated_reason(error) -> bool:
    text = f"{type(error).__name__} {error!r}"
    return any(name in text for name in ALLOWED_REFUSALS)


def test_random_perp_sequences_keep_the_invariants(chain, accounts, make_perp, fund, deployer):
    pm = make_perp(10)
    ex, usdc, feed = pm.exchange, pm.usdc, pm.index_feed
    traders = [accounts[6], accounts[7], accounts[8], accounts[9]]
    keeper = accounts[5]
    interval = 600
    ex.setFundingParams(pm.id, interval, WAD // 2, WAD // 100, sender=deployer)
    fund(usdc, deployer, 500 * pm.unit, spender=ex)
    ex.fundInsurance(500 * pm.unit, sender=deployer)  # a thin fund, so ADL and bad debt happen
    for trader in traders:
        fund(usdc, trader, 1_000_000 * pm.unit, spender=ex)

    def size_of(trader):
        return ex.getPosition(trader, pm.id)[0]

    class PerpMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.index8 = 2 * 10**8
            self.clock = chain.blocks.head.timestamp

        def teardown(self):
            chain.restore(self.snapshot)

        @initialize(leverages_tenths=st.lists(st.integers(50, 100), min_size=4, max_size=4), source=st.sampled_from([0, 1]))
        def open_levered_books(self, leverages_tenths, source):
            """Every example starts with two levered longs and two levered shorts, margined at the
            mark or at the index."""
            ex.setMarginPriceSource(pm.id, source, sender=deployer)
            for i, (trader, leverage) in enumerate(zip(traders, leverages_tenths)):
                is_long = i % 2 == 0
                self.attempt(lambda: ex.openPosition(pm.id, is_long, 20_000 * pm.unit, leverage * WAD // 10, 0, sender=trader))

        def attempt(self, action):
            try:
                action()
            except ape.exceptions.ContractLogicError as error:
                assert refused_for_a_stated_reason(error), repr(error)

        @rule(trader=st.sampled_from(traders), is_long=st.booleans(), margin=st.integers(50, 100_000), leverage_tenths=st.integers(5, 100))
        def open(self, trader, is_long, margin, leverage_tenths):
            self.attempt(lambda: ex.openPosition(pm.id, is_long, margin * pm.unit, leverage_tenths * WAD // 10, 0, sender=trader))

        @rule(trader=st.sampled_from(traders))
        def close(self, trader):
            if size_of(trader) != 0:
                self.attempt(lambda: ex.closePosition(pm.id, 0, sender=trader))

        @rule(trader=st.sampled_from(traders), amount=st.integers(1, 5_000), add=st.booleans())
        def change_margin(self, trader, amount, add):
            if size_of(trader) == 0:
                return
            call = ex.addMargin if add else ex.removeMargin
            self.attempt(lambda: call(pm.id, amount * pm.unit, sender=trader))

        @rule(factor_bps=st.integers(5_000, 15_000))
        def move_index(self, factor_bps):
            self.index8 = max(10**6, self.index8 * factor_bps // 10_000)
            feed.setAnswer(self.index8, sender=deployer)

        @rule()
        def settle_funding(self):
            self.clock = max(self.clock, chain.blocks.head.timestamp) + interval
            chain.pending_timestamp = self.clock
            ex.settleFunding(pm.id, sender=keeper)

        @rule(source=st.sampled_from([0, 1]))
        def set_margin_price_source(self, source):
            ex.setMarginPriceSource(pm.id, source, sender=deployer)

        @rule()
        def liquidate(self):
            """A keeper liquidates whoever is liquidatable; a healthy position is refused."""
            for trader in traders:
                if size_of(trader) == 0:
                    continue
                if ex.isLiquidatable(trader, pm.id):
                    ex.liquidate(trader, pm.id, sender=keeper)
                    assert size_of(trader) == 0
                else:
                    with ape.reverts(ex.NotLiquidatable):
                        ex.liquidate(trader, pm.id, sender=keeper)

        @invariant()
        def open_interest_matches_the_vamm(self):
            market = ex.getMarket(pm.id)
            sizes = [size_of(t) for t in traders]
            assert market.longBase == sum(s for s in sizes if s > 0)
            assert market.shortBase == -sum(s for s in sizes if s < 0)
            assert P.V_BASE - market.vBase == market.longBase - market.shortBase

        @invariant()
        def tokens_cover_equity_and_insurance(self):
            snapshot = chain.snapshot()
            covered = 0  # bad debt is what the exchange owes beyond what it holds: cover exactly that
            try:
                for trader in traders:  # each exit moves the vAMM: decide just before each one
                    if size_of(trader) == 0:
                        continue
                    if ex.isLiquidatable(trader, pm.id):
                        ex.liquidate(trader, pm.id, sender=keeper)
                        continue
                    if ex.badDebt() > covered:
                        usdc.mint(ex, ex.badDebt() - covered, sender=deployer)
                        covered = ex.badDebt()
                    ex.closePosition(pm.id, 0, sender=trader)  # every payout is paid
                assert all(size_of(t) == 0 for t in traders)
                if ex.badDebt() > covered:
                    usdc.mint(ex, ex.badDebt() - covered, sender=deployer)
                assert usdc.balanceOf(ex) >= ex.insuranceFund()
            finally:
                chain.restore(snapshot)

    run_machine(PerpMachine, max_examples=10, steps=20)
