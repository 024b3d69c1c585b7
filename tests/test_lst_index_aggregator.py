"""LstIndexAggregator: a liquid staking token's collateral index, w × pool spot + (1 − w) × rate ×
underlying, every expectation computed from that rule here; a dump on the thin pool moves the
index by w times the de-peg, as wBETH's did on 10 October 2025."""

import ape
import pytest

USD = 10**8
WAD = 10**18
BPS = 10_000
ETH_USD8 = 3_800_12345678  # every digit used
RATE_WAD = 1_070_000_000_000_000_123  # 1 wBETH redeems for a little over 1.07 ETH
W_BETH_BPS = 2_000  # Binance's weight on wBETH's own market
LST_RESERVE = 500 * 10**18  # a thin pool: about $2M a side
USDC_RESERVE = 2_033_000 * 10**6


def spot_usd8(reserve_usdc: int, reserve_lst: int) -> int:
    """USDC per LST in whole tokens, USD 8 decimals, rounded down (a $1 quote)."""
    return reserve_usdc * 10**18 * USD // (reserve_lst * 10**6)


def redemption_usd8(underlying8: int, rate_wad: int, feed_decimals: int = 8) -> int:
    return underlying8 * rate_wad * USD // (WAD * 10**feed_decimals)


def index_usd8(spot8: int, redeem8: int, weight_bps: int) -> int:
    return (spot8 * weight_bps + redeem8 * (BPS - weight_bps)) // BPS


@pytest.fixture
def lst_market(project, deployer, make_pool):
    pool, lst, usdc = make_pool(18, 6, LST_RESERVE, USDC_RESERVE)
    eth_feed = project.MockAggregator.deploy(8, "ETH / USD", ETH_USD8, sender=deployer)
    return pool, lst, usdc, eth_feed


def deploy_index(project, deployer, pool, lst, eth_feed, weight_bps=W_BETH_BPS, rate_wad=RATE_WAD):
    return project.LstIndexAggregator.deploy(pool, lst, ape.utils.ZERO_ADDRESS, eth_feed, weight_bps, rate_wad,
                                             "wBETH / USD (collateral index)", sender=deployer)


def test_the_index_blends_the_pool_spot_with_the_redemption_value(project, deployer, lst_market):
    pool, lst, _, eth_feed = lst_market
    oracle = deploy_index(project, deployer, pool, lst, eth_feed)
    spot, redeem = spot_usd8(USDC_RESERVE, LST_RESERVE), redemption_usd8(ETH_USD8, RATE_WAD)
    assert oracle.spotPrice() == spot and oracle.redemptionPrice() == redeem
    assert oracle.latestRoundData()[1] == oracle.latestAnswer() == index_usd8(spot, redeem, W_BETH_BPS)
    assert oracle.decimals() == 8 and oracle.spotWeightBps() == W_BETH_BPS and oracle.rateWad() == RATE_WAD


def test_a_dump_on_the_thin_pool_moves_the_index_by_the_weight_times_the_de_peg(project, deployer, lst_market, fund, trader):
    """wBETH at $430 on its own market against about $4,066 of ETH it redeems for: the index falls by
    a fifth of that gap, the spot price by all of it."""
    pool, lst, _, eth_feed = lst_market
    oracle = deploy_index(project, deployer, pool, lst, eth_feed)
    before = oracle.latestRoundData()[1]
    dumped = 1_000 * 10**18  # three times the pool's LST reserve
    fund(lst, trader, dumped, spender=pool)
    pool.swapExactIn(lst, dumped, 0, trader, sender=trader)
    reserve0, reserve1, _ = pool.getReserves()
    reserve_lst, reserve_usdc = (reserve0, reserve1) if pool.token0() == lst.address else (reserve1, reserve0)
    spot, redeem = spot_usd8(reserve_usdc, reserve_lst), redemption_usd8(ETH_USD8, RATE_WAD)
    after = oracle.latestRoundData()[1]
    assert after == index_usd8(spot, redeem, W_BETH_BPS)
    assert spot < redeem // 4  # a de-peg of more than 75% on the pool
    assert before - after == pytest.approx(W_BETH_BPS / BPS * (spot_usd8(USDC_RESERVE, LST_RESERVE) - spot), abs=2)


@pytest.mark.parametrize("weight_bps", [0, BPS])
def test_the_weights_at_their_ends_give_the_redemption_value_or_the_pool_spot(project, deployer, lst_market, weight_bps):
    pool, lst, _, eth_feed = lst_market
    oracle = deploy_index(project, deployer, pool, lst, eth_feed, weight_bps=weight_bps)
    pool_spot = project.PoolSpotAggregator.deploy(pool, lst, ape.utils.ZERO_ADDRESS, "wBETH / USD (pool spot)", sender=deployer)
    expected = pool_spot.latestRoundData()[1] if weight_bps == BPS else redemption_usd8(ETH_USD8, RATE_WAD)
    assert oracle.latestRoundData()[1] == expected


@pytest.mark.parametrize("feed_decimals, eth_answer", [(18, 3_800_123456789012345678), (6, 3_800_123456)])
def test_an_underlying_feed_of_other_decimals_is_scaled(project, deployer, make_pool, feed_decimals, eth_answer):
    pool, lst, _ = make_pool(18, 6, LST_RESERVE, USDC_RESERVE)
    feed = project.MockAggregator.deploy(feed_decimals, "ETH / USD", eth_answer, sender=deployer)
    oracle = deploy_index(project, deployer, pool, lst, feed)
    assert oracle.redemptionPrice() == redemption_usd8(eth_answer, RATE_WAD, feed_decimals)


def test_the_index_is_as_stale_as_its_stalest_input(project, deployer, lst_market, chain):
    pool, lst, _, eth_feed = lst_market
    fed_at = chain.blocks.head.timestamp
    oracle = deploy_index(project, deployer, pool, lst, eth_feed)
    chain.mine(timestamp=fed_at + 900)
    _, _, started_at, updated_at, _ = oracle.latestRoundData()
    assert started_at == updated_at == fed_at  # the $1 quote is "now"; the ETH feed is 900 s old


def test_only_the_owner_moves_the_rate_and_never_to_zero(project, deployer, lst_market, stranger):
    pool, lst, _, eth_feed = lst_market
    oracle = deploy_index(project, deployer, pool, lst, eth_feed)
    with ape.reverts(oracle.OwnableUnauthorizedAccount, account=stranger.address):
        oracle.setExchangeRate(WAD, sender=stranger)
    with ape.reverts(oracle.InvalidExchangeRate, rateWad=0):
        oracle.setExchangeRate(0, sender=deployer)
    receipt = oracle.setExchangeRate(1_080_000_000_000_000_000, sender=deployer)
    assert [log.rateWad for log in receipt.decode_logs(oracle.ExchangeRateSet)] == [1_080_000_000_000_000_000]
    assert oracle.redemptionPrice() == redemption_usd8(ETH_USD8, 1_080_000_000_000_000_000)


def test_bad_parameters_and_a_bad_underlying_price_are_refused(project, deployer, lst_market):
    pool, lst, _, eth_feed = lst_market
    contract = project.LstIndexAggregator
    with ape.reverts(contract.InvalidSpotWeight, spotWeightBps=BPS + 1):
        deploy_index(project, deployer, pool, lst, eth_feed, weight_bps=BPS + 1)
    with ape.reverts(contract.InvalidExchangeRate, rateWad=0):
        deploy_index(project, deployer, pool, lst, eth_feed, rate_wad=0)
    oracle = deploy_index(project, deployer, pool, lst, eth_feed)
    eth_feed.setAnswer(0, sender=deployer)
    with ape.reverts(oracle.InvalidUnderlyingPrice, underlyingAggregator=eth_feed.address, answer=0):
        oracle.latestRoundData()
