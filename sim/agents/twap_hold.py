"""Attack (b), TWAP manipulation: push the pool price up and hold it there against arbitrage for
the oracle's window, then borrow against the averaged price and walk away. Each block of the
window costs what the arbitrageurs took back; the longer the window, the dearer the attack."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.attacker import Attacker
from sim.agents.base import Context
from sim.agents.spot_pump import borrowable, supply_room
from sim.protocol import Call, Protocol
from sim.protocol.amm import amount_out, input_to_reach_price
from sim.units import BPS, mul_div

BORROW_MARGIN_BPS = 300  # the TWAP moves between the snapshot the agent reads and its borrow


@dataclass
class TwapHoldAttacker(Attacker):
    """At ``start_block`` spends ``pump_share`` of its stablecoin on ``asset``; for ``hold_blocks``
    blocks after, buys back up to that pumped price whatever arbitrage sold it down, from the
    rest; in the last of them, after the buy-back, supplies the tokens it held and borrows the
    stablecoin up to ``ltv_bps`` at the lending oracle's price. It bids last in its blocks (the
    audit's choice), so each block ends on its price. It never repays."""

    asset: str = ""
    capital_usd8: int = 0
    start_block: int = 1
    hold_blocks: int = 5
    pump_share: float = 0.5
    ltv_bps: int = 0
    fee_bps: int = 30
    supply_cap: int = 0  # the reserve's cap in token units (0: none)
    target: tuple[int, int] | None = field(default=None, init=False)  # the pumped price as (quote, base) reserves
    borrowed: bool = field(default=False, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        return {protocol.stablecoin: mul_div(self.capital_usd8, 10 ** protocol.stable.decimals, 10**8)}

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        return [p.approve(p.stablecoin, p.pools[self.asset].spender), p.approve(self.asset, p.lending)]

    def step(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        base, quote = ctx.view.pool_reserves[self.asset]
        cash = ctx.view.balance(self.address, p.stablecoin)
        if ctx.block == self.start_block:
            spend = int(cash * self.pump_share)
            bought = amount_out(spend, quote, base, self.fee_bps)
            self.target = (quote + spend, base - bought)
            return [p.swap(self.asset, p.stablecoin, spend, 0, self.address)] if spend else []
        if self.target is None or self.borrowed:
            return []
        # buy back to the pumped price: the stablecoin in that moves quote / base up to the target
        needed = input_to_reach_price(quote, base, self.target[1], self.target[0], self.fee_bps)
        spend = min(needed, cash)
        calls = [p.swap(self.asset, p.stablecoin, spend, 0, self.address)] if spend else []
        if ctx.block < self.start_block + self.hold_blocks:
            return calls
        # the window's last block: after the buy-back (last in the block, nothing sells after it),
        # borrow against what it held before this block, at the oracle's price as last seen
        self.borrowed = True
        held = supply_room(ctx, self.asset, self.supply_cap, ctx.view.balance(self.address, self.asset))
        price8 = ctx.view.lending_prices.get(self.asset) or 0
        value = mul_div(ctx.usd_of(self.asset, held, price8), 10 ** p.stable.decimals, 10**8)
        borrow = min(mul_div(value, self.ltv_bps - BORROW_MARGIN_BPS, BPS), borrowable(ctx))
        return calls + ([p.supply(self.asset, held, self.address), p.borrow(p.stablecoin, borrow, self.address)] if held else [])
