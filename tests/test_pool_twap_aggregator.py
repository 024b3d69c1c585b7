"""PoolTwapAggregator: the answer is the time-weighted mean price over the window, computed here by
integrating a scripted price path by hand."""

import ape
import pytest
from pool_math import Q112, uq112_price

WINDOW_S = 120
BLOCK_S = 12
SALE_OFFSET_S = 5  # swaps land between keeper updates
RESERVE_ALT, RESERVE_USDC = 1_000_000 * 10**18, 2_000_000 * 10**6
# block index -> ALT sold (positive) or bought with USDC (negative, in USDC units)
SCRIPT = {3: 80_000 * 10**18, 7: -50_000 * 10**6, 8: 120_000 * 10**18, 15: -300_000 * 10**6 - 1}
KEEPER_BLOCKS = 21


def integral(price_path, start, end):
    """∫ price dt over [start, end] for a step path [(from_time, price), ...] sorted by time."""
    total = 0
    for (t_from, price), (t_next, _) in zip(price_path, price_path[1:] + [(float("inf"), None)]):
        low, high = max(t_from, start), min(t_next, end)
        if high > low:
            total += price * (high - low)
    return total


def to_usd(price_q112):
    """Raw USDC per raw ALT (UQ112x112) as USD per ALT with 8 decimals, rounded down."""
    return price_q112 * 10**18 * 10**8 // (Q112 * 10**6)


def tokens_in_order(make_token, alt_is_token0):
    """A fresh ALT (18 decimals) and USDC (6) whose address order puts ALT where asked, so both of
    the pool's accumulators (price0 and price1) get tested."""
    while True:
        alt, usdc = make_token("ALT", 18), make_token("USDC", 6)
        if (int(alt.address, 16) < int(usdc.address, 16)) == alt_is_token0:
            return alt, usdc


@pytest.fixture(params=[True, False], ids=["alt-is-token0", "alt-is-token1"])
def scripted(request, project, deployer, make_token, fund, lp, trader, keeper, chain):
    """Run the script: keeper updates every BLOCK_S, swaps between. Returns (twap, price path, keeper times)."""
    alt, usdc = tokens_in_order(make_token, request.param)
    pool = project.ConstantProductPool.deploy(alt, usdc, 30, sender=deployer)
    assert (pool.token0() == alt.address) == request.param
    alt.mint(pool, RESERVE_ALT, sender=deployer)
    usdc.mint(pool, RESERVE_USDC, sender=deployer)
    pool.mint(lp, sender=lp)
    twap = project.PoolTwapAggregator.deploy(pool, alt, ape.utils.ZERO_ADDRESS, WINDOW_S, 64, "ALT / USD TWAP", sender=deployer)
    fund(alt, trader, 10**30, spender=pool)
    fund(usdc, trader, 10**18, spender=pool)

    def alt_price():
        reserve0, reserve1, _ = pool.getReserves()
        reserve_alt, reserve_usdc = (reserve0, reserve1) if pool.token0() == alt.address else (reserve1, reserve0)
        return uq112_price(reserve_usdc, reserve_alt)

    price_path = [(0, alt_price())]
    keeper_times = []
    t0 = chain.blocks.head.timestamp + 100
    for block in range(KEEPER_BLOCKS):
        chain.pending_timestamp = t0 + block * BLOCK_S
        twap.update(sender=keeper)
        keeper_times.append(t0 + block * BLOCK_S)
        if block in SCRIPT:
            chain.pending_timestamp = t0 + block * BLOCK_S + SALE_OFFSET_S
            amount = SCRIPT[block]
            token_in = alt if amount > 0 else usdc
            pool.swapExactIn(token_in, abs(amount), 0, trader, sender=trader)
            price_path.append((t0 + block * BLOCK_S + SALE_OFFSET_S, alt_price()))
    return twap, price_path, keeper_times


def test_twap_equals_hand_computed_mean_over_exact_window(scripted):
    twap, price_path, keeper_times = scripted
    # Read at the last keeper block: an observation sits exactly WINDOW_S earlier.
    _, answer, started_at, now, _ = twap.latestRoundData()
    assert now == keeper_times[-1]
    assert started_at == now - WINDOW_S
    expected_average = integral(price_path, now - WINDOW_S, now) // WINDOW_S
    assert twap.consult() == (expected_average, now - WINDOW_S)
    assert answer == to_usd(expected_average)
    assert twap.latestAnswer() == to_usd(expected_average)  # the legacy getter AaveOracle reads
    # The script moved the price inside the window, so the TWAP is not the spot price.
    assert expected_average != price_path[-1][1]


def test_twap_period_starts_at_newest_observation_before_window(scripted, chain):
    twap, price_path, keeper_times = scripted
    chain.mine(timestamp=keeper_times[-1] + 30)  # no keeper update for 30 s
    now = chain.blocks.head.timestamp
    _, answer, started_at, updated_at, _ = twap.latestRoundData()
    assert updated_at == keeper_times[-1]  # the newest observation: a stalled keeper shows
    start = max(t for t in keeper_times if t <= now - WINDOW_S)
    assert start < now - WINDOW_S
    assert started_at == start
    assert answer == to_usd(integral(price_path, start, now) // (now - start))


def test_twap_converges_to_spot_after_a_quiet_window(scripted, chain):
    twap, price_path, keeper_times = scripted
    last_move = price_path[-1][0]
    first_observation_after_move = min(t for t in keeper_times if t >= last_move)
    chain.mine(timestamp=first_observation_after_move + WINDOW_S)
    assert twap.consult()[0] == price_path[-1][1]


def test_reading_before_a_full_window_reverts(project, deployer, make_pool, keeper, chain):
    pool, alt, _ = make_pool(18, 6, RESERVE_ALT, RESERVE_USDC)
    twap = project.PoolTwapAggregator.deploy(pool, alt, ape.utils.ZERO_ADDRESS, WINDOW_S, 8, "T", sender=deployer)
    with ape.reverts(twap.InsufficientHistory, oldestTimestamp=0):
        twap.latestRoundData()
    twap.update(sender=keeper)
    first = chain.blocks.head.timestamp
    chain.mine(timestamp=first + WINDOW_S - 1)
    with ape.reverts(twap.InsufficientHistory, oldestTimestamp=first):
        twap.latestRoundData()


def test_updates_closer_than_the_gap_are_skipped(project, deployer, make_pool, keeper, chain):
    pool, alt, _ = make_pool(18, 6, RESERVE_ALT, RESERVE_USDC)
    twap = project.PoolTwapAggregator.deploy(pool, alt, ape.utils.ZERO_ADDRESS, 600, 11, "T", sender=deployer)
    assert twap.minObservationGapS() == 60  # 600 s over the 10 gaps between 11 slots
    start = chain.blocks.head.timestamp + 10
    for offset in [0, 1, 30, 59, 60, 119, 120]:  # a caller trying to flush the ring
        chain.pending_timestamp = start + offset
        twap.update(sender=keeper)
    assert [twap.observationAt(i)[0] for i in range(twap.observationCount())] == [start, start + 60, start + 120]


def test_ring_keeps_the_newest_observations(project, deployer, make_pool, keeper, chain):
    pool, alt, _ = make_pool(18, 6, RESERVE_ALT, RESERVE_USDC)
    twap = project.PoolTwapAggregator.deploy(pool, alt, ape.utils.ZERO_ADDRESS, 2 * BLOCK_S, 3, "T", sender=deployer)
    start = chain.blocks.head.timestamp + 10
    for i in range(5):
        chain.pending_timestamp = start + i * BLOCK_S
        twap.update(sender=keeper)
    assert twap.observationCount() == 3
    assert [twap.observationAt(i)[0] for i in range(3)] == [start + i * BLOCK_S for i in (2, 3, 4)]
    with ape.reverts(twap.ObservationNotFound, index=3, count=3):
        twap.observationAt(3)


def test_invalid_configuration_is_refused(project, deployer, make_pool):
    pool, alt, _ = make_pool(18, 6, RESERVE_ALT, RESERVE_USDC)
    contract = project.PoolTwapAggregator
    with ape.reverts(contract.InvalidTwapConfig, windowS=0, observationCapacity=8):
        contract.deploy(pool, alt, ape.utils.ZERO_ADDRESS, 0, 8, "T", sender=deployer)
    with ape.reverts(contract.InvalidTwapConfig, windowS=60, observationCapacity=1):
        contract.deploy(pool, alt, ape.utils.ZERO_ADDRESS, 60, 1, "T", sender=deployer)


def test_update_on_an_empty_pool_reverts(project, deployer, make_pool, keeper):
    pool, alt, _ = make_pool(18, 6, 0, 0)
    twap = project.PoolTwapAggregator.deploy(pool, alt, ape.utils.ZERO_ADDRESS, WINDOW_S, 8, "T", sender=deployer)
    with ape.reverts(twap.EmptyPool):
        twap.update(sender=keeper)
