"""What a run records: tidy per-block rows, decoded loss events and per-agent equity.

On-chain amounts stay integers until here; the recorder turns them into float USD columns (units
in the column names) for pandas, and nothing it produces is fed back on chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.abi import Codec, DecodedLog
from sim.agents import Agent, MarketMaker
from sim.agents.base import Context
from sim.chain import MinedBlock
from sim.prices import PricePath
from sim.protocol import Protocol
from sim.state import Snapshot, lp_symbol
from sim.units import WAD, units_float, usd_float, usd_value

NAN = float("nan")
EVENT_COLUMNS = [
    "block", "timestamp_s", "tx_hash", "log_index", "kind", "venue", "account", "agent_id", "agent_type",
    "side", "asset", "counterparty", "counterparty_type", "notional_usd", "size",
]
LOSS_EVENTS = {"LiquidationCall", "DeficitCreated", "PositionLiquidated", "AutoDeleveraged", "BadDebtRecorded"}


def equity_usd8(protocol: Protocol, snapshot: Snapshot, account: str, external: dict[str, int]) -> int:
    """Everything ``account`` owns net of debt, in 8-decimal USD at external prices: tokens, pool
    shares (their share of both reserves), lending collateral − debt, perp margin + PnL − funding."""
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
    for symbol, (collateral, debt) in snapshot.lending_positions.get(account, {}).items():
        total += usd_value(collateral - debt, protocol.tokens[symbol].decimals, external[symbol])
    for positions in snapshot.perp_positions.values():
        position = positions.get(account)
        if position is not None:
            total += usd_value(position.equity, protocol.stable.decimals, external[stable])
    return total


def market_maker_delta_usd8(protocol: Protocol, snapshot: Snapshot, mm: MarketMaker, external: dict[str, int]) -> int:
    """A market maker's net exposure to its asset (inventory − perp short) in 8-decimal USD at the
    external price: 0 is hedged, > 0 net long."""
    ctx = Context(snapshot.block, snapshot.timestamp_s, protocol, snapshot, [snapshot], external, None)
    return ctx.usd_of(mm.asset, mm.net_delta_units(ctx))


@dataclass
class Recorder:
    protocol: Protocol
    prices: PricePath
    agents: list[Agent]
    rows: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    start_equity: dict[str, int] = field(default_factory=dict)
    end_equity: dict[str, int] = field(default_factory=dict)
    failed_tx: int = 0

    def __post_init__(self) -> None:
        self._who = {a.address.lower(): a for a in self.agents}
        self._market_makers = [a for a in self.agents if isinstance(a, MarketMaker)]
        self._symbol_of = {t.address.lower(): s for s, t in self.protocol.tokens.items()}
        self._market_of = {m.market_id: s for s, m in self.protocol.markets.items()}
        self._codecs: list[tuple[str, Codec]] = [
            (self.protocol.lending.lower(), self.protocol.codecs["LendingPool"]),
            (self.protocol.perp.lower(), self.protocol.codecs["PerpExchange"]),
        ]

    # ---------------------------------------------------------------- per block

    def record_state(self, block: int, snapshot: Snapshot) -> None:
        p = self.protocol
        stable_decimals = p.stable.decimals
        external = self.prices.usd8[block]
        insurance = units_float(snapshot.insurance_fund, stable_decimals)
        external_by_symbol = dict(zip(self.prices.symbols, external))
        mm_delta: dict[str, int] = {}
        for mm in self._market_makers:
            delta = market_maker_delta_usd8(p, snapshot, mm, external_by_symbol)
            mm_delta[mm.asset] = mm_delta.get(mm.asset, 0) + delta
        bad_debt = units_float(snapshot.perp_bad_debt, stable_decimals)
        for j, symbol in enumerate(self.prices.symbols):
            decimals = p.tokens[symbol].decimals
            price = self.prices.usd[block, j]
            row: dict[str, Any] = {
                "block": block,
                "timestamp_s": snapshot.timestamp_s,
                "asset": symbol,
                "external_price_usd": float(price),
                "amm_price_usd": NAN,
                "oracle_price_usd": NAN,
                "mark_price_usd": NAN,
                "index_price_usd": NAN,
                "pool_depth_usd": NAN,
                "lending_supplied_usd": NAN,
                "lending_debt_usd": NAN,
                "lending_deficit_usd": NAN,
                "open_interest_long_usd": NAN,
                "open_interest_short_usd": NAN,
                "insurance_fund_usd": insurance,
                "perp_bad_debt_usd": bad_debt,
                "funding_cumulative_usd_per_base": NAN,
                "market_maker_net_delta_usd": usd_float(mm_delta[symbol]) if symbol in mm_delta else NAN,
            }
            if symbol in snapshot.pool_reserves:
                base, quote = snapshot.pool_reserves[symbol]
                row["amm_price_usd"] = units_float(quote, stable_decimals) / units_float(base, decimals) if base else NAN
                row["pool_depth_usd"] = units_float(quote, stable_decimals)
            if symbol in snapshot.reserves:
                reserve = snapshot.reserves[symbol]
                oracle = snapshot.lending_prices.get(symbol)
                row["oracle_price_usd"] = usd_float(oracle) if oracle else NAN
                row["lending_supplied_usd"] = usd_float(usd_value(reserve.supplied, decimals, external[j]))
                row["lending_debt_usd"] = usd_float(usd_value(reserve.debt, decimals, external[j]))
                row["lending_deficit_usd"] = usd_float(usd_value(reserve.deficit, decimals, external[j]))
            if symbol in snapshot.markets:
                market = snapshot.markets[symbol]
                mark = market.mark_wad / WAD
                row["mark_price_usd"] = mark
                row["index_price_usd"] = market.index_wad / WAD if market.index_wad else NAN
                row["open_interest_long_usd"] = market.long_base_wad / WAD * mark
                row["open_interest_short_usd"] = market.short_base_wad / WAD * mark
                row["funding_cumulative_usd_per_base"] = market.cumulative_funding_wad / WAD
            self.rows.append(row)

    def record_block(self, block: int, mined: MinedBlock, before: Snapshot) -> None:
        """Decode the loss events of a mined block (``before`` gives liquidated sides for ADL)."""
        self.failed_tx += len(mined.failed())
        for receipt in mined.receipts:
            if receipt["status"] != "0x1":
                continue
            for log in receipt["logs"]:
                decoded = self._decode(log)
                if decoded is not None:
                    self.events.append(self._event_row(block, mined.timestamp_s, decoded, before))

    def _decode(self, log: dict[str, Any]) -> DecodedLog | None:
        address = log["address"].lower()
        for owner, codec in self._codecs:
            if address == owner:
                event = codec.events.get(log["topics"][0]) if log["topics"] else None
                if event is None or event.name not in LOSS_EVENTS:
                    return None  # decode only what is recorded
                return codec.decode_log(log)
        return None

    def _kind_of(self, address: str) -> tuple[str, str]:
        agent = self._who.get(address.lower())
        return (agent.agent_id, agent.kind) if agent else ("", "unknown")

    def _event_row(self, block: int, timestamp_s: int, log: DecodedLog, before: Snapshot) -> dict[str, Any]:
        a = log.args
        p = self.protocol
        external = dict(zip(self.prices.symbols, self.prices.usd8[block]))
        stable = p.stablecoin
        row: dict[str, Any] = {"block": block, "timestamp_s": timestamp_s, "tx_hash": log.tx_hash,
                               "log_index": log.log_index, "counterparty": "", "counterparty_type": "", "size": NAN}
        if log.name == "LiquidationCall":
            collateral = self._symbol_of[a["collateralAsset"].lower()]
            debt = self._symbol_of[a["debtAsset"].lower()]
            row.update(kind="lending_liquidation", venue="lending", account=a["user"], side="long", asset=collateral,
                       counterparty=a["liquidator"],
                       notional_usd=self._usd(debt, a["debtToCover"], external),
                       size=units_float(a["liquidatedCollateralAmount"], p.tokens[collateral].decimals))
        elif log.name == "DeficitCreated":
            debt = self._symbol_of[a["debtAsset"].lower()]
            row.update(kind="lending_deficit", venue="lending", account=a["user"], side="long", asset=debt,
                       notional_usd=self._usd(debt, a["amountCreated"], external))
        elif log.name == "PositionLiquidated":
            size = a["sizeBase"]
            row.update(kind="perp_liquidation", venue="perp", account=a["trader"], side="long" if size > 0 else "short",
                       asset=self._market_of[a["marketId"]], counterparty=a["liquidator"],
                       notional_usd=abs(size) / WAD * a["exitPriceWad"] / WAD, size=abs(size) / WAD)
        elif log.name == "AutoDeleveraged":
            market = self._market_of[a["marketId"]]
            liquidated = before.perp_position(a["liquidated"].lower(), market)
            side = ("short" if liquidated.size_wad > 0 else "long") if liquidated is not None else "unknown"
            row.update(kind="adl_fill", venue="perp", account=a["counterparty"], side=side, asset=market,
                       counterparty=a["liquidated"], notional_usd=a["sizeBase"] / WAD * a["bankruptcyPriceWad"] / WAD,
                       size=a["sizeBase"] / WAD)
        else:  # BadDebtRecorded
            row.update(kind="perp_bad_debt", venue="perp", account=a["trader"], side="long",
                       asset=self._market_of[a["marketId"]], notional_usd=self._usd(stable, a["amount"], external))
            position = before.perp_position(a["trader"].lower(), row["asset"])
            if position is not None and position.size_wad < 0:
                row["side"] = "short"
        row["account"] = row["account"].lower()
        row["agent_id"], row["agent_type"] = self._kind_of(row["account"])
        if row["counterparty"]:
            row["counterparty"] = row["counterparty"].lower()
            row["counterparty_type"] = self._kind_of(row["counterparty"])[1]
        return row

    def _usd(self, symbol: str, amount: int, external: dict[str, int]) -> float:
        return usd_float(usd_value(amount, self.protocol.tokens[symbol].decimals, external[symbol]))

    # ---------------------------------------------------------------- equity

    def record_equity(self, snapshot: Snapshot, block: int, start: bool) -> None:
        external = dict(zip(self.prices.symbols, self.prices.usd8[block]))
        target = self.start_equity if start else self.end_equity
        for agent in self.agents:
            on_chain = equity_usd8(self.protocol, snapshot, agent.address, external)
            target[agent.address] = on_chain + agent.off_chain_usd8(external, self.protocol)

    # ---------------------------------------------------------------- tables

    def timeseries(self, block_time_s: int) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows)
        if frame.empty:
            return frame
        frame.insert(2, "time_s", frame["block"] * block_time_s)
        return frame

    def events_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.events, columns=EVENT_COLUMNS)

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
            })
        return pd.DataFrame(rows)

