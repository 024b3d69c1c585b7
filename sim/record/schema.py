"""The vocabulary of a run's outputs, declared once: event kinds, agent kinds, venues and sides,
and the columns of every table (units in the names).

Plain strings, so tables hold ordinary ``str`` values; every module that writes or reads a kind or
a column takes it from here. A leaf module: it imports nothing from ``sim``."""

from __future__ import annotations

from typing import Final


class EventKind:
    """``events.kind``: what happened."""

    LENDING_LIQUIDATION: Final = "lending_liquidation"
    LENDING_DEFICIT: Final = "lending_deficit"
    PERP_LIQUIDATION: Final = "perp_liquidation"
    ADL_FILL: Final = "adl_fill"
    PERP_BAD_DEBT: Final = "perp_bad_debt"

    LIQUIDATIONS: Final = (LENDING_LIQUIDATION, PERP_LIQUIDATION)
    FUND_EXHAUSTED: Final = (ADL_FILL, PERP_BAD_DEBT)  # the insurance fund no longer covered a loss


class AgentKind:
    """``agents.agent_type`` and ``events.agent_type``: what an account is."""

    KEEPER: Final = "keeper"
    PASSIVE_LP: Final = "passive_lp"
    PASSIVE_LENDER: Final = "passive_lender"
    WHALE: Final = "whale"
    MARKET_MAKER: Final = "market_maker"
    LIQUIDATOR: Final = "liquidator"
    ARBITRAGEUR: Final = "arbitrageur"
    NOISE: Final = "noise"
    TRADER: Final = "trader"
    ATTACKER: Final = "attacker"
    UNKNOWN: Final = "unknown"  # an address that is no agent of the run


class Venue:
    LENDING: Final = "lending"
    PERP: Final = "perp"


class Side:
    LONG: Final = "long"
    SHORT: Final = "short"
    UNKNOWN: Final = "unknown"


TABLES: Final = ("timeseries", "events", "agents")
"""The tables a run writes, each as ``<name>.parquet`` (:func:`table_file`)."""


def table_file(table: str) -> str:
    """The file name of one of ``TABLES``."""
    return f"{table}.parquet"


EVENT_COLUMNS: Final = (
    "block", "timestamp_s", "tx_hash", "log_index", "kind", "venue", "account", "agent_id", "agent_type",
    "side", "asset", "counterparty", "counterparty_type", "notional_usd", "size", "gas_used", "gas_price_wei",
    "inclusion_delay_blocks", "pnl_usd",
)
"""``events.parquet``: one row per loss event (liquidation, deficit, ADL fill, bad debt). The last
three describe the emitting transaction, shared by the events of one transaction: ``gas_used``
(its receipt's ``gasUsed`` on anvil; NaN on revm, whose gas is no chain's), ``gas_price_wei`` (its bid) and ``inclusion_delay_blocks`` (how many
blocks it waited in the mempool for block space before a block took it; 0: the first block it was
offered to). ``pnl_usd``: for an ``adl_fill``, the profit of the part of the ADL'd position (the
row's ``account``) that was closed, at the fill (bankruptcy) price against the position's average
entry (its open notional / size), in USD; NaN for every other kind."""

TIMESERIES_COLUMNS: Final = (
    "block", "timestamp_s", "time_s", "asset", "external_price_usd", "amm_price_usd", "oracle_price_usd",
    "mark_price_usd", "index_price_usd", "margin_price_usd", "pool_depth_usd", "lending_supplied_usd", "lending_debt_usd",
    "lending_deficit_usd", "open_interest_long_usd", "open_interest_short_usd", "insurance_fund_usd",
    "perp_bad_debt_usd", "funding_cumulative_usd_per_base", "market_maker_net_delta_usd", "mempool_txs", "market_maker_hedge_usd",
    "lending_underwater_usd",
)
"""``timeseries.parquet``: one row per block and asset (``time_s`` = block × block time).
``mark_price_usd`` is the perp vAMM's price; ``margin_price_usd`` what the market's margin checks
read (vAMM, index or median mark, by its ``margin_price_source``); ``mempool_txs`` counts the
transactions waiting in the mempool after the block because they did not fit its gas limit (the
same on every asset's row of a block; 0 at block 0); ``market_maker_hedge_usd`` the market makers'
perp shorts on the asset at the external price, beside their ``market_maker_net_delta_usd``;
``lending_underwater_usd`` the lending pool's loans worth more than their collateral at external
prices (debt − collateral, summed; the same on every row of a block): a loss not yet recognised as
``lending_deficit_usd``, which is recorded only when a liquidation takes the last collateral."""

AGENT_COLUMNS: Final = (
    "agent_id", "agent_type", "address", "start_equity_usd", "end_equity_usd", "pnl_usd", "failed_tx", "walked_away_usd",
)
"""``agents.parquet``: one row per agent, equity at external prices before and after the run."""
