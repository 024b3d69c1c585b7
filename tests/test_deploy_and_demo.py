"""sim.tools.ape_deploy wires a market as documented; the demo runs and its oracles tell the expected story."""

from decimal import Decimal

from sim.tools.ape_deploy import deploy_spot_market, deploy_token
from sim.tools.demo import DemoConfig, run_demo
from sim.units import to_usd_price


def test_spot_market_depth_and_prices(accounts, deployer, lp):
    usdc = deploy_token(deployer, "USD Coin", "USDC", 6)
    market = deploy_spot_market(deployer, lp, usdc, "ALT", 18, price_usd="2.5", depth_usd=400_000, fee_bps=25)
    reserve0, reserve1 = market.adapter.reserves()
    reserve_alt, reserve_usdc = (reserve0, reserve1) if market.adapter.is_token0(market.base) else (reserve1, reserve0)
    assert reserve_usdc == 400_000 * 10**6
    assert reserve_alt == 160_000 * 10**18  # $400,000 / $2.5
    assert market.adapter.fee_bps == 25
    assert market.feed.latestRoundData()[1] == to_usd_price("2.5")
    assert market.spot_oracle.latestRoundData()[1] == to_usd_price("2.5")
    assert market.twap_oracle.observationCount() == 1


def test_demo_story(accounts, chain):
    # The first observation after the sale is one block later, so the TWAP has only post-sale prices
    # one window (50 blocks) after that.
    config = DemoConfig(sale_sizes_usd=(Decimal(10_000), Decimal(100_000)), blocks_after_sale=51, report_blocks=(0, 25, 51))
    impact, oracles = run_demo(accounts, chain, config)
    assert list(impact["sale_usd_at_external"]) == [10_000, 100_000]
    assert impact["slippage_pct"].is_monotonic_increasing
    first, last = oracles.iloc[0], oracles.iloc[-1]
    assert (oracles["external_feed_usd"] == config.price_usd).all()  # nothing pushed the feed
    assert first["pool_spot_usd"] < config.price_usd * Decimal("0.8")  # a $100k sale into $500k depth
    # The TWAP has not seen the sale yet (it rounds down through UQ112x112: within one 1e-8 step).
    assert config.price_usd - first["pool_twap_usd"] <= Decimal("0.00000001")
    assert last["pool_twap_usd"] == last["pool_spot_usd"]  # one full window later it has
    assert first["pool_spot_usd"] < oracles.iloc[1]["pool_twap_usd"] < config.price_usd
