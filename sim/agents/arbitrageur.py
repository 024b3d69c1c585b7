"""The arbitrageur: pools toward the external price, perp marks toward the index, capital-limited."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

from sim.agents.base import SCALE, Context, StablecoinTrader, leverage_wad, millionths, reduce_by
from sim.protocol import Call, Protocol
from sim.protocol.amm import amount_out, input_to_reach_price
from sim.record.schema import AgentKind
from sim.units import BPS, USD_UNIT, WAD, mul_div, rescale, units_for_usd, usd_value

MIN_OUT_TOLERANCE_BPS = 100  # the state may move between the view and execution


@dataclass
class Refill:
    """Proceeds of an off-chain sale, due back from the venue; ``shipment`` is the transfer that
    sent the goods (no refill if it reverted)."""

    due_block: int
    symbol: str
    amount: int
    shipment: Call | None = None


@dataclass
class Arbitrageur(StablecoinTrader):
    """Holds half its capital in the stablecoin and half in the pooled assets, each pool getting
    the share ``pool_weights`` gives it (proportional to depth: thin pools get little capital).

    **Spot:** when a pool's price is more than ``threshold`` off the external price, it makes the
    trade that would close ``gap_share`` of the gap (rival arbitrageurs see the same gap in the
    same block; at most ``max_trade_fraction`` of what it holds), then settles
    the other leg at the external venue: what it bought is sent out at once, and the proceeds come
    back ``refill_delay_blocks`` later (bridges and fiat rails; they jammed in the crash). Until
    then that capital is gone.

    **Perps:** when the mark is more than ``threshold`` off the index it opens (or adds to) a
    position at ``perp_leverage`` sized to close ``gap_share`` of the gap, capital permitting. It holds the position
    while the mark stays within the threshold and closes it once the mark is more than the
    threshold off on the other side (closing it earlier would push the mark straight back)."""

    venue: str = ""  # the address standing for the off-chain market
    threshold: float = 0.005
    gap_share: float = 1.0  # share of the gap it closes per block (rivals see the same gap)
    max_trade_fraction: float = 0.5
    refill_delay_blocks: int = 25
    perp_leverage: float = 2.0
    pool_weights: dict[str, float] = field(default_factory=dict)  # pools traded, share of capital by depth
    markets: list[str] | None = None  # perp markets traded (None: all)
    kind: str = field(default=AgentKind.ARBITRAGEUR, init=False)
    pending: list[Refill] = field(default_factory=list, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        stable = protocol.stablecoin
        half = self.capital_usd8 // 2
        tokens = {stable: units_for_usd(half, protocol.tokens[stable].decimals, USD_UNIT)}
        for symbol in self.pool_weights:
            share = mul_div(half, millionths(self.weight(symbol)), SCALE)
            tokens[symbol] = units_for_usd(share, protocol.tokens[symbol].decimals, external[symbol])
        return tokens

    def weight(self, symbol: str) -> float:
        return self.pool_weights.get(symbol, 0.0)

    def step(self, ctx: Context) -> list[Call]:
        calls = self.collect_refills(ctx)
        spare = {s: ctx.view.balance(self.address, s) for s in ctx.protocol.tokens}
        for symbol in self.pool_weights:
            calls.extend(self.arbitrage_pool(ctx, symbol, spare))
        for market in ctx.protocol.markets if self.markets is None else self.markets:
            calls.extend(self.arbitrage_perp(ctx, market, spare))
        return calls

    def off_chain_usd8(self, external: dict[str, int], protocol: Protocol) -> int:
        """Proceeds still on their way back from the venue, at external prices."""
        return sum(
            usd_value(r.amount, protocol.tokens[r.symbol].decimals, external[r.symbol]) for r in self.pending
        )

    def observe(self, failed: Sequence[Call]) -> None:
        """A shipment to the venue that reverted sold nothing: drop its refill."""
        super().observe(failed)
        self.pending = [r for r in self.pending if not any(r.shipment is call for call in failed)]

    def collect_refills(self, ctx: Context) -> list[Call]:
        due = [r for r in self.pending if r.due_block <= ctx.block]
        self.pending = [r for r in self.pending if r.due_block > ctx.block]
        return [ctx.protocol.transfer_from(r.symbol, self.venue, self.address, r.amount) for r in due]

    def arbitrage_pool(self, ctx: Context, symbol: str, spare: dict[str, int]) -> list[Call]:
        p = ctx.protocol
        stable = p.stablecoin
        pool_price = ctx.pool_price8(symbol)
        external = ctx.external[symbol]
        if pool_price == 0 or abs(pool_price - external) * SCALE <= external * millionths(self.threshold):
            return []
        reserve_base, reserve_quote = ctx.view.pool_reserves[symbol]
        fee = p.pools[symbol].fee_bps
        base_unit, quote_unit = 10 ** ctx.decimals(symbol), 10 ** ctx.decimals(stable)
        if pool_price < external:  # cheap on chain: pay stablecoins, receive the asset
            token_in, token_out = stable, symbol
            wanted = input_to_reach_price(reserve_quote, reserve_base, base_unit * USD_UNIT, external * quote_unit, fee)
            reserves = (reserve_quote, reserve_base)
        else:  # dear on chain: sell the asset for stablecoins
            token_in, token_out = symbol, stable
            wanted = input_to_reach_price(reserve_base, reserve_quote, external * quote_unit, base_unit * USD_UNIT, fee)
            reserves = (reserve_base, reserve_quote)
        wanted = mul_div(wanted, millionths(self.gap_share), SCALE)
        budget = spare[token_in] if token_in == symbol else mul_div(spare[token_in], millionths(self.weight(symbol)), SCALE)
        size = min(wanted, mul_div(budget, millionths(self.max_trade_fraction), SCALE))
        if size <= 0:
            return []
        out = amount_out(size, reserves[0], reserves[1], fee)
        if out == 0:
            return []
        spare[token_in] -= size
        min_out = mul_div(out, BPS - MIN_OUT_TOLERANCE_BPS, BPS)
        # the other leg at the external price: send out what was bought, receive its value later
        if token_out == symbol:
            proceeds = mul_div(mul_div(min_out, external, base_unit), quote_unit, USD_UNIT)
            refill = Refill(ctx.block + self.refill_delay_blocks, stable, proceeds)
        else:
            proceeds = mul_div(mul_div(min_out, base_unit, quote_unit), USD_UNIT, external)
            refill = Refill(ctx.block + self.refill_delay_blocks, symbol, proceeds)
        shipment = p.transfer(token_out, self.venue, min_out)
        refill.shipment = shipment
        self.pending.append(refill)
        return [p.swap(symbol, token_in, size, min_out, self.address), shipment]

    def arbitrage_perp(self, ctx: Context, market: str, spare: dict[str, int]) -> list[Call]:
        """Trade the vAMM price toward the index by ``gap_share`` of the gap once it is past the
        threshold: reduce a position on the side that widens the gap (by the size that closes that
        share, at most all of it), otherwise open (or add to) the side that closes it."""
        p = ctx.protocol
        snap = ctx.view.markets[market]
        if snap.index_wad is None or snap.index_wad == 0:
            return []
        gap = abs(snap.mark_wad - snap.index_wad) * SCALE
        threshold = snap.index_wad * millionths(self.threshold)
        is_long = snap.mark_wad < snap.index_wad
        position = ctx.view.perp_position(self.address, market)
        if position is not None:
            wrong_side = (position.size_wad > 0) != is_long
            if wrong_side and gap > threshold and position.equity > 0:
                target_base = math.isqrt(snap.v_base_wad * snap.v_quote_wad * WAD // snap.index_wad)
                size = mul_div(abs(target_base - snap.v_base_wad), millionths(self.gap_share), SCALE)
                return [reduce_by(p, market, position, size)] if size > 0 else []
            if wrong_side:
                return []
        if gap <= threshold:
            return []
        k = snap.v_base_wad * snap.v_quote_wad
        target_quote = math.isqrt(k * snap.index_wad // WAD)
        quote_wad = target_quote - snap.v_quote_wad if is_long else snap.v_quote_wad - target_quote
        notional = rescale(mul_div(max(quote_wad, 0), millionths(self.gap_share), SCALE), 18, ctx.decimals(p.stablecoin))
        margin = min(
            mul_div(notional, SCALE, millionths(self.perp_leverage)),
            mul_div(spare[p.stablecoin], millionths(self.max_trade_fraction), SCALE),
        )
        if margin <= 0:
            return []
        spare[p.stablecoin] -= margin
        return [p.open_position(market, is_long, margin, leverage_wad(self.perp_leverage), 0)]
