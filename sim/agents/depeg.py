"""Attack (e), the de-peg of a liquid staking token used as collateral: dump the LST on its thin
pool, so that its collateral index (w × that pool's spot + (1 − w) × rate × underlying) falls;
liquidate, in the same block, every borrower the fall leaves under water, collecting their LST at
the depressed index plus the liquidation bonus; buy back LST with what is left. The seized LST is
worth its redemption value outside the chain (rate × underlying), which is how it is counted —
realisable through redemption, after the LST's own delay."""

from __future__ import annotations

from dataclasses import dataclass

from sim.agents.attacker import Attacker
from sim.agents.base import Context
from sim.protocol import Call, Protocol
from sim.protocol.amm import MAX_UINT256, amount_out
from sim.units import mul_div, units_for_usd

USD8 = 10**8


@dataclass
class DepegAttacker(Attacker):
    """Holds ``dump_share`` of its capital in the LST ``asset`` and the rest in the stablecoin; at
    ``start_block``: sells all its LST into the pool, liquidates every account with LST collateral
    and stablecoin debt (as much as the rules allow), and buys LST back with its stablecoin."""

    asset: str = ""
    capital_usd8: int = 0
    start_block: int = 1
    dump_share: float = 0.35
    fee_bps: int = 30

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        dump_usd8 = int(self.capital_usd8 * self.dump_share)
        return {
            self.asset: units_for_usd(dump_usd8, protocol.tokens[self.asset].decimals, external[self.asset]),
            protocol.stablecoin: mul_div(self.capital_usd8 - dump_usd8, 10 ** protocol.stable.decimals, USD8),
        }

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        spender = p.pools[self.asset].spender
        return [p.approve(self.asset, spender), p.approve(p.stablecoin, spender), p.approve(p.stablecoin, p.lending)]

    def step(self, ctx: Context) -> list[Call]:
        if ctx.block != self.start_block:
            return []
        p = ctx.protocol
        held = ctx.view.balance(self.address, self.asset)
        victims = sorted(account for account, positions in ctx.view.lending_positions.items()
                         if account != self.address and positions.get(self.asset, (0, 0))[0] > 0
                         and positions.get(p.stablecoin, (0, 0))[1] > 0)
        calls = [p.swap(self.asset, self.asset, held, 0, self.address)] if held else []
        calls += [p.liquidation_call(self.asset, p.stablecoin, account, MAX_UINT256) for account in victims]
        # buy back with the dump's proceeds (on the pool as it sees it): the liquidations are paid
        # from the stablecoin it started with
        base, quote = ctx.view.pool_reserves[self.asset]
        proceeds = amount_out(held, base, quote, self.fee_bps) if held else 0
        if proceeds:
            calls.append(p.swap(self.asset, p.stablecoin, proceeds, 0, self.address))
        return calls
