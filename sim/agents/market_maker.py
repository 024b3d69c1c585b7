"""The market maker: pool liquidity and spot inventory financed by borrowing, hedged with perp shorts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sim.agents.base import (
    SCALE,
    Agent,
    Context,
    borrow_at_target_usd8,
    leverage_wad,
    millionths,
    reduce_by,
    sliced_opens,
)
from sim.protocol import Call, Protocol, Snapshot, lp_symbol
from sim.record.schema import AgentKind
from sim.units import USD_DECIMALS, USD_UNIT, mul_div, rescale, units_for_usd, usd_value


@dataclass
class MarketMaker(Agent):
    """Starts with ``capital``: ``stable_capital`` of it in the stablecoin, the rest in the asset.

    Set-up: supplies ``collateral_share`` of its altcoin to lending and borrows the stablecoin at
    ``target_health_factor``; keeps ``stable_reserve_share`` of its stablecoins for re-hedging;
    shorts the perp for its whole altcoin inventory at ``hedge_leverage`` and deposits
    ``pool_depth_usd8`` per side into the pool (or what is left for it).

    Each block: if the pool's per-block volatility over ``volatility_window`` blocks exceeds
    ``withdraw_volatility`` it pulls all its liquidity (and stays out). Every
    ``rehedge_interval`` blocks, or at once when its short shrank without it acting (ADL), it
    re-hedges when |delta| exceeds ``rehedge_threshold`` of the inventory: more short, or close
    and re-open smaller (a short with no inventory left is closed). A re-hedge can fail (no stablecoin left for margin, price limits);
    ``hedge_failures`` counts those."""

    asset: str = ""
    market: str = ""
    capital_usd8: int = 0
    stable_capital_usd8: int = 0
    pool_depth_usd8: int = 0
    collateral_share: float = 0.5
    stable_reserve_share: float = 0.0
    target_health_factor: float = 2.0
    hedge_leverage: float = 3.0
    rehedge_interval: int = 10
    rehedge_threshold: float = 0.1
    volatility_window: int = 10
    withdraw_volatility: float = 0.02
    liquidation_threshold_bps: int = 0
    ltv_bps: int = 0
    phase: int = 0  # staggers the re-hedge schedule across market makers
    kind: str = field(default=AgentKind.MARKET_MAKER, init=False)
    withdrew_at_block: int | None = field(default=None, init=False)
    hedge_failures: int = field(default=0, init=False)
    _last_short_wad: int = field(default=0, init=False)
    _closed_own_short: bool = field(default=False, init=False)

    def initial_tokens(self, external: dict[str, int], protocol: Protocol) -> dict[str, int]:
        stable = protocol.stablecoin
        in_asset = self.capital_usd8 - self.stable_capital_usd8
        return {
            self.asset: units_for_usd(in_asset, protocol.tokens[self.asset].decimals, external[self.asset]),
            stable: units_for_usd(self.stable_capital_usd8, protocol.tokens[stable].decimals, USD_UNIT),
        }

    # ---------------------------------------------------------------- exposure

    @property
    def hedged_asset(self) -> str:
        return self.asset

    def inventory(self, ctx: Context) -> int:
        """Altcoin units held in every form: wallet, pool share, lending collateral."""
        return self._inventory(ctx.view)

    def short_units(self, ctx: Context) -> int:
        """The perp short in native altcoin units."""
        return self._short_units(ctx.view, ctx.decimals(self.asset))

    def _inventory(self, view: Snapshot) -> int:
        wallet = view.balance(self.address, self.asset)
        supplied, _ = view.lending_position(self.address, self.asset)
        return wallet + supplied + view.pool_base_of(self.address, self.asset)

    def _short_units(self, view: Snapshot, decimals: int) -> int:
        position = view.perp_position(self.address, self.market)
        if position is None or position.size_wad >= 0:
            return 0
        return rescale(-position.size_wad, 18, decimals)

    def net_delta_usd8(self, view: Snapshot, protocol: Protocol, external: dict[str, int]) -> int:
        """Inventory − perp short in 8-decimal USD at the external price: 0 is hedged, > 0 net long."""
        decimals = protocol.tokens[self.asset].decimals
        units = self._inventory(view) - self._short_units(view, decimals)
        return usd_value(units, decimals, external[self.asset])

    def hedge_usd8(self, view: Snapshot, protocol: Protocol, external: dict[str, int]) -> int:
        """The perp short's size in 8-decimal USD at the external price."""
        decimals = protocol.tokens[self.asset].decimals
        return usd_value(self._short_units(view, decimals), decimals, external[self.asset])

    # ---------------------------------------------------------------- set-up

    def setup(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        stable = p.stablecoin
        asset_units = ctx.view.balance(self.address, self.asset)
        stable_units = ctx.view.balance(self.address, stable)
        supplied = mul_div(asset_units, millionths(self.collateral_share), SCALE)
        supplied_usd8 = ctx.usd_of(self.asset, supplied)
        borrow_usd8 = borrow_at_target_usd8(supplied_usd8, self.liquidation_threshold_bps, self.ltv_bps, self.target_health_factor)
        borrowed = ctx.stable_units(borrow_usd8)
        reserve = mul_div(stable_units + borrowed, millionths(self.stable_reserve_share), SCALE)
        available = stable_units + borrowed - reserve  # the reserve stays in the wallet for re-hedging
        hedge_margin = ctx.stable_units(
            mul_div(ctx.usd_of(self.asset, asset_units), SCALE, millionths(self.hedge_leverage))
        )
        hedge_margin = min(hedge_margin, available)
        lp_quote = max(min(ctx.stable_units(self.pool_depth_usd8), available - hedge_margin), 0)
        lp_quote_usd8 = rescale(lp_quote, ctx.decimals(stable), USD_DECIMALS)
        lp_base = min(ctx.units_for_usd(self.asset, lp_quote_usd8), asset_units - supplied)
        calls = p.approvals([self.asset, stable])
        if supplied > 0:
            calls.append(p.supply(self.asset, supplied, self.address))
        if borrowed > 0:
            calls.append(p.borrow(stable, borrowed, self.address))
        if lp_quote > 0 and lp_base > 0:
            calls.append(p.add_liquidity(self.asset, lp_base, lp_quote, self.address))
        return calls + sliced_opens(p, self.market, False, hedge_margin, self.hedge_leverage)

    # ---------------------------------------------------------------- each block

    def pool_volatility(self, ctx: Context) -> float:
        """Standard deviation of the pool's per-block log returns over the window (computed once
        per context for each pool and window)."""
        key = ("pool_volatility", self.asset, self.volatility_window)
        if key not in ctx.shared:
            ctx.shared[key] = self._pool_volatility(ctx)
        return ctx.shared[key]

    def _pool_volatility(self, ctx: Context) -> float:
        prices = [ctx.pool_price8(self.asset, snap) for snap in list(ctx.history)[-self.volatility_window :]]
        prices = [x for x in prices if x > 0]
        if len(prices) < 3:
            return 0.0
        return float(np.std(np.diff(np.log(np.asarray(prices, dtype=float)))))

    def step(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        calls: list[Call] = []
        shares = ctx.view.balance(self.address, lp_symbol(self.asset))
        if shares > 0 and self.withdrew_at_block is None and self.pool_volatility(ctx) > self.withdraw_volatility:
            calls.append(p.remove_liquidity(self.asset, shares, self.address))
            self.withdrew_at_block = ctx.block
        short = ctx.view.perp_position(self.address, self.market)
        short_wad = -short.size_wad if short is not None and short.size_wad < 0 else 0
        hit = short_wad < self._last_short_wad and not self._closed_own_short  # ADL or liquidation
        self._last_short_wad = short_wad
        self._closed_own_short = False
        if hit or (ctx.block + self.phase) % self.rehedge_interval == 0:
            calls.extend(self.rehedge(ctx))
        return calls

    def rehedge(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        inventory = self.inventory(ctx)
        delta = inventory - self.short_units(ctx)
        if abs(delta) * SCALE <= inventory * millionths(self.rehedge_threshold):  # a naked short (no inventory) is closed
            return []
        price8 = ctx.mark_price8(self.market)
        lev = leverage_wad(self.hedge_leverage)
        spare = ctx.view.balance(self.address, p.stablecoin)
        if delta > 0:
            margin = ctx.stable_units(mul_div(ctx.usd_of(self.asset, delta, price8), SCALE, millionths(self.hedge_leverage)))
            margin = min(margin, spare)
            if margin == 0:
                self.hedge_failures += 1
                return []
            return [p.open_position(self.market, False, margin, lev, 0)]
        # over-hedged: buy back the difference (the whole short when no inventory is left)
        position = ctx.view.perp_position(self.address, self.market)
        if position is None:
            return []
        self._closed_own_short = True
        return [reduce_by(p, self.market, position, rescale(-delta, ctx.decimals(self.asset), 18))]

    def observe(self, failed: Sequence[Call]) -> None:
        super().observe(failed)
        self.hedge_failures += sum(1 for call in failed if call.action == "openPosition")
        if any(call.action == "removeLiquidity" for call in failed):
            self.withdrew_at_block = None  # the withdrawal reverted: it is still in the pool
