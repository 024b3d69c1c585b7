"""The typed summary of a run (``summary.json``): headline figures with the unit in each name.

:func:`sim.model.outputs.build_summary` computes a :class:`Summary` from the recorded tables
(:mod:`sim.record.metrics`), the recorder's block-space counts and the session (backend,
transactions sent). :meth:`Summary.to_dict` gives the JSON form: the sections marked
``flatten`` put their fields at the top level, and a section that could not be computed (no
events, no rows, no agents yet) is left out rather than written as null.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FLATTEN = {"flatten": True}  # merged into the parent; left out when None
OMIT_NONE = {"omit_none": True}  # left out when None


def as_json(value: Any) -> Any:
    """``value`` as JSON data: dataclasses by field (honouring FLATTEN / OMIT_NONE), dicts by key."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is None and (f.metadata.get("flatten") or f.metadata.get("omit_none")):
                continue
            if f.metadata.get("flatten"):
                out.update(as_json(item))
            else:
                out[f.name] = as_json(item)
        return out
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ByVenueUsd:
    lending: float
    perp: float
    total: float


@dataclass(frozen=True)
class ByVenueCount:
    lending: int
    perp: int


@dataclass(frozen=True)
class AdlFigures:
    events: int
    notional_usd: float
    first_block: int | None
    by_agent_type_usd: dict[str, float]


@dataclass(frozen=True)
class LiquidationFigures:
    liquidations_usd: ByVenueUsd
    liquidation_count: ByVenueCount
    perp_liquidations_long_share: float | None
    insurance_fund_exhausted_block: int | None
    adl: AdlFigures


@dataclass(frozen=True)
class FundUsd:
    start: float
    min: float
    end: float


@dataclass(frozen=True)
class BadDebtUsd:
    lending_deficit: float
    perp_uncovered: float
    total: float  # lending_deficit + perp_uncovered: what the protocols lost
    # loans worth more than their collateral at the end, at external prices, not yet a deficit
    # (no liquidation took their last collateral: on a thin pool none may pay); not in total
    lending_underwater: float = 0.0


@dataclass(frozen=True)
class LendingDebtUsd:
    start: float  # every reserve's debt at the first recorded block, before the shock
    max: float


@dataclass(frozen=True)
class DepthUsd:
    start: float
    min: float


@dataclass(frozen=True)
class MarketFigures:
    insurance_fund_usd: FundUsd | None
    bad_debt_usd: BadDebtUsd | None
    lending_debt_usd: LendingDebtUsd | None
    lending_deficit_share_of_debt: float | None  # bad_debt_usd.lending_deficit / lending_debt_usd.start (None without debt)
    drawdown: dict[str, dict[str, float | None]]  # asset -> venue -> largest fall from a peak (fraction)
    cascade_amplification: dict[str, float | None]  # asset -> pool drawdown / external drawdown
    amm_depth_usd: dict[str, DepthUsd | None]


@dataclass(frozen=True)
class NetDeltaUsd:
    net_delta_usd_before_shock: float | None
    net_delta_usd_max_after_adl: float | None
    net_delta_usd_end: float | None
    # Σ over assets of |net delta| / Σ of the hedges (perp shorts) at the last block before the
    # shock: how far from delta-neutral the market makers met it (None without a hedge)
    net_delta_share_of_hedge_before_shock: float | None = None


@dataclass(frozen=True)
class MarketMakerFigures:
    pnl_usd: float | None
    net_delta: NetDeltaUsd | None = field(metadata=FLATTEN)
    hedge_failures: int
    withdrew_liquidity: int


@dataclass(frozen=True)
class PnlFigures:
    pnl_usd: float | None


@dataclass(frozen=True)
class AgentFigures:
    market_makers: MarketMakerFigures
    whales: PnlFigures
    liquidators: PnlFigures
    arbitrageurs: PnlFigures
    traders: PnlFigures


@dataclass(frozen=True)
class BlockSpaceFigures:
    """How full the blocks were: transactions that did not fit a block's gas limit waited in the
    mempool for a later one (a gas auction among liquidators shows here)."""

    blocks_at_gas_limit: int  # blocks that could not take every transaction offered to them
    txs_delayed: int  # transactions taken after waiting at least one block
    max_inclusion_delay_blocks: int
    liquidation_inclusion_delay_blocks_median: float | None  # over the liquidation transactions (events)
    mempool_txs_at_end: int  # still in the mempool when the run ended (in no block)


@dataclass(frozen=True)
class ShockBlocks:
    start_block: int | None
    end_block: int | None


@dataclass(frozen=True)
class Summary:
    """``summary.json``, typed. ``status`` is ``completed`` or ``failed`` (then ``error`` says why)."""

    scenario: str
    seed: int
    blocks: int
    block_time_s: int
    backend: str  # "revm" or "anvil": where the contracts ran (the same tables but events.gas_used, NaN on revm)
    tx_count: int
    failed_tx_count: int
    wall_s: float
    shock: ShockBlocks
    block_space: BlockSpaceFigures
    liquidations: LiquidationFigures | None = field(default=None, metadata=FLATTEN)
    markets: MarketFigures | None = field(default=None, metadata=FLATTEN)
    agents: AgentFigures | None = field(default=None, metadata=FLATTEN)
    status: str = "completed"
    token_conservation: dict[str, dict[str, Any]] | None = field(default=None, metadata=OMIT_NONE)
    error: str | None = field(default=None, metadata=OMIT_NONE)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``summary.json``."""
        return as_json(self)
