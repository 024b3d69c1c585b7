"""What a run records: tidy per-block rows, decoded loss events and per-agent equity.

On-chain amounts stay integers until here; the recorder turns them into float USD columns (units
in the column names) for pandas, and nothing it produces is fed back on chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence
from typing import Protocol as Interface

import pandas as pd

from sim.protocol import MinedBlock, Protocol, Snapshot, lp_symbol
from sim.record.events import EventDecoder
from sim.record.schema import AGENT_COLUMNS, EVENT_COLUMNS, TIMESERIES_COLUMNS, AgentKind, table_file
from sim.record.tables import TableWriter
from sim.scenario.prices import PricePath
from sim.units import WAD, units_float, usd_float, usd_value

NAN = float("nan")


class RecordedAgent(Interface):
    """What the recorder reads of an agent; agents expose it, the recorder never imports them."""

    agent_id: str
    address: str
    kind: str
    failures: int
    hedged_asset: str | None  # the asset whose net delta the agent reports (market makers), or None
    limited_liability: bool  # its positions under water count as nothing (an attacker walks away)

    def off_chain_usd8(self, external: dict[str, int], protocol: Protocol) -> int: ...

    def net_delta_usd8(self, view: Snapshot, protocol: Protocol, external: dict[str, int]) -> int: ...

    def hedge_usd8(self, view: Snapshot, protocol: Protocol, external: dict[str, int]) -> int: ...


def equity_usd8(protocol: Protocol, snapshot: Snapshot, account: str, external: dict[str, int],
                limited_liability: bool = False) -> int:
    """Everything ``account`` owns net of debt, in 8-decimal USD at external prices: tokens, pool
    shares (their share of both reserves), lending collateral − debt, perp margin + PnL − funding,
    and collateral the perp exchange owes it (ADL credits). With ``limited_liability`` (an attacker,
    who walks away) only what it can take out counts: a lending account worth less than nothing
    counts as nothing (its loss is the venue's, :func:`abandoned_usd8`), and an open perp position
    counts as nothing either way (a gain it did not close, at a mark it pushed, is not one)."""
    stable = protocol.stablecoin
    total = 0
    for symbol, token in protocol.tokens.items():
        total += usd_value(snapshot.balance(account, symbol), token.decimals, external[symbol])
    for symbol in protocol.pools:
        shares = snapshot.balance(account, lp_symbol(symbol))
        supply = snapshot.pool_shares.get(symbol, 0)
        if shares and supply:
            base, quote = snapshot.pool_reserves[symbol]
            total += usd_value(base * shares // supply, protocol.tokens[symbol].decimals, external[symbol])
            total += usd_value(quote * shares // supply, protocol.stable.decimals, external[stable])
    lending = _lending_usd8(protocol, snapshot, account, external)
    total += max(lending, 0) if limited_liability else lending + sum(_perp_usd8(protocol, snapshot, account, external))
    total += usd_value(snapshot.perp_credits.get(account, 0), protocol.stable.decimals, external[stable])
    return total


def abandoned_usd8(protocol: Protocol, snapshot: Snapshot, account: str, external: dict[str, int]) -> int:
    """What ``account`` leaves the venues with if it walks away: a lending account's debt above its
    collateral, and each perp position's losses beyond its margin (8-decimal USD, never below 0)."""
    lending = _lending_usd8(protocol, snapshot, account, external)
    return max(-lending, 0) + sum(max(-value, 0) for value in _perp_usd8(protocol, snapshot, account, external))


def underwater_usd8(protocol: Protocol, snapshot: Snapshot, external: dict[str, int]) -> int:
    """The lending pool's loans worth more than their collateral, summed (debt − collateral at
    external prices, 8-decimal USD): the loss it carries but has not recognised as a deficit, since
    a deficit is recorded only when a liquidation takes an account's last collateral."""
    return sum(max(-_lending_usd8(protocol, snapshot, account, external), 0) for account in snapshot.lending_positions)


def _lending_usd8(protocol: Protocol, snapshot: Snapshot, account: str, external: dict[str, int]) -> int:
    return sum(usd_value(collateral - debt, protocol.tokens[symbol].decimals, external[symbol])
               for symbol, (collateral, debt) in snapshot.lending_positions.get(account, {}).items())


def _perp_usd8(protocol: Protocol, snapshot: Snapshot, account: str, external: dict[str, int]) -> list[int]:
    stable = protocol.stablecoin
    return [usd_value(positions[account].equity, protocol.stable.decimals, external[stable])
            for positions in snapshot.perp_positions.values() if account in positions]


@dataclass
class Recorder:
    """Collects a run's tables as it goes: one ``timeseries`` row per block and asset, one
    ``events`` row per loss event, and every agent's equity at the start and the end.

    The columns are declared in :mod:`sim.record.schema`; what is recorded of an agent is what
    :class:`RecordedAgent` exposes."""

    protocol: Protocol
    prices: PricePath
    agents: Sequence[RecordedAgent]
    block_time_s: int
    tables_dir: Path | None = None  # where the tables are streamed; None keeps them in memory
    gas_used_measured: bool = True  # False: the backend's gasUsed is not a chain's, events.gas_used is NaN
    start_equity: dict[str, int] = field(default_factory=dict)
    end_equity: dict[str, int] = field(default_factory=dict)
    walked_away: dict[str, int] = field(default_factory=dict)  # limited-liability agents: positions left under water
    failed_tx: int = 0
    blocks_at_gas_limit: int = 0  # blocks that could not take every transaction offered to them
    txs_delayed: int = 0  # transactions a block took after they had waited in the mempool
    max_inclusion_delay_blocks: int = 0  # the longest such wait
    mempool_txs: int = 0  # transactions waiting in the mempool after the last block

    def __post_init__(self) -> None:
        self._who = {a.address.lower(): a for a in self.agents}
        self._hedgers = [a for a in self.agents if a.hedged_asset]
        self._events = EventDecoder(self.protocol, self._identify)
        self.rows = TableWriter(self._path("timeseries"), [c for c in TIMESERIES_COLUMNS if c != "time_s"],
                                prepare=self._with_time, empty=pd.DataFrame)
        self.events = TableWriter(self._path("events"), EVENT_COLUMNS)

    def _path(self, table: str) -> Path | None:
        return self.tables_dir / table_file(table) if self.tables_dir is not None else None

    def _with_time(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame.insert(TIMESERIES_COLUMNS.index("time_s"), "time_s", frame["block"] * self.block_time_s)
        return frame

    def _identify(self, address: str) -> tuple[str, str]:
        agent = self._who.get(address.lower())
        return (agent.agent_id, agent.kind) if agent else ("", AgentKind.UNKNOWN)

    def _external(self, block: int) -> dict[str, int]:
        return dict(zip(self.prices.symbols, self.prices.usd8[block]))

    # ---------------------------------------------------------------- per block

    def record_state(self, block: int, snapshot: Snapshot, mempool_txs: int = 0) -> None:
        """One ``timeseries`` row per asset for the state after ``block``, after which
        ``mempool_txs`` transactions wait in the mempool."""
        stable_decimals = self.protocol.stable.decimals
        external = self._external(block)
        net_delta: dict[str, int] = {}
        hedge: dict[str, int] = {}
        for agent in self._hedgers:
            asset = agent.hedged_asset
            net_delta[asset] = net_delta.get(asset, 0) + agent.net_delta_usd8(snapshot, self.protocol, external)
            hedge[asset] = hedge.get(asset, 0) + agent.hedge_usd8(snapshot, self.protocol, external)
        common = {
            "insurance_fund_usd": units_float(snapshot.insurance_fund, stable_decimals),
            "perp_bad_debt_usd": units_float(snapshot.perp_bad_debt, stable_decimals),
            "mempool_txs": mempool_txs,
            "lending_underwater_usd": usd_float(underwater_usd8(self.protocol, snapshot, external)),
        }
        for j, symbol in enumerate(self.prices.symbols):
            row: dict[str, Any] = dict.fromkeys(TIMESERIES_COLUMNS, NAN)
            del row["time_s"]  # derived from the block when the table is built
            row.update(block=block, timestamp_s=snapshot.timestamp_s, asset=symbol,
                       external_price_usd=float(self.prices.usd[block, j]), **common)
            if symbol in net_delta:
                row["market_maker_net_delta_usd"] = usd_float(net_delta[symbol])
                row["market_maker_hedge_usd"] = usd_float(hedge[symbol])
            self._venue_columns(row, snapshot, symbol, external[symbol])
            self.rows.append(row)

    def _venue_columns(self, row: dict[str, Any], snapshot: Snapshot, symbol: str, external8: int) -> None:
        """Fill the pool, lending and perp columns of ``symbol``'s row where it has those venues."""
        stable_decimals = self.protocol.stable.decimals
        decimals = self.protocol.tokens[symbol].decimals
        if symbol in snapshot.pool_reserves:
            base, quote = snapshot.pool_reserves[symbol]
            row["amm_price_usd"] = units_float(quote, stable_decimals) / units_float(base, decimals) if base else NAN
            row["pool_depth_usd"] = units_float(quote, stable_decimals)
        if symbol in snapshot.reserves:
            reserve = snapshot.reserves[symbol]
            oracle = snapshot.lending_prices.get(symbol)
            row["oracle_price_usd"] = usd_float(oracle) if oracle else NAN
            row["lending_supplied_usd"] = usd_float(usd_value(reserve.supplied, decimals, external8))
            row["lending_debt_usd"] = usd_float(usd_value(reserve.debt, decimals, external8))
            row["lending_deficit_usd"] = usd_float(usd_value(reserve.deficit, decimals, external8))
        if symbol in snapshot.markets:
            market = snapshot.markets[symbol]
            mark = market.mark_wad / WAD
            row["mark_price_usd"] = mark
            row["index_price_usd"] = market.index_wad / WAD if market.index_wad else NAN
            row["margin_price_usd"] = market.margin_price_wad / WAD if market.margin_price_wad else NAN
            row["open_interest_long_usd"] = market.long_base_wad / WAD * mark
            row["open_interest_short_usd"] = market.short_base_wad / WAD * mark
            row["funding_cumulative_usd_per_base"] = market.cumulative_funding_wad / WAD

    def record_block(self, block: int, mined: MinedBlock, before: Snapshot) -> None:
        """Decode the loss events of a mined block (``before`` gives liquidated sides for ADL) and
        count its failed transactions and its use of block space."""
        self.failed_tx += len(mined.failed())
        self.blocks_at_gas_limit += bool(mined.left_out)
        self.mempool_txs = len(mined.left_out)
        waited = dict(zip((tx.tx_hash for tx in mined.sent), mined.waited_blocks))
        delays = [w for w in mined.waited_blocks if w > 0]
        self.txs_delayed += len(delays)
        self.max_inclusion_delay_blocks = max([self.max_inclusion_delay_blocks, *delays])
        bids = {tx.tx_hash: tx.gas_price_wei for tx in mined.sent}
        external = self._external(block)
        for receipt in mined.receipts:
            if receipt["status"] != "0x1":
                continue
            for log in receipt["logs"]:
                decoded = self._events.decode(log)
                if decoded is not None:
                    gas_used = receipt.get("gasUsed") if self.gas_used_measured else NAN
                    if gas_used is None:
                        raise ValueError(f"transaction {decoded.tx_hash} emitted {decoded.name} but its receipt has no "
                                         "gasUsed: the session must record gas for the loss events (record_gas_used)")
                    row = self._events.row(block, mined.timestamp_s, decoded, gas_used, before, external)
                    row.update(gas_price_wei=bids[decoded.tx_hash], inclusion_delay_blocks=waited[decoded.tx_hash])
                    self.events.append(row)

    # ---------------------------------------------------------------- equity

    def record_equity(self, snapshot: Snapshot, block: int, start: bool) -> None:
        external = self._external(block)
        target = self.start_equity if start else self.end_equity
        for agent in self.agents:
            on_chain = equity_usd8(self.protocol, snapshot, agent.address, external, agent.limited_liability)
            target[agent.address] = on_chain + agent.off_chain_usd8(external, self.protocol)
            if agent.limited_liability and not start:  # what it walked away from: the venues' loss
                self.walked_away[agent.address] = abandoned_usd8(self.protocol, snapshot, agent.address, external)

    # ---------------------------------------------------------------- tables

    def finish(self) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The ``timeseries``, ``events`` and ``agents`` tables, each file closed (and the agents
        table written) when streaming."""
        agents = self.agents_frame()
        if self.tables_dir is not None:
            agents.to_parquet(self._path("agents"), index=False)
        return self.rows.finish(), self.events.finish(), agents

    def agents_frame(self) -> pd.DataFrame:
        rows = []
        for agent in self.agents:
            start = self.start_equity.get(agent.address)
            end = self.end_equity.get(agent.address)
            rows.append({
                "agent_id": agent.agent_id,
                "agent_type": agent.kind,
                "address": agent.address,
                "start_equity_usd": usd_float(start) if start is not None else NAN,
                "end_equity_usd": usd_float(end) if end is not None else NAN,
                "pnl_usd": usd_float(end - start) if start is not None and end is not None else NAN,
                "failed_tx": agent.failures,
                "walked_away_usd": usd_float(self.walked_away.get(agent.address, 0)),
            })
        return pd.DataFrame(rows, columns=list(AGENT_COLUMNS))
