"""Reading the whole protocol back after each block: one batch of ``eth_call``.

Never one call per account: balances come from ``StateLens.balancesOf``, lending positions and
health factors from ``LendingPool.accountsOf`` and perp positions from ``StateLens.perpPositions``
(the exchange's ``positionsOf``), one call each for all the accounts read, and a block reads only
the accounts that can have changed (see :class:`StateReader`). A :class:`Snapshot` holds native
integers only.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence

from sim.chain import Backend, RpcError
from sim.protocol.amm import MAX_UINT256
from sim.protocol.calls import Protocol
from sim.units import WAD


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
    margin_price_wad: int | None  # what margin checks read now; None when the index oracle reverts


@dataclass(frozen=True)
class PerpPos:
    size_wad: int  # > 0 long
    margin: int  # stablecoin units
    open_notional: int
    unrealized_pnl: int
    pending_funding: int  # owed by the trader when > 0
    liquidatable: bool
    adl_score: int = 0  # WAD, at the margin price; 0 when not in profit

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
    perp_credits: dict[str, int] = field(default_factory=dict)  # account -> stablecoin units ADL credited

    def balance(self, account: str, symbol: str) -> int:
        return self.balances.get(account, {}).get(symbol, 0)

    def lending_position(self, account: str, asset: str) -> tuple[int, int]:
        return self.lending_positions.get(account, {}).get(asset, (0, 0))

    def perp_position(self, account: str, market: str) -> PerpPos | None:
        return self.perp_positions.get(market, {}).get(account)

    def pool_base_of(self, account: str, symbol: str) -> int:
        """The base tokens behind ``account``'s LP shares of ``symbol``'s pool."""
        shares = self.balance(account, lp_symbol(symbol))
        total = self.pool_shares.get(symbol, 0)
        return self.pool_reserves[symbol][0] * shares // total if total else 0


def lp_symbol(pool_symbol: str) -> str:
    """The key under which an account's LP shares of a pool appear in ``Snapshot.balances``."""
    return f"LP:{pool_symbol}"


class StateReader:
    """Builds the protocol-wide part of the read batch once; each block adds the account part.

    A full read (``previous`` None: set-up and checks) reads every account. A block's read reads
    only the accounts whose values can have changed, and carries the others over from
    ``previous``, so it equals a full read at a cost that follows the block's activity and the
    open positions, not the number of accounts:

    * token and LP balances: the accounts ``touched`` by the block (senders, and every address
      in a transfer or protocol event), the only ones whose balances can differ;
    * lending positions and health factors: every holder of a position in ``previous`` (interest
      and prices move them every block) plus the touched accounts (the only ones that can open one);
    * perp positions, per market: its holders in ``previous`` plus the touched accounts.
    """

    def __init__(self, backend: Backend, protocol: Protocol, accounts: Sequence[str]):
        self.backend = backend
        self.protocol = protocol
        self.accounts = list(accounts)
        self._order = {a: i for i, a in enumerate(self.accounts)}
        self._calls: list[tuple[str, str]] = []
        self._decoders: list[Callable[[Snapshot, Any], None]] = []
        self._build()

    def _add(self, contract: str, to: str, fn: str, args: tuple, apply: Callable[[Snapshot, tuple], None], optional: bool = False) -> None:
        call, decode = self._request(contract, to, fn, args, apply, optional)
        self._calls.append(call)
        self._decoders.append(decode)

    def _request(
        self, contract: str, to: str, fn: str, args: tuple, apply: Callable[[Snapshot, Any], None], optional: bool = False
    ) -> tuple[tuple[str, str], Callable[[Snapshot, Any], None]]:
        codec = self.protocol.codecs[contract]

        def decode(snapshot: Snapshot, raw: Any) -> None:
            if isinstance(raw, RpcError):
                if optional:
                    apply(snapshot, None)
                    return
                raise raw
            apply(snapshot, codec.decode_output(fn, raw))

        return (to, codec.encode_call(fn, *args)), decode

    def _build(self) -> None:
        p = self.protocol
        for symbol, pool in p.pools.items():
            def reserves(s: Snapshot, out: tuple, symbol=symbol, pool=pool) -> None:
                r0, r1 = out.reserve0, out.reserve1
                s.pool_reserves[symbol] = (r0, r1) if pool.base_is_token0 else (r1, r0)
            self._add("ConstantProductPool", pool.address, "getReserves", (), reserves)
            self._add("ConstantProductPool", pool.address, "totalSupply", (),
                      lambda s, out, symbol=symbol: s.pool_shares.__setitem__(symbol, out[0]))
        for symbol in p.lending_oracles:
            if p.aave is None:
                self._add_reserve(symbol)
            else:
                self._add_aave_reserve(symbol)
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
        self._token_symbols = list(p.tokens) + [lp_symbol(s) for s in p.pools]
        self._token_addresses = [t.address for t in p.tokens.values()] + [pool.address for pool in p.pools.values()]
        self._lending_assets = self._listed_reserves()

    def _add_reserve(self, symbol: str) -> None:
        p = self.protocol
        token = p.tokens[symbol].address
        self._add("LendingPool", p.lending, "getReserveData", (token,),
                  lambda s, out: s.reserves.__setitem__(symbol, ReserveSnap(
                      supplied=out.totalSupplied, debt=out.totalDebt, cash=out.cash, deficit=out.deficit)))
        self._add("LendingPool", p.lending, "getAssetPrice", (token,),
                  lambda s, out: s.lending_prices.__setitem__(symbol, None if out is None else out[0]), optional=True)

    def _add_aave_reserve(self, symbol: str) -> None:
        """An Aave reserve: supplied = its aToken's supply, debt = its variable debt token's, cash =
        the underlying its aToken holds. Aave v3.0–3.2 keep no deficit: :meth:`read` sets it to the
        debt of the run's accounts left without collateral."""
        p = self.protocol
        token, reserve = p.tokens[symbol].address, p.aave.reserves[symbol]
        parts: dict[str, int] = {}

        def keep(name: str) -> Callable[[Snapshot, tuple], None]:
            def apply(s: Snapshot, out: tuple) -> None:
                parts[name] = out[0]
                if len(parts) == 3:
                    s.reserves[symbol] = ReserveSnap(supplied=parts["supplied"], debt=parts["debt"], cash=parts["cash"], deficit=0)
                    parts.clear()
            return apply

        self._add("SimToken", reserve.a_token, "totalSupply", (), keep("supplied"))
        self._add("SimToken", reserve.variable_debt_token, "totalSupply", (), keep("debt"))
        self._add("SimToken", token, "balanceOf", (reserve.a_token,), keep("cash"))
        self._add("AaveOracle", p.aave.oracle, "getAssetPrice", (token,),
                  lambda s, out: s.lending_prices.__setitem__(symbol, out[0] if out is not None and out[0] else None),
                  optional=True)

    def _add_market(self, symbol: str, market_id: int) -> None:
        p = self.protocol
        parts: dict[str, Any] = {}

        def keep(name: str) -> Callable[[Snapshot, tuple], None]:
            def apply(s: Snapshot, out: tuple | None) -> None:
                parts[name] = out
                if len(parts) == 3:
                    market = parts["market"][0]  # the MarketState struct, by field name
                    s.markets[symbol] = MarketSnap(
                        mark_wad=market.vQuote * WAD // market.vBase,  # PricingLogic.vammPrice: vQuote × WAD / vBase
                        index_wad=None if parts["index"] is None else parts["index"][0],
                        v_base_wad=market.vBase,
                        v_quote_wad=market.vQuote,
                        long_base_wad=market.longBase,
                        short_base_wad=market.shortBase,
                        cumulative_funding_wad=market.cumulativeFundingWad,
                        margin_price_wad=None if parts["margin"] is None else parts["margin"][0],
                    )
                    parts.clear()
            return apply

        self._add("PerpExchange", p.perp, "indexPrice", (market_id,), keep("index"), optional=True)
        self._add("PerpExchange", p.perp, "marginPrice", (market_id,), keep("margin"), optional=True)
        self._add("PerpExchange", p.perp, "marketState", (market_id,), keep("market"))

    def _listed_reserves(self) -> list[str]:
        """The lending pool's reserves (symbols) in its own order, as ``accountsOf`` reports them."""
        p = self.protocol
        if not p.lending:
            return []
        if p.aave is not None:
            return list(p.aave.reserves)  # aaveAccountsOf reads them in this order
        codec = p.codecs["LendingPool"]
        raw = self.backend.call_many([(p.lending, codec.encode_call("getReservesList"))])[0]
        if isinstance(raw, RpcError):
            raise raw
        symbol_of = {t.address.lower(): symbol for symbol, t in p.tokens.items()}
        return [symbol_of[address.lower()] for address in codec.decode_output("getReservesList", raw)[0]]

    def _accounts_to_read(
        self, previous: Snapshot | None, touched: Iterable[str]
    ) -> tuple[list[str], list[str], dict[str, list[str]]]:
        """The accounts whose balances, lending positions and (per market) perp positions a read
        asks for: everyone in a full read, else those that can have changed (see the class)."""
        markets = self.protocol.markets
        if previous is None:
            everyone = self.accounts
            return everyone, everyone, {m: everyone for m in markets}
        fresh = {a for a in touched if a in self._order}
        lending_accounts = sorted(fresh | previous.lending_positions.keys())  # every debtor holds a position
        return sorted(fresh), lending_accounts, {m: sorted(fresh | previous.perp_positions.get(m, {}).keys()) for m in markets}

    def _account_requests(self, previous: Snapshot | None, touched: Iterable[str]) -> list[tuple[tuple[str, str], Callable[[Snapshot, Any], None]]]:
        """The per-account calls of one read, and decoders that fill the new snapshot's account
        tables (rows carried over from ``previous`` where the account is not read)."""
        p = self.protocol
        balance_accounts, lending_accounts, market_accounts = self._accounts_to_read(previous, touched)
        requests = []
        symbols, assets = self._token_symbols, self._lending_assets

        width = len(symbols)

        def balances(s: Snapshot, out: tuple) -> None:
            flat = out.balances
            s.balances = self._carried(
                previous.balances if previous else None, balance_accounts,
                lambda i: {sym: flat[i * width + j] for j, sym in enumerate(symbols) if flat[i * width + j]},
            )

        requests.append(self._request("StateLens", p.state_lens, "balancesOf", (self._token_addresses, balance_accounts), balances))
        if assets:

            def lending(s: Snapshot, out: tuple) -> None:
                collateral, debt, health = out.collateral, out.debt, out.healthFactorWad
                n = len(assets)
                s.lending_positions = self._carried(
                    previous.lending_positions if previous else None, lending_accounts,
                    lambda i: {a: (collateral[i * n + j], debt[i * n + j]) for j, a in enumerate(assets)
                               if collateral[i * n + j] or debt[i * n + j]},
                )
                s.health = self._carried(previous.health if previous else None, lending_accounts,
                                         lambda i: health[i] if health[i] != MAX_UINT256 else None)

            if p.aave is None:
                requests.append(self._request("LendingPool", p.lending, "accountsOf", (lending_accounts,), lending))
            else:
                reserves = [p.aave.reserves[a] for a in assets]
                args = (p.lending, lending_accounts, [r.a_token for r in reserves], [r.variable_debt_token for r in reserves])
                requests.append(self._request("StateLens", p.state_lens, "aaveAccountsOf", args, lending))
        for symbol, market in p.markets.items():
            traders = market_accounts[symbol]

            def positions(s: Snapshot, out: tuple, symbol: str = symbol, traders: list[str] = traders) -> None:
                view = out[0]  # PositionsView, by field name
                size, margin, notional, pnl = view.sizeBase, view.margin, view.openNotional, view.unrealizedPnl
                funding, liquidatable, score = view.pendingFunding, view.liquidatable, view.adlScore
                carried = previous.perp_positions.get(symbol, {}) if previous else None
                s.perp_positions[symbol] = self._carried(
                    carried, traders,
                    lambda i: PerpPos(size[i], margin[i], notional[i], pnl[i], funding[i], liquidatable[i], score[i])
                    if size[i] else None,
                )

            requests.append(self._request("StateLens", p.state_lens, "perpPositions", (p.perp, market.market_id, traders), positions))
        if p.markets:

            def credits(s: Snapshot, out: tuple) -> None:
                owed = out[0]
                s.perp_credits = self._carried(previous.perp_credits if previous else None, balance_accounts,
                                               lambda i: owed[i] or None)

            requests.append(self._request("StateLens", p.state_lens, "perpCredits", (p.perp, balance_accounts), credits))
        return requests

    def _carried(self, previous: dict[str, Any] | None, accounts: Sequence[str], row: Callable[[int], Any]) -> dict[str, Any]:
        """An account table: ``previous``'s rows (when given), with ``accounts[i]``'s row replaced by
        ``row(i)``, or dropped when that is empty (None or an empty dict). Rows stay in the
        reader's account order, as a full read gives them."""
        table = dict(previous) if previous is not None else {}
        added = False
        for i, account in enumerate(accounts):
            value = row(i)
            if value is None or value == {}:
                table.pop(account, None)
            else:
                added = added or account not in table
                table[account] = value
        if added and previous is not None:
            table = dict(sorted(table.items(), key=lambda item: self._order[item[0]]))
        return table

    def read(self, block: int, timestamp_s: int, previous: Snapshot | None = None, touched: Iterable[str] = ()) -> Snapshot:
        """The protocol after ``block``: every account (``previous`` None), or the accounts that can
        have changed since ``previous`` given the block's ``touched`` addresses (lowercase)."""
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
        account_requests = self._account_requests(previous, touched)
        calls = self._calls + [call for call, _ in account_requests]
        decoders = self._decoders + [decode for _, decode in account_requests]
        for decode, raw in zip(decoders, self.backend.call_many(calls)):
            decode(snapshot, raw)
        if self.protocol.aave is not None:
            _unbacked_debt_as_deficit(snapshot, self.protocol.aave.collateral)
        return snapshot


def _unbacked_debt_as_deficit(snapshot: Snapshot, collateral_assets: frozenset[str]) -> None:
    """Aave v3.0–3.2 keep the debt of an account with no collateral left on its books; count it as
    the reserve's deficit, as LendingPool (and Aave v3.3) write it off. Collateral is a balance in
    a reserve with a liquidation threshold (``collateral_assets``). Only the run's accounts are
    seen: on a fork of a live market, other users' bad debt is not counted."""
    unbacked: dict[str, int] = {}
    for positions in snapshot.lending_positions.values():
        if not any(collateral for asset, (collateral, _) in positions.items() if asset in collateral_assets):
            for asset, (_, debt) in positions.items():
                unbacked[asset] = unbacked.get(asset, 0) + debt
    for asset, debt in unbacked.items():
        snapshot.reserves[asset] = replace(snapshot.reserves[asset], deficit=debt)

