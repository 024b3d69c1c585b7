"""sim.amm.PoolAdapter trades the same through a pool's swapExactIn and through the bare V2 path."""

import pytest
from pool_math import expected_amount_out, reserves_of

from sim.protocol.amm import PoolAdapter, SlippageError, amount_out


def passes_k_check(amount_in, out, reserve_in, reserve_out, fee_bps):
    """The pair's rule: (balance_in·BPS − amount_in·fee)·(balance_out·BPS) ≥ reserve_in·reserve_out·BPS²."""
    adjusted_in = (reserve_in + amount_in) * 10_000 - amount_in * fee_bps
    return adjusted_in * (reserve_out - out) * 10_000 >= reserve_in * reserve_out * 10_000**2


@pytest.mark.parametrize("fee_bps", [0, 30, 9_999])
def test_python_formula_is_the_largest_output_the_k_check_accepts(fee_bps):
    for reserve_in, reserve_out in [(10**24, 5 * 10**12), (7, 10**18), (10**12, 10**12)]:
        for amount_in in [1, 999, 10**6, 12_345_678_901, 10**24]:
            out = amount_out(amount_in, reserve_in, reserve_out, fee_bps)
            assert passes_k_check(amount_in, out, reserve_in, reserve_out, fee_bps)
            assert not passes_k_check(amount_in, out + 1, reserve_in, reserve_out, fee_bps)
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


def test_v2_path_refuses_a_zero_output_before_sending(make_pool, fund, trader):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18, 30)
    adapter = PoolAdapter.from_contract(pool)
    adapter.has_swap_exact_in = False
    fund(alt, trader, 1)
    with pytest.raises(SlippageError):
        adapter.swap_exact_in(trader, alt, 1, 0)  # one wei of ALT buys nothing
    assert alt.balanceOf(trader) == 1
