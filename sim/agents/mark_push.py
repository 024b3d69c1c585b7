"""Attack (c), perp mark manipulation: a large short pushes the vAMM — the mark, where margin
checks read it — below the liquidation prices of the longs; the attacker liquidates them and
collects the liquidator's fee, then closes its short, all in one block (a sandwich). Against a
margin price that a single trade cannot move (the index, or the median mark) the longs stay safe
and the attacker pays the round trip's fees."""

from __future__ import annotations

from dataclasses import dataclass

from sim.agents.attacker import Attacker
from sim.agents.base import Context, leverage_wad
from sim.protocol import Call, Protocol
from sim.units import mul_div

USD8 = 10**8


@dataclass
class MarkPushAttacker(Attacker):
    """At ``start_block``: a short of all its stablecoin at ``leverage`` on ``market``, a
    liquidation of every other long on it, and the short closed."""

    market: str = ""
    asset: str = ""
    capital_usd8: int = 0
    start_block: int = 1
    leverage: float = 5.0

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        return {protocol.stablecoin: mul_div(self.capital_usd8, 10 ** protocol.stable.decimals, USD8)}

    def setup(self, ctx: Context) -> list[Call]:
        return [ctx.protocol.approve(ctx.protocol.stablecoin, ctx.protocol.perp)]

    def step(self, ctx: Context) -> list[Call]:
        if ctx.block != self.start_block:
            return []
        p = ctx.protocol
        margin = ctx.view.balance(self.address, p.stablecoin)
        if margin == 0:
            return []
        longs = sorted(account for account, position in ctx.view.perp_positions.get(self.market, {}).items()
                       if position.size_wad > 0 and account != self.address)
        return ([p.open_position(self.market, False, margin, leverage_wad(self.leverage), 0)]
                + [p.liquidate_position(account, self.market) for account in longs]
                + [p.close_position(self.market, 0)])
