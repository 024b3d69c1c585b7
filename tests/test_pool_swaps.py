"""Swaps: exact outputs against the constant-product formula, the K check, and every swap error."""

import ape
import pytest
from pool_math import expected_amount_out, reserves_of

# (decimals of token A, decimals of token B): a 6-decimal stablecoin against an 18-decimal alt,
# two 18-decimal tokens, and an 8-decimal WBTC-like token against a 6-decimal stablecoin.
DECIMAL_PAIRS = [(6, 18), (18, 18), (8, 6)]
FEES_BPS = [0, 30, 100]


def seeded_reserves(decimals_a, decimals_b):
    """$2M per side: 2,000,000 A at $1 and 1,000,000 B at $2, in native units."""
    return 2_000_000 * 10**decimals_a, 1_000_000 * 10**decimals_b


def trade_sizes(decimals):
    """One native unit, a small trade, 1% and 25% of a 1,000,000-unit reserve."""
    return [1, 37 * 10**decimals, 10_000 * 10**decimals + 12_345, 250_000 * 10**decimals]


@pytest.mark.parametrize("fee_bps", FEES_BPS)
@pytest.mark.parametrize("decimals_a,decimals_b", DECIMAL_PAIRS)
def test_swap_table_matches_formula_to_the_wei(make_pool, fund, trader, decimals_a, decimals_b, fee_bps):
    reserve_a, reserve_b = seeded_reserves(decimals_a, decimals_b)
    pool, token_a, token_b = make_pool(decimals_a, decimals_b, reserve_a, reserve_b, fee_bps)
    model = {token_a.address: reserve_a, token_b.address: reserve_b}
    for token_in, token_out, decimals_in in ((token_a, token_b, decimals_a), (token_b, token_a, decimals_b)):
        for amount_in in trade_sizes(decimals_in):
            expected = expected_amount_out(amount_in, model[token_in.address], model[token_out.address], fee_bps)
            assert pool.getAmountOut(token_in, amount_in) == expected
            fund(token_in, trader, amount_in, spender=pool)
            if expected == 0:
                with ape.reverts(pool.InsufficientOutputAmount):
                    pool.swapExactIn(token_in, amount_in, 0, trader, sender=trader)
                token_in.transfer(pool, amount_in, sender=trader)  # leave the unit as a donation
                pool.sync(sender=trader)
                model[token_in.address] += amount_in
                continue
            balance_before = token_out.balanceOf(trader)
            pool.swapExactIn(token_in, amount_in, expected, trader, sender=trader)
            assert token_out.balanceOf(trader) - balance_before == expected
            model[token_in.address] += amount_in
            model[token_out.address] -= expected
            assert reserves_of(pool, token_in) == (model[token_in.address], model[token_out.address])


@pytest.mark.parametrize("fee_bps", [0, 30])
def test_k_check_accepts_the_formula_output_and_refuses_one_wei_more(make_pool, fund, trader, fee_bps):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18, fee_bps)
    amount_in = 12_345 * 10**6 + 678
    out = expected_amount_out(amount_in, 2_000_000 * 10**6, 1_000_000 * 10**18, fee_bps)
    alt_is_token0 = pool.token0() == alt.address
    fund(usdc, trader, amount_in)
    usdc.transfer(pool, amount_in, sender=trader)

    too_much = (out + 1, 0) if alt_is_token0 else (0, out + 1)
    with ape.reverts(pool.KInvariantViolated):
        pool.swap(*too_much, trader, b"", sender=trader)

    exact = (out, 0) if alt_is_token0 else (0, out)
    pool.swap(*exact, trader, b"", sender=trader)
    assert alt.balanceOf(trader) == out


def test_swap_emits_v2_swap_event(make_pool, fund, trader):
    pool, usdc, alt = make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18)
    amount_in = 5_000 * 10**18
    out = expected_amount_out(amount_in, 1_000_000 * 10**18, 2_000_000 * 10**6, 30)
    fund(alt, trader, amount_in, spender=pool)
    receipt = pool.swapExactIn(alt, amount_in, 0, trader, sender=trader)
    (event,) = receipt.decode_logs(pool.Swap)
    alt_is_token0 = pool.token0() == alt.address
    assert (event.amount0In, event.amount1In) == ((amount_in, 0) if alt_is_token0 else (0, amount_in))
    assert (event.amount0Out, event.amount1Out) == ((0, out) if alt_is_token0 else (out, 0))
    assert event.to == trader.address


def test_tokens_are_sorted_by_address(project, deployer, make_token):
    token_x, token_y = make_token("X", 18), make_token("Y", 6)
    pool = project.ConstantProductPool.deploy(token_y, token_x, 30, sender=deployer)
    low, high = sorted([token_x.address, token_y.address], key=lambda a: int(a, 16))
    assert (pool.token0(), pool.token1()) == (low, high)


class TestSwapErrors:
    @pytest.fixture
    def pool_and_tokens(self, make_pool):
        return make_pool(6, 18, 2_000_000 * 10**6, 1_000_000 * 10**18)

    def test_zero_input_is_refused(self, pool_and_tokens, trader):
        pool, usdc, _ = pool_and_tokens
        with ape.reverts(pool.ZeroAmount):
            pool.swapExactIn(usdc, 0, 0, trader, sender=trader)
        with ape.reverts(pool.ZeroAmount):
            pool.getAmountOut(usdc, 0)

    def test_missed_slippage_limit_reports_both_amounts(self, pool_and_tokens, fund, trader):
        pool, usdc, alt = pool_and_tokens
        amount_in = 1_000 * 10**6
        out = expected_amount_out(amount_in, 2_000_000 * 10**6, 1_000_000 * 10**18, 30)
        fund(usdc, trader, amount_in, spender=pool)
        with ape.reverts(pool.SlippageExceeded, amountOut=out, minAmountOut=out + 1):
            pool.swapExactIn(usdc, amount_in, out + 1, trader, sender=trader)
        assert usdc.balanceOf(trader) == amount_in

    def test_unknown_token_is_named(self, pool_and_tokens, make_token, trader):
        pool, _, _ = pool_and_tokens
        other = make_token("OTHER", 18)
        with ape.reverts(pool.UnknownToken, token=other.address):
            pool.swapExactIn(other, 10**18, 0, trader, sender=trader)
        with ape.reverts(pool.UnknownToken, token=other.address):
            pool.getAmountOut(other, 10**18)

    def test_swap_without_output_or_input(self, pool_and_tokens, trader):
        pool, _, _ = pool_and_tokens
        with ape.reverts(pool.InsufficientOutputAmount):
            pool.swap(0, 0, trader, b"", sender=trader)
        with ape.reverts(pool.InsufficientInputAmount):
            pool.swap(1, 0, trader, b"", sender=trader)

    def test_output_must_be_below_reserve(self, pool_and_tokens, trader):
        pool, _, _ = pool_and_tokens
        reserve0, reserve1, _ = pool.getReserves()
        with ape.reverts(pool.InsufficientLiquidity):
            pool.swap(reserve0, 0, trader, b"", sender=trader)

    def test_recipient_cannot_be_a_pool_token(self, pool_and_tokens, trader):
        pool, usdc, _ = pool_and_tokens
        with ape.reverts(pool.InvalidRecipient, to=usdc.address):
            pool.swap(1, 1, usdc, b"", sender=trader)

    def test_constructor_checks(self, project, accounts, make_token):
        token = make_token("T", 18)
        other = make_token("U", 18)
        contract = project.ConstantProductPool
        # Sent by an account that creates no other contract: Ape keeps the contract type of every
        # address it saw created, and the deployer's nonces repeat after each test's snapshot is
        # restored, so a reverted creation from the deployer could be decoded with the ABI of
        # whatever an earlier test created at that address.
        builder = accounts[9]
        with ape.reverts(contract.IdenticalTokens, token=token.address):
            contract.deploy(token, token, 30, sender=builder)
        with ape.reverts(contract.ZeroAddress):
            contract.deploy(token, "0x" + "00" * 20, 30, sender=builder)
        with ape.reverts(contract.FeeTooHigh, feeBps=10_000, maxFeeBps=9_999):
            contract.deploy(token, other, 10_000, sender=builder)
