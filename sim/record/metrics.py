"""The headline figures of a run (``summary.json``), computed from the recorded tables only."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.record.schema import EventKind, Side
from sim.record.summary import (
    AdlFigures,
    BadDebtUsd,
    BlockSpaceFigures,
    ByVenueCount,
    ByVenueUsd,
    DepthUsd,
    FundUsd,
    LendingDebtUsd,
    LiquidationFigures,
    NetDeltaUsd,
)


def max_drawdown(series: pd.Series) -> float | None:
    """Largest fall from an earlier peak, as a positive fraction; None when there is no data."""
    values = series.dropna().to_numpy(dtype=float)
    if values.size == 0:
        return None
    peaks = np.maximum.accumulate(values)
    return float(np.max(1.0 - values / peaks))


def _first_block(events: pd.DataFrame) -> int | None:
    return int(events["block"].min()) if not events.empty else None


def liquidation_figures(events: pd.DataFrame) -> LiquidationFigures:
    lending = events[events["kind"] == EventKind.LENDING_LIQUIDATION]
    perp = events[events["kind"] == EventKind.PERP_LIQUIDATION]
    perp_total = float(perp["notional_usd"].sum())
    long_total = float(perp.loc[perp["side"] == Side.LONG, "notional_usd"].sum())
    adl = events[events["kind"] == EventKind.ADL_FILL]
    exhausted = events[events["kind"].isin(list(EventKind.FUND_EXHAUSTED))]
    return LiquidationFigures(
        liquidations_usd=ByVenueUsd(
            lending=float(lending["notional_usd"].sum()),
            perp=perp_total,
            total=float(lending["notional_usd"].sum()) + perp_total,
        ),
        liquidation_count=ByVenueCount(lending=int(len(lending)), perp=int(len(perp))),
        perp_liquidations_long_share=long_total / perp_total if perp_total > 0 else None,
        insurance_fund_exhausted_block=_first_block(exhausted),
        adl=AdlFigures(
            events=int(len(adl)),
            notional_usd=float(adl["notional_usd"].sum()),
            first_block=_first_block(adl),
            by_agent_type_usd={k: float(v) for k, v in adl.groupby("agent_type")["notional_usd"].sum().items()},
        ),
    )


def block_space_figures(events: pd.DataFrame, blocks_at_gas_limit: int, txs_delayed: int, max_delay_blocks: int,
                        mempool_txs: int) -> BlockSpaceFigures:
    """The recorder's block-space counts, with the median inclusion delay of the liquidation
    transactions in ``events`` (one per transaction, however many events it emitted)."""
    median = None
    if not events.empty:
        liquidations = events[events["kind"].isin(list(EventKind.LIQUIDATIONS))].drop_duplicates("tx_hash")
        if not liquidations.empty:
            median = float(liquidations["inclusion_delay_blocks"].median())
    return BlockSpaceFigures(blocks_at_gas_limit, txs_delayed, max_delay_blocks, median, mempool_txs)


def price_figures(timeseries: pd.DataFrame, volatile: list[str]) -> tuple[dict[str, dict[str, float | None]], dict[str, float | None]]:
    """Per volatile asset: the drawdown of each price (external, amm, oracle, mark), and the
    cascade amplification (pool drawdown / external drawdown)."""
    drawdown: dict[str, dict[str, float | None]] = {}
    amplification: dict[str, float | None] = {}
    for symbol in volatile:
        rows = timeseries[timeseries["asset"] == symbol]
        drawdown[symbol] = {
            venue: max_drawdown(rows[f"{column}_price_usd"])
            for venue, column in (("external", "external"), ("amm", "amm"), ("oracle", "oracle"), ("mark", "mark"))
        }
        ext, amm = drawdown[symbol]["external"], drawdown[symbol]["amm"]
        amplification[symbol] = amm / ext if ext and amm is not None else None
    return drawdown, amplification


def depth_figures(timeseries: pd.DataFrame, pools: list[str]) -> dict[str, DepthUsd | None]:
    out: dict[str, DepthUsd | None] = {}
    for symbol in pools:
        depth = timeseries.loc[timeseries["asset"] == symbol, "pool_depth_usd"].dropna()
        out[symbol] = DepthUsd(start=float(depth.iloc[0]), min=float(depth.min())) if not depth.empty else None
    return out


def fund_figures(timeseries: pd.DataFrame) -> tuple[FundUsd | None, BadDebtUsd | None]:
    """The insurance fund (start, low, end) and the bad debt left at the end, with the loans left
    under water that are not (yet) a deficit."""
    per_block = timeseries.groupby("block")[["insurance_fund_usd", "perp_bad_debt_usd", "lending_underwater_usd"]].first()
    deficits = timeseries.groupby("block")["lending_deficit_usd"].sum(min_count=1)
    if per_block.empty:
        return None, None
    fund = FundUsd(
        start=float(per_block["insurance_fund_usd"].iloc[0]),
        min=float(per_block["insurance_fund_usd"].min()),
        end=float(per_block["insurance_fund_usd"].iloc[-1]),
    )
    lending_deficit = float(np.nan_to_num(deficits.iloc[-1]))
    perp_uncovered = float(per_block["perp_bad_debt_usd"].iloc[-1])
    underwater = float(np.nan_to_num(per_block["lending_underwater_usd"].iloc[-1]))
    bad_debt = BadDebtUsd(lending_deficit, perp_uncovered, total=lending_deficit + perp_uncovered, lending_underwater=underwater)
    return fund, bad_debt


def lending_debt_figures(timeseries: pd.DataFrame, bad_debt: BadDebtUsd | None) -> tuple[LendingDebtUsd | None, float | None]:
    """Every reserve's debt summed per block (at the first block and at its largest), and the
    lending pool's bad debt (its deficit) as a share of the debt at the start: the figure Gauntlet
    gates on (more than 1% of debt left undercollateralised fails a configuration). The perp
    exchange's uncovered loss is not a share of this debt and is left out."""
    per_block = timeseries.groupby("block")["lending_debt_usd"].sum(min_count=1).dropna()
    if per_block.empty:
        return None, None
    debt = LendingDebtUsd(start=float(per_block.iloc[0]), max=float(per_block.max()))
    share = bad_debt.lending_deficit / debt.start if bad_debt is not None and debt.start > 0 else None
    return debt, share


def pnl_by_type(agents: pd.DataFrame, kind: str) -> float | None:
    """Summed PnL of one agent type; None when there is none or the run ended before equity was read."""
    total = agents.loc[agents["agent_type"] == kind, "pnl_usd"].sum(min_count=1)
    return None if pd.isna(total) else float(total)


def market_maker_delta_figures(timeseries: pd.DataFrame, before_block: int, first_adl_block: int | None) -> NetDeltaUsd:
    """Market makers' summed net delta (USD) before the shock, at its largest after the first ADL
    fill, and at the end, and how far from neutral they were before the shock (Σ |net delta| over
    assets / Σ hedge; None without market makers)."""
    per_block = timeseries.groupby("block")["market_maker_net_delta_usd"].sum(min_count=1).dropna()
    if per_block.empty:
        return NetDeltaUsd(None, None, None)
    before = per_block[per_block.index <= before_block]
    after_adl = per_block[per_block.index >= first_adl_block] if first_adl_block is not None else per_block.iloc[0:0]
    return NetDeltaUsd(
        net_delta_usd_before_shock=float(before.iloc[-1]) if not before.empty else None,
        net_delta_usd_max_after_adl=float(after_adl.max()) if not after_adl.empty else None,
        net_delta_usd_end=float(per_block.iloc[-1]),
        net_delta_share_of_hedge_before_shock=_unhedged_share(timeseries, int(before.index[-1])) if not before.empty else None,
    )


def _unhedged_share(timeseries: pd.DataFrame, block: int) -> float | None:
    rows = timeseries[(timeseries["block"] == block) & timeseries["market_maker_net_delta_usd"].notna()]
    hedge = float(rows["market_maker_hedge_usd"].sum()) if "market_maker_hedge_usd" in rows else 0.0
    return float(rows["market_maker_net_delta_usd"].abs().sum()) / hedge if hedge > 0 else None
