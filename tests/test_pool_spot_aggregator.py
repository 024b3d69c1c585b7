"""PoolSpotAggregator: the USD price of a pool token follows the reserves, decimals handled."""

import ape
import pytest

USD = 10**8


def expected_spot(reserve_quote, reserve_base, base_decimals, quote_decimals, quote_price_usd=USD):
    """quote per base in whole tokens × the quote's USD price, in 8 decimals, rounded down."""
    return reserve_quote * 10**base_decimals * quote_price_usd // (reserve_base * 10**quote_decimals)


@pytest.mark.parametrize(
    "base_decimals,quote_decimals,reserve_base,reserve_quote",
    [
        (18, 6, 1_000_000 * 10**18, 2_000_000 * 10**6),  # ALT/USDC at $2
        (8, 6, 40 * 10**8 + 3, 2_600_000 * 10**6 + 17),  # WBTC/USDC near $65,000
        (18, 18, 3 * 10**18, 1 * 10**18 + 1),  # a dust price below one cent
        (6, 18, 7_000 * 10**6, 9_000 * 10**18),  # a 6-decimal base against an 18-decimal quote
    ],
)
def test_spot_follows_reserves(project, deployer, make_pool, fund, trader, base_decimals, quote_decimals, reserve_base, reserve_quote):
    pool, base, quote = make_pool(base_decimals, quote_decimals, reserve_base, reserve_quote)
    oracle = project.PoolSpotAggregator.deploy(pool, base, ape.utils.ZERO_ADDRESS, "B / USD", sender=deployer)
    assert oracle.decimals() == 8
    assert oracle.latestRoundData()[1] == expected_spot(reserve_quote, reserve_base, base_decimals, quote_decimals)

    sold = reserve_base // 7  # a sale moves the price; the oracle follows at once
    fund(base, trader, sold, spender=pool)
    pool.swapExactIn(base, sold, 0, trader, sender=trader)
    reserve0, reserve1, _ = pool.getReserves()
    new_base, new_quote = (reserve0, reserve1) if pool.token0() == base.address else (reserve1, reserve0)
    assert new_base == reserve_base + sold
    assert oracle.latestRoundData()[1] == expected_spot(new_quote, new_base, base_decimals, quote_decimals)
    # Chainlink's legacy getter, which Aave V3's AaveOracle reads, answers the same
    assert oracle.latestAnswer() == expected_spot(new_quote, new_base, base_decimals, quote_decimals)


@pytest.mark.parametrize(
    "feed_decimals,weth_answer",
    [(8, 3_000_12345678), (18, 3_000_123456789012345678), (6, 3_000_123456)],
)
def test_quote_priced_by_another_feed(project, deployer, make_pool, chain, feed_decimals, weth_answer):
    # ALT/WETH pool; WETH near $3,000 from feeds of 8, 18 and 6 decimals, with every digit used.
    reserve_alt, reserve_weth = 600_000 * 10**18 + 3, 400 * 10**18 + 7
    pool, alt, weth = make_pool(18, 18, reserve_alt, reserve_weth)
    weth_feed = project.MockAggregator.deploy(feed_decimals, "WETH / USD", weth_answer, sender=deployer)
    feed_time = chain.blocks.head.timestamp
    oracle = project.PoolSpotAggregator.deploy(pool, alt, weth_feed, "ALT / USD", sender=deployer)
    chain.mine(timestamp=feed_time + 500)
    _, answer, started_at, updated_at, _ = oracle.latestRoundData()
    # one rounding: reserve_weth/reserve_alt × answer/10^feed_decimals in USD with 8 decimals
    assert answer == reserve_weth * weth_answer * USD // (reserve_alt * 10**feed_decimals)
    assert started_at == updated_at == feed_time  # as stale as its quote feed


def test_bad_quote_price_and_empty_pool_revert(project, deployer, make_pool):
    pool, alt, usdc = make_pool(18, 6, 10**21, 10**9)
    feed = project.MockAggregator.deploy(8, "USDC / USD", 0, sender=deployer)
    oracle = project.PoolSpotAggregator.deploy(pool, alt, feed, "ALT / USD", sender=deployer)
    with ape.reverts(oracle.InvalidQuotePrice, quoteAggregator=feed.address, answer=0):
        oracle.latestRoundData()

    empty, token, _ = make_pool(18, 6, 0, 0)
    empty_oracle = project.PoolSpotAggregator.deploy(empty, token, ape.utils.ZERO_ADDRESS, "X / USD", sender=deployer)
    with ape.reverts(empty_oracle.EmptyPool, pool=empty.address, reserve0=0, reserve1=0):
        empty_oracle.latestRoundData()


def test_token_not_in_pool_is_refused(project, deployer, make_pool, make_token):
    pool, _, _ = make_pool(18, 6, 10**21, 10**9)
    stranger_token = make_token("NOPE", 18)
    contract = project.PoolSpotAggregator
    with ape.reverts(contract.TokenNotInPool, token=stranger_token.address, pool=pool.address):
        contract.deploy(pool, stranger_token, ape.utils.ZERO_ADDRESS, "NOPE / USD", sender=deployer)


def test_only_the_current_round_is_served(project, deployer, make_pool, chain):
    pool, alt, _ = make_pool(18, 6, 10**21, 10**9)
    oracle = project.PoolSpotAggregator.deploy(pool, alt, ape.utils.ZERO_ADDRESS, "ALT / USD", sender=deployer)
    round_id = oracle.latestRoundData()[0]
    assert oracle.getRoundData(round_id) == oracle.latestRoundData()
    with ape.reverts(oracle.RoundNotFound, roundId=round_id - 1):
        oracle.getRoundData(round_id - 1)
