"""Attack (a), the spot-oracle pump: buy the collateral in its pool, supply it, borrow the
stablecoin at the pumped price in the same block, and walk away from the position.

On a constant-product pool with depth Y a side, raising the price m-fold costs Y(√m − 1) (fees
aside) and buys x(1 − 1/√m) tokens, worth Y(m − √m) at the pumped price; borrowing a share LTV of
that pays when LTV·Y(m − √m) > Y(√m − 1), i.e. √m > 1 / LTV. The lending pool is left with
collateral worth its external price against a debt sized at the pumped one: the protocol's bad debt.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.attacker import Attacker
from sim.agents.base import Context
from sim.protocol import Call, Protocol
from sim.protocol.amm import amount_out
from sim.units import BPS, mul_div

BORROW_MARGIN_BPS = 5  # borrow 0.05% under the LTV limit: the limit is checked on rounded amounts


@dataclass
class SpotPumpAttacker(Attacker):
    """Spends all of its stablecoin on ``asset`` in its pool at ``start_block``, supplies what it
    bought and borrows the stablecoin up to ``ltv_bps`` of the supplied tokens at the pool's price
    after the purchase (the price a pool-spot oracle reads in the same block). It never repays:
    its equity counts its wallet and no position worth less than nothing (``limited_liability``)."""

    asset: str = ""
    capital_usd8: int = 0
    start_block: int = 1
    ltv_bps: int = 0
    fee_bps: int = 30
    supply_cap: int = 0  # the reserve's cap in token units (0: none): it supplies no more than the room left
    attacked_at: int | None = field(default=None, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        decimals = protocol.tokens[protocol.stablecoin].decimals
        return {protocol.stablecoin: mul_div(self.capital_usd8, 10**decimals, 10**8)}

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        spender = p.pools[self.asset].spender
        return [p.approve(p.stablecoin, spender), p.approve(self.asset, spender), p.approve(self.asset, p.lending)]

    def step(self, ctx: Context) -> list[Call]:
        if self.attacked_at is not None or ctx.block < self.start_block:
            return []
        self.attacked_at = ctx.block
        return self.pump_calls(ctx)

    def pump_calls(self, ctx: Context) -> list[Call]:
        """The swap, the supply and the borrow, sized on the pool as this agent sees it."""
        p = ctx.protocol
        spend = ctx.view.balance(self.address, p.stablecoin)
        base, quote = ctx.view.pool_reserves[self.asset]
        bought = amount_out(spend, quote, base, self.fee_bps)
        if bought == 0:
            return []
        pumped_base, pumped_quote = base - bought, quote + spend
        supplied = supply_room(ctx, self.asset, self.supply_cap, bought)
        # the supplied tokens at the pumped pool price, in stablecoin units, up to the cash the pool has
        value = mul_div(supplied, pumped_quote, pumped_base)
        borrow = min(mul_div(value, self.ltv_bps - BORROW_MARGIN_BPS, BPS), borrowable(ctx))
        calls = [
            p.swap(self.asset, p.stablecoin, spend, bought, self.address),
            p.supply(self.asset, supplied, self.address),
            p.borrow(p.stablecoin, borrow, self.address),
        ]
        if bought > supplied:  # what the cap left over is sold back into the pumped pool
            calls.append(p.swap(self.asset, self.asset, bought - supplied, 0, self.address))
        return calls


def borrowable(ctx: Context) -> int:
    """The stablecoin the lending pool can lend now (its cash), less 0.1% for what moves before the borrow."""
    cash = ctx.view.reserves[ctx.protocol.stablecoin].cash
    return cash - cash // 1_000


def supply_room(ctx: Context, asset: str, cap: int, wanted: int) -> int:
    """How much of ``wanted`` the reserve of ``asset`` still takes under its supply ``cap`` (0: none)."""
    if cap == 0:
        return wanted
    return max(min(wanted, cap - ctx.view.reserves[asset].supplied), 0)
