"""Passive capital: the pool depth market makers do not provide, and the lenders' stablecoins."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.base import Agent, Context
from sim.protocol import Call, Protocol
from sim.record.schema import AgentKind
from sim.units import USD_UNIT, units_for_usd


@dataclass
class PassiveLiquidityProvider(Agent):
    """Deposits ``depth_usd8`` per side into each listed pool at the start and never moves."""

    depth_usd8: dict[str, int] = field(default_factory=dict)
    kind: str = field(default=AgentKind.PASSIVE_LP, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        stable = protocol.stablecoin
        tokens = {stable: 0}
        for symbol, usd8 in self.depth_usd8.items():
            tokens[symbol] = units_for_usd(usd8, protocol.tokens[symbol].decimals, external[symbol])
            tokens[stable] += units_for_usd(usd8, protocol.tokens[stable].decimals, USD_UNIT)
        return tokens

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        calls = p.approvals()
        for symbol, usd8 in self.depth_usd8.items():
            base = ctx.units_for_usd(symbol, usd8)
            quote = ctx.stable_units(usd8)
            if base and quote:
                calls.append(p.add_liquidity(symbol, base, quote, self.address))
        return calls


@dataclass
class PassiveLender(Agent):
    """Supplies ``supply_usd8`` of each reserve asset to the lending pool at the start."""

    supply_usd8: dict[str, int] = field(default_factory=dict)
    kind: str = field(default=AgentKind.PASSIVE_LENDER, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        return {
            symbol: units_for_usd(usd8, protocol.tokens[symbol].decimals, external[symbol])
            for symbol, usd8 in self.supply_usd8.items()
        }

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        calls = p.approvals(list(self.supply_usd8))
        for symbol in self.supply_usd8:
            amount = ctx.view.balance(self.address, symbol)
            if amount:
                calls.append(p.supply(symbol, amount, self.address))
        return calls
