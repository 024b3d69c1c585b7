"""The whale: altcoin collateral, stablecoins borrowed close to the line, a leveraged perp long."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.base import SCALE, Agent, Context, borrow_at_target_usd8, millionths, sliced_opens
from sim.protocol import Call, Protocol
from sim.record.schema import AgentKind
from sim.units import WAD, mul_div, rescale, units_for_usd


@dataclass
class Whale(Agent):
    """Supplies all of its ``collateral`` to lending, borrows the stablecoin up to
    ``target_health_factor``, keeps ``spare_fraction`` of it and posts the rest as margin for a
    long on ``market`` at ``leverage``.

    Each block, while it has spare stablecoins: below ``topup_health_factor`` it repays debt back to
    its target; with a perp margin ratio below ``topup_margin_ratio`` it adds margin back to
    1 / leverage. When the spare is gone it can only watch."""

    collateral: str = ""
    market: str = ""
    capital_usd8: int = 0
    target_health_factor: float = 1.2
    leverage: float = 5.0
    spare_fraction: float = 0.1
    topup_health_factor: float = 1.03
    topup_margin_ratio: float = 0.08
    ltv_bps: int = 0
    liquidation_threshold_bps: int = 0
    kind: str = field(default=AgentKind.WHALE, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        decimals = protocol.tokens[self.collateral].decimals
        return {self.collateral: units_for_usd(self.capital_usd8, decimals, external[self.collateral])}

    def borrow_usd8(self, collateral_usd8: int) -> int:
        """Debt at the target health factor, never above the LTV limit (kept 0.1% under it)."""
        return borrow_at_target_usd8(collateral_usd8, self.liquidation_threshold_bps, self.ltv_bps, self.target_health_factor)

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        stable = p.stablecoin
        amount = ctx.view.balance(self.address, self.collateral)
        borrowed = ctx.stable_units(self.borrow_usd8(ctx.usd_of(self.collateral, amount)))
        margin = borrowed - mul_div(borrowed, millionths(self.spare_fraction), SCALE)
        calls = [
            p.approve(self.collateral, p.lending),
            p.approve(stable, p.lending),
            p.approve(stable, p.perp),
            p.supply(self.collateral, amount, self.address),
            p.borrow(stable, borrowed, self.address),
        ]
        return calls + sliced_opens(p, self.market, True, margin, self.leverage)

    def step(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        view = ctx.view
        spare = view.balance(self.address, p.stablecoin)
        calls: list[Call] = []
        repay = self.repay_amount(ctx, spare)
        if repay > 0:
            calls.append(p.repay(p.stablecoin, repay, self.address))
            spare -= repay
        top_up = self.margin_top_up(ctx, spare)
        if top_up > 0:
            calls.append(p.add_margin(self.market, top_up))
        return calls

    def repay_amount(self, ctx: Context, spare: int) -> int:
        """Debt to repay to get back to the target health factor, limited by the spare funds."""
        hf = ctx.view.health.get(self.address)
        if hf is None or spare == 0 or hf >= millionths(self.topup_health_factor) * (WAD // SCALE):
            return 0
        _, debt = ctx.view.lending_position(self.address, ctx.protocol.stablecoin)
        target_debt = mul_div(debt, hf, millionths(self.target_health_factor) * (WAD // SCALE))
        return min(spare, max(debt - target_debt, 0))

    def margin_top_up(self, ctx: Context, spare: int) -> int:
        """Margin to add to get back to 1 / leverage when the ratio fell below the top-up line."""
        position = ctx.view.perp_position(self.address, self.market)
        if position is None or spare == 0:
            return 0
        notional = mul_div(abs(position.size_wad), ctx.view.markets[self.market].mark_wad, WAD)
        notional = rescale(notional, 18, ctx.decimals(ctx.protocol.stablecoin))
        if notional == 0:
            return 0
        equity = position.equity
        if equity * SCALE >= notional * millionths(self.topup_margin_ratio):
            return 0
        wanted = mul_div(notional, SCALE, millionths(self.leverage)) - equity
        return max(min(spare, wanted), 0)
