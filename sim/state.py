"""Reading the whole protocol back after each block: one batch of ``eth_call``.

The cost of a read does not grow with calls per account: every account's balances, lending
positions, health factors and perp positions come from the lenses (``StateLens``, ``RiskLens``),
one call each for all accounts. A :class:`Snapshot` holds native integers only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sim.amm import MAX_UINT256
from sim.chain import Chain, RpcError
from sim.units import WAD
from sim.protocol import Protocol




@dataclass(frozen=True)
class ReserveSnap:
    supplied: int
    debt: int
    cash: int
    deficit: int


@dataclass(frozen=True)
class MarketSnap:
    mark_wad: int
    index_wad: int | None  # None when the index oracle reverts
    v_base_wad: int
    v_quote_wad: int
    long_base_wad: int
    short_base_wad: int
    cumulative_funding_wad: int


@dataclass(frozen=True)
class PerpPos:
    size_wad: int  # > 0 long
    margin: int  # stablecoin units
    open_notional: int
    unrealized_pnl: int
    pending_funding: int  # owed by the trader when > 0
    liquidatable: bool

    @property
    def equity(self) -> int:
        return self.margin + self.unrealized_pnl - self.pending_funding


@dataclass
class Snapshot:
    """Everything on chain after one block, in native units."""

    block: int
    timestamp_s: int
    pool_reserves: dict[str, tuple[int, int]]  # symbol -> (base, quote)
    pool_shares: dict[str, int]  # symbol -> total LP shares
    reserves: dict[str, ReserveSnap]
    lending_prices: dict[str, int | None]  # 8-decimal USD, what the lending pool would use now
    feeds: dict[str, int]  # the push feeds' answers (8 decimals)
    feed_updated_s: dict[str, int]  # when each feed was last written
    markets: dict[str, MarketSnap]
    insurance_fund: int
    perp_bad_debt: int
    balances: dict[str, dict[str, int]] = field(default_factory=dict)  # account -> token/LP symbol -> units
    lending_positions: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # account -> asset -> (coll, debt)
    health: dict[str, int] = field(default_factory=dict)  # account -> HF (WAD), only accounts with debt
    perp_positions: dict[str, dict[str, PerpPos]] = field(default_factory=dict)  # market -> account -> position

    def balance(self, account: str, symbol: str) -> int:
        return self.balances.get(account, {}).get(symbol, 0)

    def lending_position(self, account: str, asset: str) -> tuple[int, int]:
        return self.lending_positions.get(account, {}).get(asset, (0, 0))

    def perp_position(self, account: str, market: str) -> PerpPos | None:
        return self.perp_positions.get(market, {}).get(account)


def lp_symbol(pool_symbol: str) -> str:
    """The key under which an account's LP shares of a pool appear in ``Snapshot.balances``."""
    return f"LP:{pool_symbol}"


class StateReader:
    """Builds the read batch once, then decodes each block's answers into a Snapshot."""

    def __init__(self, chain: Chain, protocol: Protocol, accounts: Sequence[str]):
        self.chain = chain
        self.protocol = protocol
        self.accounts = list(accounts)
        self._calls: list[tuple[str, str]] = []
        self._decoders: list[Callable[[Snapshot, Any], None]] = []
        self._build()

    def _add(self, contract: str, to: str, fn: str, args: tuple, apply: Callable[[Snapshot, tuple], None], optional: bool = False) -> None:
        codec = self.protocol.codecs[contract]
        self._calls.append((to, codec.encode_call(fn, *args)))

        def decode(snapshot: Snapshot, raw: Any) -> None:
            if isinstance(raw, RpcError):
                if optional:
                    apply(snapshot, None)
                    return
                raise raw
            apply(snapshot, codec.decode_output(fn, raw))

        self._decoders.append(decode)

    def _build(self) -> None:
        p = self.protocol
        for symbol, pool in p.pools.items():
            def reserves(s: Snapshot, out: tuple, symbol=symbol, pool=pool) -> None:
                r0, r1, _ = out
                s.pool_reserves[symbol] = (r0, r1) if pool.base_is_token0 else (r1, r0)
            self._add("ConstantProductPool", pool.address, "getReserves", (), reserves)
            self._add("ConstantProductPool", pool.address, "totalSupply", (),
                      lambda s, out, symbol=symbol: s.pool_shares.__setitem__(symbol, out[0]))
        for symbol in p.lending_oracles:
            token = p.tokens[symbol].address
            self._add("LendingPool", p.lending, "getReserveData", (token,),
                      lambda s, out, symbol=symbol: s.reserves.__setitem__(symbol, ReserveSnap(*out[:4])))
            self._add("LendingPool", p.lending, "getAssetPrice", (token,),
                      lambda s, out, symbol=symbol: s.lending_prices.__setitem__(symbol, None if out is None else out[0]),
                      optional=True)
        for symbol, feed in p.feeds.items():
            def round_data(s: Snapshot, out: tuple, symbol=symbol) -> None:
                _, answer, _, updated_at, _ = out
                s.feeds[symbol] = answer
                s.feed_updated_s[symbol] = updated_at
            self._add("MockAggregator", feed, "latestRoundData", (), round_data)
        for symbol, market in p.markets.items():
            self._add_market(symbol, market.market_id)
        self._add("PerpExchange", p.perp, "insuranceFund", (), lambda s, out: setattr(s, "insurance_fund", out[0]))
        self._add("PerpExchange", p.perp, "badDebt", (), lambda s, out: setattr(s, "perp_bad_debt", out[0]))
        self._add_accounts()

    def _add_market(self, symbol: str, market_id: int) -> None:
        p = self.protocol
        parts: dict[str, Any] = {}

        def keep(name: str) -> Callable[[Snapshot, tuple], None]:
            def apply(s: Snapshot, out: tuple | None) -> None:
                parts[name] = out
                if len(parts) == 2:
                    market = parts["market"][0]
                    s.markets[symbol] = MarketSnap(
                        mark_wad=market[4] * WAD // market[3],  # PerpExchange._markPrice: vQuote × WAD / vBase
                        index_wad=None if parts["index"] is None else parts["index"][0],
                        v_base_wad=market[3],
                        v_quote_wad=market[4],
                        long_base_wad=market[15],
                        short_base_wad=market[16],
                        cumulative_funding_wad=market[14],
                    )
                    parts.clear()
            return apply

        self._add("PerpExchange", p.perp, "indexPrice", (market_id,), keep("index"), optional=True)
        self._add("PerpExchange", p.perp, "getMarket", (market_id,), keep("market"))

    def _add_accounts(self) -> None:
        p = self.protocol
        accounts = self.accounts
        if not accounts:
            return
        token_symbols = list(p.tokens) + [lp_symbol(s) for s in p.pools]
        token_addresses = [t.address for t in p.tokens.values()] + [pool.address for pool in p.pools.values()]

        def balances(s: Snapshot, out: tuple) -> None:
            flat = out[0]
            width = len(token_symbols)
            for i, account in enumerate(accounts):
                row = {sym: flat[i * width + j] for j, sym in enumerate(token_symbols) if flat[i * width + j]}
                if row:
                    s.balances[account] = row

        self._add("StateLens", p.state_lens, "balancesOf", (token_addresses, accounts), balances)

        assets = list(p.lending_oracles)
        asset_addresses = [p.tokens[a].address for a in assets]

        def lending(s: Snapshot, out: tuple) -> None:
            collateral, debt = out
            width = len(assets)
            for i, account in enumerate(accounts):
                row = {
                    a: (collateral[i * width + j], debt[i * width + j])
                    for j, a in enumerate(assets)
                    if collateral[i * width + j] or debt[i * width + j]
                }
                if row:
                    s.lending_positions[account] = row

        self._add("StateLens", p.state_lens, "lendingPositions", (p.lending, asset_addresses, accounts), lending)

        def health(s: Snapshot, out: tuple) -> None:
            s.health = {a: hf for a, hf in zip(accounts, out[0]) if hf != MAX_UINT256}

        self._add("RiskLens", p.risk_lens, "healthFactors", (accounts,), health)
        for symbol, market in p.markets.items():
            def positions(s: Snapshot, out: tuple, symbol=symbol) -> None:
                size, margin, notional, pnl, funding, liquidatable = out[0]
                s.perp_positions[symbol] = {
                    a: PerpPos(size[i], margin[i], notional[i], pnl[i], funding[i], liquidatable[i])
                    for i, a in enumerate(accounts)
                    if size[i] != 0
                }

            self._add("StateLens", p.state_lens, "perpPositions", (p.perp, market.market_id, accounts), positions)

    def read(self, block: int, timestamp_s: int) -> Snapshot:
        snapshot = Snapshot(
            block=block,
            timestamp_s=timestamp_s,
            pool_reserves={},
            pool_shares={},
            reserves={},
            lending_prices={},
            feeds={},
            feed_updated_s={},
            markets={},
            insurance_fund=0,
            perp_bad_debt=0,
        )
        for decode, raw in zip(self._decoders, self.chain.call_many(self._calls)):
            decode(snapshot, raw)
        return snapshot
