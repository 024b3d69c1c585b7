"""Noise traders: small random spot and perp trades."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.base import SCALE, Context, StablecoinTrader, leverage_wad, millionths
from sim.protocol import Call
from sim.record.schema import AgentKind
from sim.units import BPS, mul_div

NOISE_SLIPPAGE_BPS = 300


@dataclass
class NoiseTrader(StablecoinTrader):
    """Starts with ``capital`` in the stablecoin. Each block, with ``trade_probability`` each, it
    makes one spot trade (a random pool, buying or selling ``trade_fraction`` of what it holds) and
    one perp action (opening a random-side position at ``perp_leverage`` with ``trade_fraction`` of
    its stablecoins, or closing the one it has). All draws come from the model's generator."""

    trade_probability: float = 0.1
    trade_fraction: float = 0.05
    perp_leverage: float = 3.0
    kind: str = field(default=AgentKind.NOISE, init=False)

    def setup(self, ctx: Context) -> list[Call]:
        """Approvals it uses and no others: every pool for the stablecoin and the pool's asset (it
        buys and sells), the perp exchange for the stablecoin (margin)."""
        p = ctx.protocol
        pools = [(symbol, pool.spender) for symbol, pool in p.pools.items()]
        calls = [p.approve(token, spender) for symbol, spender in pools for token in (p.stablecoin, symbol)]
        if p.markets:
            calls.append(p.approve(p.stablecoin, p.perp))
        return calls

    def step(self, ctx: Context) -> list[Call]:
        calls: list[Call] = []
        spot_roll, spot_pick, spot_side, perp_roll, perp_pick, perp_side = (float(x) for x in ctx.rng.random(6))
        if ctx.protocol.pools and spot_roll < self.trade_probability:
            calls.extend(self.spot_trade(ctx, spot_pick, spot_side < 0.5))
        if ctx.protocol.markets and perp_roll < self.trade_probability:
            calls.extend(self.perp_trade(ctx, perp_pick, perp_side < 0.5))
        return calls

    def spot_trade(self, ctx: Context, pick: float, buy: bool) -> list[Call]:
        p = ctx.protocol
        symbols = list(p.pools)
        symbol = symbols[min(int(pick * len(symbols)), len(symbols) - 1)]
        token_in = p.stablecoin if buy else symbol
        amount = mul_div(ctx.view.balance(self.address, token_in), millionths(self.trade_fraction), SCALE)
        if amount == 0:
            return []
        base, quote = ctx.view.pool_reserves[symbol]
        reserve_in, reserve_out = (quote, base) if buy else (base, quote)
        min_out = mul_div(mul_div(amount, reserve_out, reserve_in + amount), BPS - NOISE_SLIPPAGE_BPS, BPS)
        return [p.swap(symbol, token_in, amount, min_out, self.address)]

    def perp_trade(self, ctx: Context, pick: float, is_long: bool) -> list[Call]:
        p = ctx.protocol
        markets = list(p.markets)
        market = markets[min(int(pick * len(markets)), len(markets) - 1)]
        position = ctx.view.perp_position(self.address, market)
        if position is not None:
            return [p.close_position(market, 0)] if position.equity > 0 else []
        margin = mul_div(ctx.view.balance(self.address, p.stablecoin), millionths(self.trade_fraction), SCALE)
        if margin == 0:
            return []
        return [p.open_position(market, is_long, margin, leverage_wad(self.perp_leverage), 0)]
