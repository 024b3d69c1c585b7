"""The agents a scenario describes: one :class:`PopulationKind` per population section.

:data:`POPULATIONS` maps each section of the scenario's ``agents`` block to the agent class it
builds, the id prefix of its members, whether it grows when a scenario is scaled to more agents,
and the function that builds one member. Building (:func:`build_agents`), the scenario's checks
(which loop over the same sections, :meth:`Scenario.populations`) and scaling
(:mod:`sim.tools.scaling`) all read it; a new population is one entry here, one section in
:class:`sim.scenario.schema.Agents` and one agent file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from sim.agents.arbitrageur import Arbitrageur
from sim.agents.base import SCALE, Agent, millionths
from sim.agents.identity import draw, fixed_address, identity, usd8
from sim.agents.keeper import Keeper
from sim.agents.liquidator import Liquidator
from sim.agents.market_maker import MarketMaker
from sim.agents.noise import NoiseTrader
from sim.agents.passive import PassiveLender, PassiveLiquidityProvider
from sim.agents.depeg import DepegAttacker
from sim.agents.mark_push import MarkPushAttacker
from sim.agents.short_dump import ShortAndDumpAttacker
from sim.agents.spot_pump import SpotPumpAttacker
from sim.agents.trader import LeveragedTrader
from sim.agents.twap_hold import TwapHoldAttacker
from sim.agents.whale import Whale
from sim.scenario import Scenario
from sim.scenario.schema import Agents
from sim.protocol.gas import longest_adl_list
from sim.units import mul_div, to_units, to_wad


@dataclass(frozen=True)
class Population:
    """What building one population needs besides its own section: the scenario, the model's
    generator, the off-chain venue and each market maker's share of pool depth."""

    scenario: Scenario
    rng: np.random.Generator
    venue: str
    market_maker_depth_usd8: dict[str, int]


Build = Callable[[Population, Any, str, int], Agent]  # (population, section entry, label, index)


@dataclass(frozen=True)
class PopulationKind:
    agent_class: type[Agent]
    id_prefix: str  # members are "<prefix>-<entry>-<index>"
    grows_with_scale: bool  # many and alike (grows), or professional bots whose number stays
    build: Build


def _whale(p: Population, pop: Any, label: str, index: int) -> Agent:
    reserve = p.scenario.reserve_of(pop.collateral_asset)
    return Whale(
        **identity(label, pop, p.rng),
        collateral=pop.collateral_asset,
        market=pop.perp_market,
        target_health_factor=draw(pop.target_health_factor, p.rng),
        leverage=draw(pop.leverage, p.rng),
        spare_fraction=pop.spare_fraction,
        topup_health_factor=pop.topup_health_factor,
        topup_margin_ratio=pop.topup_margin_ratio,
        ltv_bps=reserve.ltv_bps,
        liquidation_threshold_bps=reserve.liquidation_threshold_bps,
    )


def _market_maker(p: Population, pop: Any, label: str, index: int) -> Agent:
    reserve = p.scenario.reserve_of(pop.asset)
    ident = identity(label, pop, p.rng)
    return MarketMaker(
        **ident,
        asset=pop.asset,
        market=pop.perp_market,
        stable_capital_usd8=mul_div(ident["capital_usd8"], millionths(pop.stable_share), SCALE),
        pool_depth_usd8=p.market_maker_depth_usd8.get(pop.asset, 0),
        collateral_share=pop.collateral_share,
        stable_reserve_share=pop.stable_reserve_share,
        target_health_factor=draw(pop.target_health_factor, p.rng),
        hedge_leverage=draw(pop.hedge_leverage, p.rng),
        rehedge_interval=pop.rehedge_interval_blocks,
        rehedge_threshold=pop.rehedge_threshold,
        volatility_window=pop.volatility_window_blocks,
        withdraw_volatility=pop.withdraw_volatility,
        liquidation_threshold_bps=reserve.liquidation_threshold_bps if reserve else 0,
        ltv_bps=reserve.ltv_bps if reserve else 0,
        phase=index,
    )


def _liquidator(p: Population, pop: Any, label: str, index: int) -> Agent:
    lending = p.scenario.lending
    return Liquidator(
        **identity(label, pop, p.rng),
        max_slippage=pop.max_slippage,
        close_factor_bps=lending.close_factor_bps,
        full_liquidation_hf_wad=to_wad(lending.full_liquidation_health_factor, "floor"),
        rules=lending.rules,
        receive_a_token=pop.receive_a_token,
        liquidation_bonus_bps={r.asset: r.liquidation_bonus_bps for r in lending.reserves},
        require_profit=pop.require_profit,
        max_adl_counterparties=min(pop.max_adl_counterparties, longest_adl_list(p.scenario.tx_gas_cap)),
        perp_fee_bps={m.asset: m.liquidation_fee_bps for m in p.scenario.perp.markets},
    )


def _arbitrageur(p: Population, pop: Any, label: str, index: int) -> Agent:
    s = p.scenario
    traded = [pool for pool in s.pools if pop.pools is None or pool.asset in pop.pools]
    total_depth = sum(pool.depth_usd for pool in traded)
    # capital split by the depth the run gives each pool; a forked pair the run adds nothing to
    # (depth_usd 0, its depth is on chain) makes the split even
    weights = ({pool.asset: pool.depth_usd / total_depth for pool in traded} if all(pool.depth_usd > 0 for pool in traded)
               else {pool.asset: 1 / len(traded) for pool in traded})
    return Arbitrageur(
        **identity(label, pop, p.rng),
        venue=p.venue,
        threshold=pop.threshold,
        gap_share=pop.gap_share,
        max_trade_fraction=pop.max_trade_fraction,
        refill_delay_blocks=pop.refill_delay_blocks,
        perp_leverage=pop.perp_leverage,
        pool_weights=weights,
        markets=[m.asset for m in s.perp.markets if pop.perp_markets is None or m.asset in pop.perp_markets],
    )


def _noise(p: Population, pop: Any, label: str, index: int) -> Agent:
    return NoiseTrader(
        **identity(label, pop, p.rng),
        trade_probability=pop.trade_probability,
        trade_fraction=pop.trade_fraction,
        perp_leverage=pop.perp_leverage,
    )


def _trader(p: Population, pop: Any, label: str, index: int) -> Agent:
    ident = identity(label, pop, p.rng)
    leverage = draw(pop.leverage, p.rng)
    side, pick, entry = (float(x) for x in p.rng.random(3))
    markets = list(pop.perp_markets)
    weights = np.cumsum([pop.perp_markets[m] for m in markets]) / sum(pop.perp_markets.values())
    return LeveragedTrader(
        **ident,
        market=markets[min(int(np.searchsorted(weights, pick, side="right")), len(markets) - 1)],
        is_long=side < pop.long_share,
        leverage=leverage,
        entry_block=pop.entry_start_block + min(int(entry * pop.entry_window_blocks), pop.entry_window_blocks - 1),
    )


def _attacker(p: Population, pop: Any, label: str, index: int) -> Agent:
    s = p.scenario
    reserve, pool, market = s.reserve_of(pop.asset), s.pool_of(pop.asset), s.market_of(pop.asset)
    common = {**identity(label, pop, p.rng), "asset": pop.asset, "start_block": pop.start_block}
    # a perp leverage the market accepts: 90% of its largest
    leverage = min(pop.leverage, 0.9 * 10_000 / market.initial_margin_bps) if market is not None else pop.leverage
    if pop.strategy in ("spot_pump", "twap_hold"):
        lending = {"ltv_bps": reserve.ltv_bps, "fee_bps": pool.fee_bps,
                   "supply_cap": to_units(reserve.supply_cap, s.assets[pop.asset].decimals, "floor")}
        if pop.strategy == "spot_pump":
            return SpotPumpAttacker(**common, **lending)
        return TwapHoldAttacker(**common, hold_blocks=pop.hold_blocks, **lending)
    if pop.strategy == "depeg":
        return DepegAttacker(**common, fee_bps=pool.fee_bps)
    if pop.strategy == "mark_push":
        return MarkPushAttacker(**common, market=pop.asset, leverage=leverage)
    return ShortAndDumpAttacker(**common, market=pop.asset if market is not None else None, hold_blocks=pop.hold_blocks,
                                leverage=leverage)


POPULATIONS: dict[str, PopulationKind] = {
    "whales": PopulationKind(Whale, "whale", True, _whale),
    "market_makers": PopulationKind(MarketMaker, "mm", True, _market_maker),
    "liquidators": PopulationKind(Liquidator, "liquidator", False, _liquidator),
    "arbitrageurs": PopulationKind(Arbitrageur, "arb", False, _arbitrageur),
    "noise": PopulationKind(NoiseTrader, "noise", True, _noise),
    "traders": PopulationKind(LeveragedTrader, "trader", True, _trader),
    "attackers": PopulationKind(SpotPumpAttacker, "attacker", False, _attacker),
}
if set(POPULATIONS) != set(Agents.model_fields):  # the schema and the registry name the same sections
    raise ImportError(f"agent registry {sorted(POPULATIONS)} does not match the scenario's agents {sorted(Agents.model_fields)}")


def build_agents(scenario: Scenario, rng: np.random.Generator, deployer: str, venue: str) -> list[Agent]:
    """Every agent of the scenario, keeper and passive capital included, in a fixed order."""
    mm_share = _market_maker_depth(scenario)
    agents: list[Agent] = [
        Keeper(
            "keeper",
            deployer,  # owns the push feeds
            gas_price_gwei=scenario.keeper.gas_price_gwei,
            heartbeat_s=scenario.keeper.heartbeat_s,
            deviation_bps=scenario.keeper.deviation_bps,
            funding_interval_s={m.asset: m.funding.interval_s for m in scenario.perp.markets},
        ),
        PassiveLiquidityProvider("passive_lp", fixed_address("passive_lp"), depth_usd8={
            p.asset: usd8(p.depth_usd) - mm_share.get(p.asset, 0) * _mm_count(scenario, p.asset) for p in scenario.pools
        }),
        PassiveLender("passive_lender", fixed_address("passive_lender"), supply_usd8={
            r.asset: usd8(r.passive_supply_usd) for r in scenario.lending.reserves if r.passive_supply_usd > 0
        }),
    ]
    population = Population(scenario, rng, venue, mm_share)
    for section, g, pop in scenario.populations():
        kind = POPULATIONS[section]
        for i in range(pop.count):
            agents.append(kind.build(population, pop, f"{kind.id_prefix}-{g}-{i}", i))
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
