"""Agents and the populations a scenario describes.

:func:`build_agents` turns the scenario's populations into agents with fixed addresses (derived
from the population and index, so the same scenario always has the same accounts) and draws each
agent's parameters from the model's generator, in a fixed order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from eth_utils import keccak

from sim.agents.arbitrageur import Arbitrageur
from sim.agents.base import SCALE, Agent, Context, millionths
from sim.agents.keeper import Keeper
from sim.agents.liquidator import Liquidator
from sim.agents.market_maker import MarketMaker
from sim.agents.noise import NoiseTrader
from sim.agents.passive import PassiveLender, PassiveLiquidityProvider
from sim.agents.whale import Whale
from sim.scenario import Distribution, LogNormal, Scenario, Uniform
from sim.units import mul_div, to_units, to_wad

__all__ = [
    "Agent",
    "Arbitrageur",
    "Context",
    "Keeper",
    "Liquidator",
    "MarketMaker",
    "NoiseTrader",
    "PassiveLender",
    "PassiveLiquidityProvider",
    "Whale",
    "build_agents",
    "fixed_address",
    "draw",
]


def fixed_address(label: str) -> str:
    """A deterministic address for ``label`` (no key exists for it; the node impersonates it)."""
    return "0x" + keccak(text=f"defi-cascade-sim:{label}")[12:].hex()


def draw(dist: Distribution, rng: np.random.Generator) -> float:
    """One value of a scenario distribution, from the model's generator."""
    if isinstance(dist, Uniform):
        low, high = dist.uniform
        return float(rng.uniform(low, high))
    if isinstance(dist, LogNormal):
        median, sigma = dist.lognormal
        return float(median * np.exp(sigma * rng.standard_normal()))
    return float(dist)


def usd8(value: float) -> int:
    """A USD amount drawn as a float, in 8-decimal integers (floored to the cent's fraction)."""
    return to_units(round(value, 8), 8, "floor")


def _identity(label: str, pop: Any, rng: np.random.Generator) -> dict[str, Any]:
    """What every agent of a population gets: its id and fixed address, its gas bid, latency and
    capital (the bid drawn before the capital, always in this order)."""
    return {
        "agent_id": label,
        "address": fixed_address(label),
        "gas_price_gwei": draw(pop.gas_price_gwei, rng),
        "latency_blocks": pop.latency_blocks,
        "capital_usd8": usd8(draw(pop.capital_usd, rng)),
    }


def build_agents(scenario: Scenario, rng: np.random.Generator, deployer: str, venue: str) -> list[Agent]:
    """Every agent of the scenario, keeper and passive capital included, in a fixed order."""
    agents: list[Agent] = [
        Keeper(
            "keeper",
            deployer,  # owns the push feeds
            gas_price_gwei=scenario.keeper.gas_price_gwei,
            heartbeat_s=scenario.keeper.heartbeat_s,
            deviation_bps=scenario.keeper.deviation_bps,
            funding_interval_s={m.asset: m.funding.interval_s for m in scenario.perp.markets},
        )
    ]
    mm_share = _market_maker_depth(scenario)
    passive_depth = {p.asset: usd8(p.depth_usd) - mm_share.get(p.asset, 0) * _mm_count(scenario, p.asset) for p in scenario.pools}
    agents.append(PassiveLiquidityProvider("passive_lp", fixed_address("passive_lp"), depth_usd8=passive_depth))
    agents.append(
        PassiveLender(
            "passive_lender",
            fixed_address("passive_lender"),
            supply_usd8={r.asset: usd8(r.passive_supply_usd) for r in scenario.lending.reserves if r.passive_supply_usd > 0},
        )
    )
    lending = scenario.lending
    full_hf_wad = to_wad(lending.full_liquidation_health_factor, "floor")
    for g, pop in enumerate(scenario.agents.whales):
        reserve = scenario.reserve_of(pop.collateral_asset)
        for i in range(pop.count):
            agents.append(
                Whale(
                    **_identity(f"whale-{g}-{i}", pop, rng),
                    collateral=pop.collateral_asset,
                    market=pop.perp_market,
                    target_health_factor=draw(pop.target_health_factor, rng),
                    leverage=draw(pop.leverage, rng),
                    spare_fraction=pop.spare_fraction,
                    topup_health_factor=pop.topup_health_factor,
                    topup_margin_ratio=pop.topup_margin_ratio,
                    ltv_bps=reserve.ltv_bps,
                    liquidation_threshold_bps=reserve.liquidation_threshold_bps,
                )
            )
    for g, pop in enumerate(scenario.agents.market_makers):
        reserve = scenario.reserve_of(pop.asset)
        for i in range(pop.count):
            identity = _identity(f"mm-{g}-{i}", pop, rng)
            agents.append(
                MarketMaker(
                    **identity,
                    asset=pop.asset,
                    market=pop.perp_market,
                    stable_capital_usd8=mul_div(identity["capital_usd8"], millionths(pop.stable_share), SCALE),
                    pool_depth_usd8=mm_share.get(pop.asset, 0),
                    collateral_share=pop.collateral_share,
                    stable_reserve_share=pop.stable_reserve_share,
                    target_health_factor=draw(pop.target_health_factor, rng),
                    hedge_leverage=draw(pop.hedge_leverage, rng),
                    rehedge_interval=pop.rehedge_interval_blocks,
                    rehedge_threshold=pop.rehedge_threshold,
                    volatility_window=pop.volatility_window_blocks,
                    withdraw_volatility=pop.withdraw_volatility,
                    liquidation_threshold_bps=reserve.liquidation_threshold_bps if reserve else 0,
                    ltv_bps=reserve.ltv_bps if reserve else 0,
                    phase=i,
                )
            )
    for g, pop in enumerate(scenario.agents.liquidators):
        for i in range(pop.count):
            agents.append(
                Liquidator(
                    **_identity(f"liquidator-{g}-{i}", pop, rng),
                    max_slippage=pop.max_slippage,
                    close_factor_bps=lending.close_factor_bps,
                    full_liquidation_hf_wad=full_hf_wad,
                )
            )
    for g, pop in enumerate(scenario.agents.arbitrageurs):
        traded = [p for p in scenario.pools if pop.pools is None or p.asset in pop.pools]
        total_depth = sum(p.depth_usd for p in traded)
        weights = {p.asset: p.depth_usd / total_depth for p in traded}
        markets = [m.asset for m in scenario.perp.markets if pop.perp_markets is None or m.asset in pop.perp_markets]
        for i in range(pop.count):
            agents.append(
                Arbitrageur(
                    **_identity(f"arb-{g}-{i}", pop, rng),
                    venue=venue,
                    threshold=pop.threshold,
                    gap_share=pop.gap_share,
                    max_trade_fraction=pop.max_trade_fraction,
                    refill_delay_blocks=pop.refill_delay_blocks,
                    perp_leverage=pop.perp_leverage,
                    pool_weights=weights,
                    markets=markets,
                )
            )
    for g, pop in enumerate(scenario.agents.noise):
        for i in range(pop.count):
            agents.append(
                NoiseTrader(
                    **_identity(f"noise-{g}-{i}", pop, rng),
                    trade_probability=pop.trade_probability,
                    trade_fraction=pop.trade_fraction,
                    perp_leverage=pop.perp_leverage,
                )
            )
    return agents


def _mm_count(scenario: Scenario, symbol: str) -> int:
    return sum(pop.count for pop in scenario.agents.market_makers if pop.asset == symbol)


def _market_maker_depth(scenario: Scenario) -> dict[str, int]:
    """Per-side pool depth (8-decimal USD) each market maker of an asset is asked to provide."""
    depth = {}
    for pool in scenario.pools:
        count = _mm_count(scenario, pool.asset)
        if count:
            depth[pool.asset] = mul_div(usd8(pool.depth_usd), millionths(pool.market_maker_share), SCALE) // count
    return depth
