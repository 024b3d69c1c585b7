"""What every agent shares: the per-block context it decides from, and the Agent interface.

An agent never sends anything itself. Each block the model calls ``step(ctx)`` with the state the
agent can see (its latency applied) and sends the returned calls from the agent's address at the
agent's gas price, in one batch with everyone else's. ``observe`` then tells the agent which of
its transactions failed, as a bot reading its receipts would learn.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sim.chain import GWEI
from sim.protocol import Call, PerpPos, Protocol, Snapshot
from sim.units import BPS, USD_UNIT, WAD, mul_div, units_for_usd, usd_value


@dataclass
class Context:
    """One agent's view of one block."""

    block: int  # 0 = set-up, then 1..blocks
    timestamp_s: int
    protocol: Protocol
    view: Snapshot  # the newest state this agent has seen (``latency_blocks`` old)
    history: Sequence[Snapshot]  # recent states, oldest first, newest = ``view``
    external: dict[str, int]  # external USD prices now, 8 decimals (the world outside the chain)
    rng: np.random.Generator  # the model's generator (the only source of randomness)
    # Figures every agent of a kind derives alike from this view (pool volatility), computed once:
    # the same context is shared by all agents with the same latency in a block.
    shared: dict = field(default_factory=dict)

    # ---------------------------------------------------------------- conversions (via sim.units)

    def decimals(self, symbol: str) -> int:
        return self.protocol.tokens[symbol].decimals

    def units_for_usd(self, symbol: str, usd8: int, price8: int | None = None) -> int:
        """Native units of ``symbol`` worth ``usd8`` (8-decimal USD) at ``price8`` (default: external)."""
        return units_for_usd(usd8, self.decimals(symbol), self.external[symbol] if price8 is None else price8)

    def usd_of(self, symbol: str, amount: int, price8: int | None = None) -> int:
        """8-decimal USD value of ``amount`` native units (default: at the external price)."""
        price = self.external[symbol] if price8 is None else price8
        return usd_value(amount, self.decimals(symbol), price)

    def stable_units(self, usd8: int) -> int:
        stable = self.protocol.stablecoin
        return units_for_usd(usd8, self.decimals(stable), USD_UNIT)

    def pool_price8(self, symbol: str, view: Snapshot | None = None) -> int:
        """The pool's spot price of ``symbol`` in USD (8 decimals), the stablecoin taken at $1."""
        base, quote = (view or self.view).pool_reserves[symbol]
        if base == 0:
            return 0
        return mul_div(quote * 10 ** self.decimals(symbol), USD_UNIT, base * 10 ** self.decimals(self.protocol.stablecoin))

    def mark_price8(self, market: str) -> int:
        return self.view.markets[market].mark_wad * USD_UNIT // WAD

    def pool_base_of(self, account: str, symbol: str, view: Snapshot | None = None) -> int:
        """The base tokens behind ``account``'s LP shares of ``symbol``'s pool."""
        return (view or self.view).pool_base_of(account, symbol)


@dataclass
class Agent:
    """Base class: identity, latency and gas bid. Subclasses implement ``step``."""

    agent_id: str
    address: str
    gas_price_gwei: float = 1.0
    latency_blocks: int = 0
    kind: str = field(default="agent", init=False)  # an AgentKind
    failures: int = field(default=0, init=False)
    limited_liability: bool = field(default=False, init=False)  # walks away from positions under water
    hedged_asset = None  # agents that report a net delta (market makers) name its asset

    @property
    def gas_price_wei(self) -> int:
        return int(round(self.gas_price_gwei * GWEI))

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        """Tokens minted to the agent before the run (native units)."""
        return {}

    def setup(self, ctx: Context) -> list[Call]:
        """Calls for the set-up block (approvals, opening positions)."""
        return []

    def step(self, ctx: Context) -> list[Call]:
        return []

    def decide(self, ctx: Context) -> list[Call]:
        """This block's calls: ``step``'s, after pulling any collateral ADL credited to the agent
        (a position auto-deleveraged in full is paid by credit, not by transfer)."""
        claim = [ctx.protocol.withdraw_credit()] if ctx.view.perp_credits.get(self.address) else []
        return claim + self.step(ctx)

    def off_chain_usd8(self, external: dict[str, int], protocol: Protocol) -> int:
        """Value the agent holds off chain (8-decimal USD at external prices); counted in equity."""
        return 0

    def net_delta_usd8(self, view: Snapshot, protocol: Protocol, external: dict[str, int]) -> int:
        """Net exposure to ``hedged_asset`` in 8-decimal USD (recorded only when that is set)."""
        return 0

    def hedge_usd8(self, view: Snapshot, protocol: Protocol, external: dict[str, int]) -> int:
        """The hedge against ``hedged_asset`` (a perp short's size) in 8-decimal USD."""
        return 0

    def observe(self, failed: Sequence[Call]) -> None:
        """Learn which of this block's calls reverted."""
        self.failures += len(failed)


GAS_TOKEN = "ETH"
DEFAULT_GAS_TOKEN_USD8 = 3_000 * 10**8  # the gas token's price when the scenario has no ETH
WEI_PER_TOKEN = 10**18


def gas_cost_usd8(gas_wei: int, external: dict[str, int]) -> int:
    """What ``gas_wei`` of gas costs in 8-decimal USD, at the gas token's external price."""
    return mul_div(gas_wei, external.get(GAS_TOKEN, DEFAULT_GAS_TOKEN_USD8), WEI_PER_TOKEN)


SCALE = 1_000_000  # fractions and multiples from the scenario enter integer maths in millionths


@dataclass
class StablecoinTrader(Agent):
    """An agent that starts with ``capital_usd8`` in the stablecoin and approves every venue."""

    capital_usd8: int = 0

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        stable = protocol.stablecoin
        return {stable: units_for_usd(self.capital_usd8, protocol.tokens[stable].decimals, USD_UNIT)}

    def setup(self, ctx: Context) -> list[Call]:
        return ctx.protocol.approvals()


def millionths(value: float) -> int:
    """A scenario fraction or multiple in millionths, rounded to nearest (1.005 -> 1_005_000)."""
    return round(value * SCALE)


SETUP_SLICES = 8  # opening positions are split so longs and shorts interleave in the set-up block


def sliced_opens(protocol: Protocol, market: str, is_long: bool, margin: int, leverage: float) -> list[Call]:
    """``openPosition`` in ``SETUP_SLICES`` equal parts (the last takes the remainder).

    In the set-up block the model interleaves every agent's calls, so whales' longs and market
    makers' shorts alternate and neither side's entry price carries the other's price impact."""
    part = margin // SETUP_SLICES
    parts = [part] * (SETUP_SLICES - 1) + [margin - part * (SETUP_SLICES - 1)]
    return [protocol.open_position(market, is_long, m, leverage_wad(leverage), 0) for m in parts if m > 0]


def reduce_by(protocol: Protocol, market: str, position: PerpPos, size_wad: int) -> Call:
    """Reduce ``position`` by ``size_wad``; close it instead when what would be left keeps less than
    the market's minimum open notional (the exchange refuses such a partial close)."""
    size = abs(position.size_wad)
    left_notional = position.open_notional - -(-position.open_notional * min(size_wad, size) // size)
    if size_wad >= size or left_notional < protocol.markets[market].min_position:
        return protocol.close_position(market, 0)
    return protocol.reduce_position(market, size_wad, 0)


def leverage_wad(value: float) -> int:
    """A leverage multiple as WAD, rounded down to 1e-6 (never above a drawn maximum); the 1e-9
    nudge keeps 1.005 (stored as 1.00499999…) at 1.005."""
    return int(value * SCALE + 1e-9) * (WAD // SCALE)


def borrow_at_target_usd8(collateral_usd8: int, liquidation_threshold_bps: int, ltv_bps: int, target_hf: float) -> int:
    """Debt (8-decimal USD) that puts ``collateral_usd8`` at health factor ``target_hf``, never
    above the LTV limit (kept 0.1% under it so the borrow passes the pool's own rounding)."""
    at_target = mul_div(collateral_usd8 * liquidation_threshold_bps, SCALE, BPS * millionths(target_hf))
    return min(at_target, mul_div(collateral_usd8, ltv_bps * 999, BPS * 1000))
