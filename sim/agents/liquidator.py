"""The liquidator bot: lending and perp liquidations, seized collateral sold into the pool at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from sim.agents.base import Context, StablecoinTrader, gas_cost_usd8
from sim.protocol import Call, PerpPos
from sim.protocol.amm import MAX_UINT256, amount_out, max_input_within_slippage
from sim.protocol.constants import (
    DEFAULT_CLOSE_FACTOR_BPS,
    DEFAULT_FULL_LIQUIDATION_HF_WAD,
    MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD8,
    MIN_LEFTOVER_BASE_USD8,
)
from sim.record.schema import AgentKind
from sim.units import BPS, USD_UNIT, WAD, mul_div, rescale, units_for_usd

MAX_LIQUIDATIONS_PER_BLOCK = 25
SMALLER_COVER_TRIES = 4  # a repayment whose collateral would not sell at a profit is halved up to this often
INTEREST_MARGIN = 1_000  # a full repayment keeps debt / 1,000 of budget for the interest of the blocks it waits
MAX_ADL_COUNTERPARTIES = 8  # the most opposite positions one liquidation offers for ADL, unless the scenario says
# Other liquidators' lists, built from the same state, may use the same counterparties earlier in
# the block; a list offers this many times the liquidated size so skipped entries leave enough.
ADL_COVER_MULTIPLE = 2


def adl_ranking(positions: Mapping[str, PerpPos], liquidated: str, offered: dict[str, int],
                limit: int = MAX_ADL_COUNTERPARTIES) -> list[str]:
    """Opposite positions to offer ``liquidate`` in case the fund cannot cover ``liquidated``'s
    loss: those in profit at its bankruptcy price (the contract skips the others), highest ADL
    score first (then the largest), until their sizes cover ``ADL_COVER_MULTIPLE`` × its size or
    ``limit`` are listed. Positions not yet in profit at the margin price are
    listed too: the liquidation's own exit can put them in profit by the time it runs.

    ``offered`` is the size this block's earlier liquidations expect to use, per counterparty (the
    buffer beyond the liquidated size is not counted): a position expected in full is not offered
    again, so later liquidations list the next ones."""
    target = positions[liquidated]
    size_wad = abs(target.size_wad)
    opposite = [
        (trader, p) for trader, p in positions.items()
        if trader != liquidated and (p.size_wad > 0) != (target.size_wad > 0)
        and offered.get(trader, 0) < abs(p.size_wad) and profits_at_bankruptcy(p, target)
    ]
    opposite.sort(key=lambda item: (-item[1].adl_score, -abs(item[1].size_wad), item[0]))
    ranking, covered, expected = [], 0, 0
    for trader, p in opposite[:limit]:
        ranking.append(trader)
        free = abs(p.size_wad) - offered.get(trader, 0)
        take = min(free, max(size_wad - expected, 0))  # what this liquidation should use
        offered[trader] = offered.get(trader, 0) + take
        expected += take
        covered += free
        if covered >= ADL_COVER_MULTIPLE * size_wad:
            break
    return ranking


def profits_at_bankruptcy(candidate: PerpPos, liquidated: PerpPos) -> bool:
    """Whether ``candidate`` gains when filled at ``liquidated``'s bankruptcy price: (N ∓ M) / S for
    a liquidated long / short (N open notional, M margin − funding owed, S size). Compared cross-
    multiplied in integers: a short candidate needs N_c × S > |S_c| × (N − M), a long one
    |S_c| × (N + M) > N_c × S."""
    equity = liquidated.margin - liquidated.pending_funding
    size = abs(liquidated.size_wad)
    if liquidated.size_wad > 0:
        return candidate.open_notional * size > abs(candidate.size_wad) * (liquidated.open_notional - equity)
    return abs(candidate.size_wad) * (liquidated.open_notional + equity) > candidate.open_notional * size


@dataclass
class Liquidator(StablecoinTrader):
    """Holds ``capital`` in the stablecoin. Each block, from the state it has seen (its latency):

    1. sells every non-stable token it holds (seized collateral) into that token's pool, as much as
       fits within ``max_slippage`` of the pool price it saw (the rest waits for the next block);
    2. liquidates every perp position the lens marks liquidatable (no capital needed), offering the
       opposite side's most profitable positions for ADL (``adl_ranking``);
    3. liquidates lending accounts with health factor below 1, largest debt first, repaying the
       stablecoin debt out of its own inventory (what the venue's rules let one call repay, see
       :meth:`debt_to_cover`), seizing the account's largest collateral.

    Its gas bid orders it against the other liquidators; a losing bid's transaction reverts.

    With ``require_profit`` it liquidates only when that pays, as a bot that prices its trades
    does: a loan when selling the seized collateral (the repayment × the bonus, at the lending
    price) into its pool, after what the bot already holds or seized this block, returns more than
    the repayment plus the call's gas (a smaller repayment, down to a sixteenth, is tried when the
    close factor's one does not pay); a perp position when the fee (``perp_fee_bps`` of its
    notional at the margin price) is above the gas. Without it, it liquidates whatever it can."""

    max_slippage: float = 0.05
    close_factor_bps: int = DEFAULT_CLOSE_FACTOR_BPS  # the pool's own defaults until the scenario sets them
    full_liquidation_hf_wad: int = DEFAULT_FULL_LIQUIDATION_HF_WAD
    rules: str = "v3.0"  # the lending venue's liquidation rules: "v3.0" or "v3.3"
    receive_a_token: bool = False  # take seized collateral as a supply claim instead of tokens
    liquidation_bonus_bps: dict[str, int] = field(default_factory=dict)  # per collateral asset
    require_profit: bool = False
    perp_fee_bps: dict[str, int] = field(default_factory=dict)  # per market: the liquidator's fee
    max_adl_counterparties: int = MAX_ADL_COUNTERPARTIES  # the longest ADL list one liquidation offers
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
            offered: dict[str, int] = {}
            for trader, position in positions.items():
                if position.liquidatable and trader != self.address:
                    ranking = adl_ranking(positions, trader, offered, self.max_adl_counterparties)
                    call = ctx.protocol.liquidate_position(trader, market, ranking)
                    if not self.require_profit or self.perp_fee_pays(ctx, market, position, call):
                        calls.append(call)
        return calls[:MAX_LIQUIDATIONS_PER_BLOCK]

    def liquidate_loans(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        stable = p.stablecoin
        budget = ctx.view.balance(self.address, stable)
        unhealthy = [a for a, hf in ctx.view.health.items() if hf < WAD and a != self.address]
        unhealthy.sort(key=lambda a: (-ctx.view.lending_position(a, stable)[1], a))
        calls = []
        selling = {symbol: ctx.view.balance(self.address, symbol) for symbol in p.pools}  # ahead in the pools
        for user in unhealthy[:MAX_LIQUIDATIONS_PER_BLOCK]:
            if budget == 0:
                break
            collateral = self.best_collateral(ctx, user)
            _, debt = ctx.view.lending_position(user, stable)
            if collateral is None or debt == 0:
                continue
            cover = self.debt_to_cover(ctx, user, collateral, debt, budget)
            if cover > 0 and self.require_profit:
                cover = self.paying_cover(ctx, user, collateral, cover, selling)
            if cover == 0:
                continue
            # Under v3.3 "all of it" must be all of it when the call runs, interest accrued since
            # this view included, or the few units left trip MustNotLeaveDust: ask for the maximum
            # (the pool takes what is owed) when the budget covers a margin over the debt seen.
            room_for_interest = budget >= debt + debt // INTEREST_MARGIN + 1
            ask = MAX_UINT256 if self.rules == "v3.3" and cover == debt and room_for_interest else cover
            calls.append(p.liquidation_call(collateral, stable, user, ask, self.receive_a_token))
            budget -= cover
        return calls

    def paying_cover(self, ctx: Context, user: str, collateral: str, cover: int, selling: dict[str, int]) -> int:
        """``cover``, or the largest of its halvings (v3.0 rules only: v3.3 has its dust rule) whose
        liquidation pays (:meth:`lending_profit`); 0 when none does. Adds what it seizes to
        ``selling``."""
        tries = SMALLER_COVER_TRIES if self.rules == "v3.0" else 0
        for _ in range(tries + 1):
            profit, seized = self.lending_profit(ctx, user, collateral, cover, selling.get(collateral, 0))
            if profit > 0:
                selling[collateral] = selling.get(collateral, 0) + seized
                return cover
            cover //= 2
            if cover == 0:
                break
        return 0

    def lending_profit(self, ctx: Context, user: str, collateral: str, cover: int, ahead: int) -> tuple[int, int]:
        """``(profit, seized)``: stablecoin units gained by repaying ``cover`` of ``user``'s debt
        and selling the collateral seized for it into its pool after ``ahead`` units already on
        their way there (kept as a supply claim with ``receive_a_token``: worth the pool's spot
        price, or the lending price when it has no pool); the call's gas counted at this bot's bid.
        A collateral it would have to sell and has no pool for never pays."""
        view, p = ctx.view, ctx.protocol
        stable = p.stablecoin
        price8 = view.lending_prices.get(collateral)
        pool = p.pools.get(collateral)
        if not price8 or (pool is None and not self.receive_a_token):
            return -1, 0  # nowhere to sell it
        cover_usd8 = ctx.usd_of(stable, cover, view.lending_prices.get(stable) or USD_UNIT)
        bonus_bps = self.liquidation_bonus_bps.get(collateral, BPS)
        seized = min(units_for_usd(mul_div(cover_usd8, bonus_bps, BPS), ctx.decimals(collateral), price8),
                     view.lending_position(user, collateral)[0])
        base, quote = view.pool_reserves[collateral] if pool is not None else (0, 0)
        if self.receive_a_token:  # kept as a supply claim: worth the pool's spot, or the lending price without a pool
            proceeds = mul_div(seized, quote, base) if base else ctx.stable_units(ctx.usd_of(collateral, seized, price8))
        elif base == 0:
            return -1, 0
        else:
            sold_first = amount_out(ahead, base, quote, pool.fee_bps) if ahead else 0
            proceeds = amount_out(seized, base + ahead, quote - sold_first, pool.fee_bps)
        gas = p.liquidation_call(collateral, stable, user, cover, self.receive_a_token).gas * self.gas_price_wei
        return proceeds - cover - ctx.stable_units(gas_cost_usd8(gas, ctx.external)), seized

    def perp_fee_pays(self, ctx: Context, market: str, position: PerpPos, call: Call) -> bool:
        """Whether the fee for liquidating ``position`` (its notional at the market's margin price ×
        the market's fee) is above the gas of ``call`` at this bot's bid. A large position is
        liquidated in chunks, each paying its share: a chunk of $20k or more pays far more than a
        liquidation's gas, so the whole notional stands in for it."""
        notional_wad = mul_div(abs(position.size_wad), ctx.view.markets[market].margin_price_wad, WAD)
        notional = rescale(notional_wad, 18, ctx.decimals(ctx.protocol.stablecoin))
        fee = mul_div(notional, self.perp_fee_bps.get(market, 0), BPS)
        return fee > ctx.stable_units(gas_cost_usd8(call.gas * self.gas_price_wei, ctx.external))

    def debt_to_cover(self, ctx: Context, user: str, collateral: str, debt: int, budget: int) -> int:
        """What one call may repay of ``user``'s ``debt`` (stablecoin units), within ``budget``.

        v3.0: the close factor's share, all of it at or below the full-liquidation health factor.
        v3.3: all of it unless the collateral and the debt are both worth at least $2,000 and the
        health factor is above that line; and a call that leaves debt must leave at least $1,000
        of debt and of collateral (``MustNotLeaveDust``): it then repays all (0 when the budget
        cannot), or leaves exactly $1,000 of debt."""
        view, stable = ctx.view, ctx.protocol.stablecoin
        full = view.health[user] <= self.full_liquidation_hf_wad
        debt_usd8 = ctx.usd_of(stable, debt, view.lending_prices.get(stable))
        collateral_usd8 = ctx.usd_of(collateral, view.lending_position(user, collateral)[0], view.lending_prices.get(collateral))
        if self.rules == "v3.3" and min(debt_usd8, collateral_usd8) < MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD8:
            full = True
        cover = min(budget, debt if full else mul_div(debt, self.close_factor_bps, BPS))
        if self.rules != "v3.3" or cover == debt:
            return cover
        cover_usd8 = ctx.usd_of(stable, cover, view.lending_prices.get(stable))
        bonus_bps = self.liquidation_bonus_bps.get(collateral, BPS)
        collateral_left_usd8 = collateral_usd8 - mul_div(cover_usd8, bonus_bps, BPS)
        if collateral_left_usd8 <= 0:
            return cover  # the call takes all the collateral: no dust rule
        if debt_usd8 - cover_usd8 >= MIN_LEFTOVER_BASE_USD8 and collateral_left_usd8 >= MIN_LEFTOVER_BASE_USD8:
            return cover
        if budget >= debt:
            return debt
        leave = units_for_usd(MIN_LEFTOVER_BASE_USD8, ctx.decimals(stable), view.lending_prices.get(stable) or USD_UNIT) + 1
        return max(min(budget, debt - leave), 0) if collateral_left_usd8 >= MIN_LEFTOVER_BASE_USD8 else 0

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
