"""Attacks (d) short-and-dump and (e) de-peg: open a perp short, then sell the asset into its pool,
so that whatever reads the pool — a lending oracle, a perp index, an LST's collateral index —
falls; the liquidations it sets off sell more into the same pool. The short is closed
``hold_blocks`` later. A cascade used as an attack: it pays when the short gains more than the
sale lost to slippage."""

from __future__ import annotations

from dataclasses import dataclass

from sim.agents.attacker import Attacker
from sim.agents.base import Context, leverage_wad
from sim.protocol import Call, Protocol
from sim.units import mul_div, units_for_usd

USD8 = 10**8


@dataclass
class ShortAndDumpAttacker(Attacker):
    """Holds ``dump_share`` of its capital in ``asset`` and the rest in the stablecoin. At
    ``start_block`` it posts all its stablecoin as margin for a short on ``market`` at
    ``leverage`` (none without a market) and sells all of its ``asset`` into the pool; it closes
    the short ``hold_blocks`` later. It walks away from a position under water."""

    asset: str = ""
    market: str | None = None
    capital_usd8: int = 0
    start_block: int = 1
    hold_blocks: int = 10
    leverage: float = 5.0
    dump_share: float = 0.5

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        dump_usd8 = int(self.capital_usd8 * (self.dump_share if self.market else 1.0))
        stable_usd8 = self.capital_usd8 - dump_usd8
        return {
            self.asset: units_for_usd(dump_usd8, protocol.tokens[self.asset].decimals, external[self.asset]),
            protocol.stablecoin: mul_div(stable_usd8, 10 ** protocol.stable.decimals, USD8),
        }

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        return [p.approve(self.asset, p.pools[self.asset].spender), p.approve(p.stablecoin, p.perp)]

    def step(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        if ctx.block == self.start_block:
            calls = []
            margin = ctx.view.balance(self.address, p.stablecoin)
            if self.market is not None and margin > 0:
                calls.append(p.open_position(self.market, False, margin, leverage_wad(self.leverage), 0))
            held = ctx.view.balance(self.address, self.asset)
            if held > 0:
                calls.append(p.swap(self.asset, self.asset, held, 0, self.address))
            return calls
        if self.market is not None and ctx.block == self.start_block + self.hold_blocks:
            if ctx.view.perp_position(self.address, self.market) is not None:
                return [p.close_position(self.market, 0)]
        return []
