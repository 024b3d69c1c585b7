"""Stateful property test: random swaps, deposits and withdrawals never lower K (per share), never
create or destroy tokens, and never pay anyone more than their pro-rata share."""

import ape
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from pool_math import expected_amount_out, later_deposit_shares
from stateful import run_machine

RESERVE_A, RESERVE_B = 2_000_000 * 10**6, 1_000_000 * 10**18
PPM = 1_000_000


def test_random_sequences_keep_the_pool_invariants(chain, make_pool, fund, lp, trader, whale):
    pool, token_a, token_b = make_pool(6, 18, RESERVE_A, RESERVE_B, 30)
    tokens = [token_a, token_b] if pool.token0() == token_a.address else [token_b, token_a]  # token0, token1
    actors = [trader, whale]
    holders = [*actors, lp, pool]
    for actor in actors:
        for token in tokens:
            fund(token, actor, 10 * (RESERVE_A if token == token_a else RESERVE_B), spender=pool)

    def reserves():
        reserve0, reserve1, _ = pool.getReserves()
        return reserve0, reserve1

    def token_totals():
        return [sum(token.balanceOf(holder) for holder in holders) for token in tokens]

    totals_at_start = token_totals()

    class PoolMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.k_per_share = (reserves()[0] * reserves()[1], pool.totalSupply())

        def teardown(self):
            chain.restore(self.snapshot)

        @rule(actor=st.sampled_from(actors), zero_for_one=st.booleans(), size_ppm=st.integers(1, 600_000))
        def swap(self, actor, zero_for_one, size_ppm):
            reserve0, reserve1 = reserves()
            token_in = tokens[0] if zero_for_one else tokens[1]
            reserve_in, reserve_out = (reserve0, reserve1) if zero_for_one else (reserve1, reserve0)
            amount_in = min(max(1, reserve_in * size_ppm // PPM), token_in.balanceOf(actor))
            if amount_in == 0:
                return
            out = expected_amount_out(amount_in, reserve_in, reserve_out, 30)
            if out == 0:
                with ape.reverts(pool.InsufficientOutputAmount):
                    pool.swapExactIn(token_in, amount_in, 0, actor, sender=actor)
                return
            k_before = reserve0 * reserve1
            pool.swapExactIn(token_in, amount_in, out, actor, sender=actor)
            reserve0, reserve1 = reserves()
            assert reserve0 * reserve1 >= k_before

        @rule(actor=st.sampled_from(actors), ppm0=st.integers(0, 300_000), ppm1=st.integers(0, 300_000))
        def deposit(self, actor, ppm0, ppm1):
            reserve0, reserve1 = reserves()
            amount0 = min(reserve0 * ppm0 // PPM, tokens[0].balanceOf(actor))
            amount1 = min(reserve1 * ppm1 // PPM, tokens[1].balanceOf(actor))
            supply = pool.totalSupply()
            shares = later_deposit_shares(amount0, amount1, reserve0, reserve1, supply)
            shares_before = pool.balanceOf(actor)
            tokens[0].transfer(pool, amount0, sender=actor)
            tokens[1].transfer(pool, amount1, sender=actor)
            if shares == 0:
                with ape.reverts(pool.InsufficientLiquidityMinted):
                    pool.mint(actor, sender=actor)
                pool.sync(sender=actor)  # the deposit becomes a donation to all holders
                return
            pool.mint(actor, sender=actor)
            assert pool.balanceOf(actor) - shares_before == shares

        @rule(actor=st.sampled_from(actors), share_ppm=st.integers(1, PPM))
        def withdraw(self, actor, share_ppm):
            shares = pool.balanceOf(actor) * share_ppm // PPM
            if shares == 0:
                return
            reserve0, reserve1 = reserves()
            supply = pool.totalSupply()
            entitled0, entitled1 = shares * reserve0 // supply, shares * reserve1 // supply
            before = [token.balanceOf(actor) for token in tokens]
            if entitled0 == 0 or entitled1 == 0:
                with ape.reverts(pool.InsufficientLiquidityBurned):
                    pool.removeLiquidity(shares, 0, 0, actor, sender=actor)
                return
            pool.removeLiquidity(shares, 0, 0, actor, sender=actor)
            received = [token.balanceOf(actor) - b for token, b in zip(tokens, before)]
            assert received == [entitled0, entitled1]

        @invariant()
        def reserves_equal_balances(self):
            assert reserves() == (tokens[0].balanceOf(pool), tokens[1].balanceOf(pool))

        @invariant()
        def k_per_share_never_decreases(self):
            k, supply = reserves()[0] * reserves()[1], pool.totalSupply()
            k_before, supply_before = self.k_per_share
            assert k * supply_before**2 >= k_before * supply**2
            self.k_per_share = (k, supply)

        @invariant()
        def nothing_created_or_destroyed(self):
            assert token_totals() == totals_at_start

    run_machine(PoolMachine, max_examples=25, steps=12)
