"""The liquidator bot: lending and perp liquidations, seized collateral sold into the pool at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.base import Context, StablecoinTrader
from sim.protocol import Call
from sim.protocol.amm import max_input_within_slippage
from sim.protocol.constants import DEFAULT_CLOSE_FACTOR_BPS, DEFAULT_FULL_LIQUIDATION_HF_WAD
from sim.record.schema import AgentKind
from sim.units import BPS, WAD, mul_div

MAX_LIQUIDATIONS_PER_BLOCK = 25


@dataclass
class Liquidator(StablecoinTrader):
    """Holds ``capital`` in the stablecoin. Each block, from the state it has seen (its latency):

    1. sells every non-stable token it holds (seized collateral) into that token's pool, as much as
       fits within ``max_slippage`` of the pool price it saw (the rest waits for the next block);
    2. liquidates every perp position the lens marks liquidatable (no capital needed);
    3. liquidates lending accounts with health factor below 1, largest debt first, repaying the
       stablecoin debt (the close factor's share, or all of it below the full-liquidation line)
       out of its own inventory, seizing the account's largest collateral.

    Its gas bid orders it against the other liquidators; a losing bid's transaction reverts."""

    max_slippage: float = 0.05
    close_factor_bps: int = DEFAULT_CLOSE_FACTOR_BPS  # the pool's own defaults until the scenario sets them
    full_liquidation_hf_wad: int = DEFAULT_FULL_LIQUIDATION_HF_WAD
    kind: str = field(default=AgentKind.LIQUIDATOR, init=False)

    def step(self, ctx: Context) -> list[Call]:
        return self.sell_seized(ctx) + self.liquidate_perps(ctx) + self.liquidate_loans(ctx)

    def sell_seized(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        slippage_bps = round(self.max_slippage * BPS)
        calls = []
        for symbol, pool in p.pools.items():
            held = ctx.view.balance(self.address, symbol)
            if held == 0:
                continue
            reserve_base, reserve_quote = ctx.view.pool_reserves[symbol]
            amount = min(held, max_input_within_slippage(reserve_base, slippage_bps, pool.fee_bps))
            if amount == 0:
                continue
            min_out = mul_div(mul_div(amount, reserve_quote, reserve_base), BPS - slippage_bps, BPS)
            calls.append(p.swap(symbol, symbol, amount, min_out, self.address))
        return calls

    def liquidate_perps(self, ctx: Context) -> list[Call]:
        calls = []
        for market, positions in ctx.view.perp_positions.items():
            for trader, position in positions.items():
                if position.liquidatable and trader != self.address:
                    calls.append(ctx.protocol.liquidate_position(trader, market))
        return calls[:MAX_LIQUIDATIONS_PER_BLOCK]

    def liquidate_loans(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        stable = p.stablecoin
        budget = ctx.view.balance(self.address, stable)
        unhealthy = [a for a, hf in ctx.view.health.items() if hf < WAD and a != self.address]
        unhealthy.sort(key=lambda a: (-ctx.view.lending_position(a, stable)[1], a))
        calls = []
        for user in unhealthy[:MAX_LIQUIDATIONS_PER_BLOCK]:
            if budget == 0:
                break
            collateral = self.best_collateral(ctx, user)
            _, debt = ctx.view.lending_position(user, stable)
            if collateral is None or debt == 0:
                continue
            close_bps = BPS if ctx.view.health[user] < self.full_liquidation_hf_wad else self.close_factor_bps
            cover = min(budget, mul_div(debt, close_bps, BPS))
            calls.append(p.liquidation_call(collateral, stable, user, cover))
            budget -= cover
        return calls

    def best_collateral(self, ctx: Context, user: str) -> str | None:
        """The user's collateral worth most at the lending pool's prices."""
        best, best_value = None, 0
        for asset, (collateral, _) in sorted(ctx.view.lending_positions.get(user, {}).items()):
            price = ctx.view.lending_prices.get(asset)
            if asset == ctx.protocol.stablecoin or not collateral or not price:
                continue
            value = ctx.usd_of(asset, collateral, price)
            if value > best_value:
                best, best_value = asset, value
        return best
