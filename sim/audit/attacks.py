"""The attacks an audit runs: each a name, what it does, why a scenario cannot host it on an asset
(or None), and the scenario with its attacker at a given capital. One attacker file per strategy
lives in sim/agents/ (spot_pump, twap_hold, mark_push, short_dump, depeg)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from sim.scenario import Scenario
from sim.scenario.loading import parse_scenario

HOLD_BLOCKS = 10  # how long a short is held after the dump
FIRST_GWEI = 100.0  # a bid above the shipped scenarios' agents (keeper 50): the attacker's transactions go first
LAST_GWEI = 0.01  # a bid below them: its transactions go last, after the block's arbitrage


@dataclass(frozen=True)
class Attack:
    name: str
    summary: str
    strategy: str  # the attacker population's strategy
    problem: Callable[[Scenario, str], str | None]  # why the scenario cannot host it on this asset, or None
    hold_blocks: Callable[[Scenario, str], int] = lambda scenario, asset: HOLD_BLOCKS
    gas_price_gwei: float = FIRST_GWEI

    def with_attacker(self, scenario: Scenario, asset: str, capital_usd: float, start_block: int) -> Scenario:
        """``scenario`` with one attacker of this strategy on ``asset`` holding ``capital_usd``."""
        data = scenario.model_dump(mode="python")
        data["agents"]["attackers"] = [{
            "count": 1, "strategy": self.strategy, "asset": asset, "capital_usd": float(capital_usd),
            "start_block": start_block, "hold_blocks": self.hold_blocks(scenario, asset), "gas_price_gwei": self.gas_price_gwei,
        }]
        data["name"] = f"{scenario.name}-{self.name}"[:80]
        return parse_scenario(data, f"{scenario.name} with a {self.name} attacker on {asset}")


def _borrowable(scenario: Scenario, asset: str) -> str | None:
    if scenario.pool_of(asset) is None:
        return f"no pool for {asset} to pump"
    reserve = scenario.reserve_of(asset)
    if reserve is None or reserve.ltv_bps == 0:
        return f"{asset} cannot be borrowed against (no reserve, or ltv_bps 0)"
    return None


def _twap_window_blocks(scenario: Scenario, asset: str) -> int:
    """The blocks the price is held: a whole TWAP window (the borrow comes in its last block, when
    every sample in the window is a pumped one)."""
    pool = scenario.pool_of(asset)
    return math.ceil(pool.twap_window_s / scenario.block_time_s) if pool is not None else 1


def _mark_push_problem(scenario: Scenario, asset: str) -> str | None:
    if scenario.market_of(asset) is None:
        return f"no perp market for {asset}"
    if not any(w.perp_market == asset for w in scenario.agents.whales):
        return f"no longs on the {asset} perp to liquidate (no whales trade it)"
    return None


def _short_dump_problem(scenario: Scenario, asset: str) -> str | None:
    if scenario.assets[asset].lst is not None:
        return f"{asset} is a liquid staking token: see depeg"
    if scenario.pool_of(asset) is None:
        return f"no pool for {asset} to sell into"
    if scenario.market_of(asset) is None:
        return f"no perp market for {asset} to short"
    return None


def _depeg_problem(scenario: Scenario, asset: str) -> str | None:
    if scenario.assets[asset].lst is None:
        return f"{asset} is no liquid staking token (assets.{asset}.lst)"
    if scenario.pool_of(asset) is None:
        return f"no pool for {asset} to dump it on"
    reserve = scenario.reserve_of(asset)
    if reserve is None or reserve.liquidation_threshold_bps == 0:
        return f"{asset} is no lending collateral: nobody to liquidate"
    return None


ATTACKS: dict[str, Attack] = {attack.name: attack for attack in (
    Attack("spot_pump", "buy the collateral in its pool, borrow at the pumped price in the same block, walk away",
           "spot_pump", _borrowable),
    # last in its blocks: the price each block ends on, the one the TWAP records, is its own
    Attack("twap_hold", "pump the pool and hold the price against arbitrage for the TWAP window, then borrow",
           "twap_hold", _borrowable, _twap_window_blocks, LAST_GWEI),
    Attack("mark_push", "short the perp to push its mark, liquidate the longs, close the short in one block",
           "mark_push", _mark_push_problem),
    Attack("short_dump", "short the perp, sell the asset into its pool, let the liquidations sell more, close the short",
           "short_dump", _short_dump_problem),
    Attack("depeg", "dump the LST on its thin pool, liquidate the borrowers its collateral index leaves under water, buy it back",
           "depeg", _depeg_problem),
)}
