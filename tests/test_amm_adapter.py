"""sim.amm.PoolAdapter trades the same through a pool's swapExactIn and through the bare V2 path."""

import pytest

from pool_math import expected_amount_out, reserves_of
from sim.amm import PoolAdapter, SlippageError, amount_out


def test_python_formula_matches_the_rule():
    for amount_in in [1, 10**6, 12_345_678_901, 10**24]:
        assert amount_out(amount_in, 10**24, 5 * 10**12, 30) == expected_amount_out(amount_in, 10**24, 5 * 10**12, 30)
    with pytest.raises(ValueError):
        amount_out(0, 1, 1, 30)


@pytest.mark.parametrize("use_swap_exact_in", [True, False], ids=["swapExactIn", "v2-transfer-then-swap"])
def test_adapter_swaps_exactly_the_quote(make_pool, fund, trader, use_swap_exact_in):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18, 30)
    adapter = PoolAdapter.from_contract(pool)
    assert adapter.fee_bps == 30 and adapter.has_swap_exact_in
    adapter.has_swap_exact_in = use_swap_exact_in  # the second case is how a real V2 pair is traded
    for token_in, token_out, amount_in in [(alt, usdc, 10_000 * 10**18), (usdc, alt, 33_333 * 10**6 + 3)]:
        reserve_in, reserve_out = reserves_of(pool, token_in)
        expected = expected_amount_out(amount_in, reserve_in, reserve_out, 30)
        assert adapter.quote(token_in, amount_in) == expected
        fund(token_in, trader, amount_in)
        before = token_out.balanceOf(trader)
        assert adapter.swap_exact_in(trader, token_in, amount_in, expected) == expected
        assert token_out.balanceOf(trader) - before == expected


def test_v2_path_checks_slippage_before_sending(make_pool, fund, trader):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18, 30)
    adapter = PoolAdapter.from_contract(pool)
    adapter.has_swap_exact_in = False
    fund(alt, trader, 10**18)
    quoted = adapter.quote(alt, 10**18)
    with pytest.raises(SlippageError) as raised:
        adapter.swap_exact_in(trader, alt, 10**18, quoted + 1)
    assert (raised.value.amount_out, raised.value.min_amount_out) == (quoted, quoted + 1)
    assert alt.balanceOf(trader) == 10**18


def test_unknown_token_is_named(make_pool, make_token):
    pool, _, _ = make_pool(6, 18, 10**12, 10**24)
    other = make_token("OTHER", 18)
    with pytest.raises(ValueError, match=other.address):
        PoolAdapter.from_contract(pool).quote(other, 1)
