"""Loss events: the lending and perp logs a run records, decoded into ``events`` rows.

One row per ``LiquidationCall``, ``DeficitCreated``, ``PositionLiquidated``, ``AutoDeleveraged``
and ``BadDebtRecorded`` log of a successful transaction (columns: ``schema.EVENT_COLUMNS``)."""

from __future__ import annotations

from typing import Any, Callable

from sim.chain.abi import Codec, DecodedLog
from sim.protocol import PerpPos, Protocol, Snapshot
from sim.record.schema import EventKind, Side, Venue
from sim.units import WAD, units_float, usd_float, usd_value

NAN = float("nan")
LOSS_EVENTS = frozenset({"LiquidationCall", "DeficitCreated", "PositionLiquidated", "AutoDeleveraged", "BadDebtRecorded"})


class EventDecoder:
    """Turns the loss logs of the lending pool and the perp exchange into rows.

    ``identify(address)`` gives ``(agent_id, agent_type)`` of an account (``("", "unknown")`` for
    an address that is no agent)."""

    def __init__(self, protocol: Protocol, identify: Callable[[str], tuple[str, str]]):
        self.protocol = protocol
        self.identify = identify
        self._symbol_of = {t.address.lower(): s for s, t in protocol.tokens.items()}
        self._market_of = {m.market_id: s for s, m in protocol.markets.items()}
        self._codecs: list[tuple[str, Codec]] = [
            (protocol.lending.lower(), protocol.codecs["LendingPool"]),
            (protocol.perp.lower(), protocol.codecs["PerpExchange"]),
        ]

    def decode(self, log: dict[str, Any]) -> DecodedLog | None:
        """The log decoded when it is a loss event of the lending pool or the exchange, else None."""
        address = log["address"].lower()
        for owner, codec in self._codecs:
            if address == owner:
                event = codec.events.get(log["topics"][0]) if log["topics"] else None
                if event is None or event.name not in LOSS_EVENTS:
                    return None  # decode only what is recorded
                return codec.decode_log(log)
        return None

    def row(
        self, block: int, timestamp_s: int, log: DecodedLog, gas_used: int, before: Snapshot, external: dict[str, int]
    ) -> dict[str, Any]:
        """The ``events`` row of one decoded loss event of a transaction that used ``gas_used`` gas
        (``before`` gives liquidated sides for ADL)."""
        row: dict[str, Any] = {"block": block, "timestamp_s": timestamp_s, "tx_hash": log.tx_hash,
                               "log_index": log.log_index, "counterparty": "", "counterparty_type": "", "size": NAN,
                               "gas_used": gas_used, "pnl_usd": NAN}
        if log.name in ("LiquidationCall", "DeficitCreated"):
            row.update(self._lending(log.name, log.args, external))
        else:
            row.update(self._perp(log.name, log.args, before, external))
        row["account"] = row["account"].lower()
        row["agent_id"], row["agent_type"] = self.identify(row["account"])
        if row["counterparty"]:
            row["counterparty"] = row["counterparty"].lower()
            row["counterparty_type"] = self.identify(row["counterparty"])[1]
        return row

    def _lending(self, name: str, a: dict[str, Any], external: dict[str, int]) -> dict[str, Any]:
        debt = self._symbol_of[a["debtAsset"].lower()]
        if name == "LiquidationCall":
            collateral = self._symbol_of[a["collateralAsset"].lower()]
            return dict(kind=EventKind.LENDING_LIQUIDATION, venue=Venue.LENDING, account=a["user"], side=Side.LONG,
                        asset=collateral, counterparty=a["liquidator"],
                        notional_usd=self._usd(debt, a["debtToCover"], external),
                        size=units_float(a["liquidatedCollateralAmount"], self.protocol.tokens[collateral].decimals))
        return dict(kind=EventKind.LENDING_DEFICIT, venue=Venue.LENDING, account=a["user"], side=Side.LONG, asset=debt,
                    notional_usd=self._usd(debt, a["amountCreated"], external))

    def _perp(self, name: str, a: dict[str, Any], before: Snapshot, external: dict[str, int]) -> dict[str, Any]:
        market = self._market_of[a["marketId"]]
        if name == "PositionLiquidated":
            size = a["sizeBase"]
            return dict(kind=EventKind.PERP_LIQUIDATION, venue=Venue.PERP, account=a["trader"],
                        side=Side.LONG if size > 0 else Side.SHORT, asset=market, counterparty=a["liquidator"],
                        notional_usd=abs(size) / WAD * a["exitPriceWad"] / WAD, size=abs(size) / WAD)
        if name == "AutoDeleveraged":
            liquidated = before.perp_position(a["liquidated"].lower(), market)
            side = (Side.SHORT if liquidated.size_wad > 0 else Side.LONG) if liquidated is not None else Side.UNKNOWN
            reduced = before.perp_position(a["counterparty"].lower(), market)
            return dict(kind=EventKind.ADL_FILL, venue=Venue.PERP, account=a["counterparty"], side=side, asset=market,
                        counterparty=a["liquidated"], notional_usd=a["sizeBase"] / WAD * a["bankruptcyPriceWad"] / WAD,
                        size=a["sizeBase"] / WAD,
                        pnl_usd=adl_pnl_usd(reduced, a["sizeBase"], a["bankruptcyPriceWad"], self.protocol.stable.decimals))
        # BadDebtRecorded
        position = before.perp_position(a["trader"].lower(), market)
        side = Side.SHORT if position is not None and position.size_wad < 0 else Side.LONG
        return dict(kind=EventKind.PERP_BAD_DEBT, venue=Venue.PERP, account=a["trader"], side=side, asset=market,
                    notional_usd=self._usd(self.protocol.stablecoin, a["amount"], external))

    def _usd(self, symbol: str, amount: int, external: dict[str, int]) -> float:
        return usd_float(usd_value(amount, self.protocol.tokens[symbol].decimals, external[symbol]))


def adl_pnl_usd(position: PerpPos | None, filled_wad: int, price_wad: int, stable_decimals: int) -> float:
    """The profit of the ``filled_wad`` base units of ``position`` that ADL closed at ``price_wad``
    (stablecoin per base, WAD), against the position's average entry (open notional / |size|), in
    USD (the stablecoin at $1, as the events' notionals are); NaN without a position."""
    if position is None or position.size_wad == 0:
        return NAN
    entry = units_float(position.open_notional, stable_decimals) / (abs(position.size_wad) / WAD)
    gain = (price_wad / WAD - entry) * (filled_wad / WAD)
    return gain if position.size_wad > 0 else -gain
