"""A short demo of the foundation: a thin pool, a large sale into it, and what three oracles say.

Run with ``make run`` (``ape run demo``). It deploys a $1 stablecoin, an altcoin with a push feed at
its external price, a pool of modest depth, a pool-spot oracle and a pool-TWAP oracle; prints the
price impact of sales of growing size; then one whale sells, and the three oracle prices are printed
block by block while a keeper updates the TWAP — the spot oracle jumps at once, the TWAP walks
there over its window, the external feed does not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from sim.tools.ape_deploy import SpotMarket, deploy_spot_market, deploy_token
from sim.units import from_units, from_usd_price, to_units


@dataclass(frozen=True)
class DemoConfig:
    price_usd: Decimal = Decimal("2")
    depth_usd: Decimal = Decimal("500000")
    fee_bps: int = 30
    sale_sizes_usd: tuple[Decimal, ...] = tuple(Decimal(x) for x in ("10000", "50000", "100000", "250000", "500000"))
    whale_sale_usd: Decimal = Decimal("100000")
    block_time_s: int = 12
    twap_window_s: int = 600
    blocks_after_sale: int = 60
    report_blocks: tuple[int, ...] = (0, 1, 5, 10, 25, 50, 60)


def price_impact_table(market: SpotMarket, config: DemoConfig) -> pd.DataFrame:
    """What selling each size of the base token into the pool would return, from the pool's own quote."""
    base_decimals = int(market.base.decimals())
    quote_decimals = int(market.quote.decimals())
    reserve0, reserve1 = market.adapter.reserves()
    base_is_token0 = market.adapter.is_token0(market.base)
    reserve_base, reserve_quote = (reserve0, reserve1) if base_is_token0 else (reserve1, reserve0)
    rows = []
    for notional_usd in config.sale_sizes_usd:
        amount_in = to_units(notional_usd / config.price_usd, base_decimals, "floor")
        amount_out = int(market.pool.getAmountOut(market.base, amount_in))
        sold = from_units(amount_in, base_decimals)
        received = from_units(amount_out, quote_decimals)
        spot_after = from_units(reserve_quote - amount_out, quote_decimals) / from_units(reserve_base + amount_in, base_decimals)
        rows.append(
            {
                "sale_usd_at_external": notional_usd,
                "sold_base": sold,
                "received_quote": received,
                "avg_price_usd": received / sold,
                "slippage_pct": (1 - received / sold / config.price_usd) * 100,
                "spot_after_usd": spot_after,
                "spot_move_pct": (spot_after / config.price_usd - 1) * 100,
            }
        )
    return pd.DataFrame(rows)


def oracle_prices(market: SpotMarket) -> dict[str, Decimal]:
    return {
        "external_feed_usd": from_usd_price(int(market.feed.latestRoundData()[1])),
        "pool_spot_usd": from_usd_price(int(market.spot_oracle.latestRoundData()[1])),
        "pool_twap_usd": from_usd_price(int(market.twap_oracle.latestRoundData()[1])),
    }


def run_demo(accounts: Any, chain: Any, config: DemoConfig = DemoConfig()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Deploy, measure price impact, execute one whale sale, and follow the oracles block by block.

    Returns (price impact table, oracle prices per block after the sale)."""
    deployer, liquidity_provider, whale, keeper = accounts[0], accounts[1], accounts[2], accounts[3]
    usdc = deploy_token(deployer, "USD Coin (sim)", "USDC", 6)
    market = deploy_spot_market(
        deployer,
        liquidity_provider,
        usdc,
        symbol="ALT",
        decimals=18,
        price_usd=config.price_usd,
        depth_usd=config.depth_usd,
        fee_bps=config.fee_bps,
        twap_window_s=config.twap_window_s,
        twap_capacity=4 * config.twap_window_s // config.block_time_s,
    )
    start_s = int(chain.blocks.head.timestamp)

    # Let a full TWAP window of history build at the undisturbed price.
    blocks_per_window = config.twap_window_s // config.block_time_s
    for block in range(1, blocks_per_window + 1):
        chain.pending_timestamp = start_s + block * config.block_time_s
        market.twap_oracle.update(sender=keeper)
    sale_s = start_s + (blocks_per_window + 1) * config.block_time_s

    impact = price_impact_table(market, config)

    sale_amount = to_units(config.whale_sale_usd / config.price_usd, int(market.base.decimals()), "floor")
    market.base.mint(whale, sale_amount, sender=deployer)
    chain.pending_timestamp = sale_s
    market.adapter.swap_exact_in(whale, market.base, sale_amount, min_amount_out=0)

    rows = []
    for block in range(config.blocks_after_sale + 1):
        if block > 0:
            chain.pending_timestamp = sale_s + block * config.block_time_s
            market.twap_oracle.update(sender=keeper)
        if block in config.report_blocks:
            rows.append({"blocks_after_sale": block, "seconds_after_sale": block * config.block_time_s, **oracle_prices(market)})
    return impact, pd.DataFrame(rows)


def format_report(impact: pd.DataFrame, oracles: pd.DataFrame, config: DemoConfig) -> str:
    pd.set_option("display.width", 160)
    lines = [
        f"Pool: ALT/USDC, ${config.depth_usd:,} per side at ${config.price_usd}, fee {config.fee_bps} bps",
        "",
        "Price impact of one sale (pool quote, before any sale):",
        impact.to_string(index=False, formatters=_decimal_formatters(impact)),
        "",
        f"A whale sells ${config.whale_sale_usd:,} of ALT; the keeper updates the TWAP every "
        f"{config.block_time_s}s block (window {config.twap_window_s}s):",
        oracles.to_string(index=False, formatters=_decimal_formatters(oracles)),
        "",
        "The TWAP averages from the newest observation at or before now - window, so it reaches the",
        "spot price one window after the first observation that follows the sale.",
    ]
    return "\n".join(lines)


def _decimal_formatters(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        column: (lambda value: f"{value:,.4f}")
        for column in frame.columns
        if len(frame) and isinstance(frame[column].iloc[0], Decimal)
    }
