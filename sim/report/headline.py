"""The report's summary tables as display rows: the headline figures and the per-asset drawdowns.

Reads the run's summary as a plain mapping (the contents of ``summary.json``); any missing key or
value is shown as a dash.
"""

from __future__ import annotations

import functools
from typing import Any, Final, Mapping

from sim.report.format import DASH, as_int, fmt_float, fmt_int, fmt_pct, fmt_text, fmt_usd, get, ratio

Row = tuple[str, ...]
"""One table row of display strings."""

ASSET_HEADER: Final = (
    "asset", "drawdown: external", "drawdown: AMM", "drawdown: lending oracle", "drawdown: perp mark",
    "cascade amplification",
)
ASSET_NUMERIC_COLUMNS: Final = frozenset({1, 2, 3, 4, 5})


def headline_rows(summary: Mapping[str, Any]) -> list[Row]:
    """``(figure, value)`` rows: the run, liquidations, bad debt, insurance fund, ADL, PnL and pool depths."""
    g = functools.partial(get, summary)
    rows: list[Row] = [
        ("Scenario", fmt_text(g("scenario"))),
        ("Seed", fmt_text(g("seed"))),
        ("Blocks", fmt_int(g("blocks"))),
        ("Block time", fmt_float(g("block_time_s"), 0, " s")),
        ("Transactions", fmt_int(g("tx_count"))),
        ("Backend", fmt_text(g("backend"))),
        ("Blocks at their gas limit", fmt_int(g("block_space", "blocks_at_gas_limit"))),
        ("Transactions that waited for block space", fmt_int(g("block_space", "txs_delayed"))),
        ("Median inclusion delay of liquidations (blocks)", fmt_float(g("block_space", "liquidation_inclusion_delay_blocks_median"), 1)),
        ("Wall-clock time of the run", fmt_float(g("wall_s"), 1, " s")),
        ("Scripted shock (blocks)", _block_range(g("shock", "start_block"), g("shock", "end_block"))),
        ("Liquidated notional — lending", fmt_usd(g("liquidations_usd", "lending"))),
        ("Liquidated notional — perp", fmt_usd(g("liquidations_usd", "perp"))),
        ("Liquidated notional — total", fmt_usd(g("liquidations_usd", "total"))),
        ("Liquidations — lending (count)", fmt_int(g("liquidation_count", "lending"))),
        ("Liquidations — perp (count)", fmt_int(g("liquidation_count", "perp"))),
        ("Share of perp liquidations that were longs", fmt_pct(g("perp_liquidations_long_share"))),
        ("Bad debt — lending deficit", fmt_usd(g("bad_debt_usd", "lending_deficit"))),
        ("Bad debt — perp, not covered by insurance", fmt_usd(g("bad_debt_usd", "perp_uncovered"))),
        ("Bad debt — total", fmt_usd(g("bad_debt_usd", "total"))),
        ("Insurance fund — start", fmt_usd(g("insurance_fund_usd", "start"))),
        ("Insurance fund — minimum", fmt_usd(g("insurance_fund_usd", "min"))),
        ("Insurance fund — end", fmt_usd(g("insurance_fund_usd", "end"))),
        ("Insurance fund exhausted at block", fmt_int(g("insurance_fund_exhausted_block"))),
        ("ADL fills (count)", fmt_int(g("adl", "events"))),
        ("ADL notional", fmt_usd(g("adl", "notional_usd"))),
        ("First ADL at block", fmt_int(g("adl", "first_block"))),
        ("Market makers — PnL", fmt_usd(g("market_makers", "pnl_usd"))),
        ("Market makers — net delta before the shock", fmt_usd(g("market_makers", "net_delta_usd_before_shock"))),
        ("Market makers — largest net delta after the first ADL",
         fmt_usd(g("market_makers", "net_delta_usd_max_after_adl"))),
        ("Market makers — net delta at the end", fmt_usd(g("market_makers", "net_delta_usd_end"))),
        ("Whales — PnL", fmt_usd(g("whales", "pnl_usd"))),
        ("Liquidators — PnL", fmt_usd(g("liquidators", "pnl_usd"))),
    ]
    return rows + _pool_depth_rows(g("amm_depth_usd"))


def _block_range(start: Any, end: Any) -> str:
    if as_int(start) is None and as_int(end) is None:
        return DASH
    return f"{fmt_int(start)} – {fmt_int(end)}"


def _pool_depth_rows(depths: Any) -> list[Row]:
    if not isinstance(depths, Mapping):
        return []
    rows: list[Row] = []
    for pool in sorted(depths, key=str):
        start, low = get(depths, pool, "start"), get(depths, pool, "min")
        share_of_start = ratio(low, start)
        share = f" ({fmt_pct(share_of_start)} of start)" if share_of_start is not None else ""
        rows.append((f"AMM depth {pool} — start → minimum", f"{fmt_usd(start)} → {fmt_usd(low)}{share}"))
    return rows


def _submapping(summary: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = summary.get(key)
    return value if isinstance(value, Mapping) else {}


def asset_rows(summary: Mapping[str, Any]) -> list[Row]:
    """One row per asset (columns as :data:`ASSET_HEADER`): drawdown per venue and cascade amplification."""
    drawdown = _submapping(summary, "drawdown")
    amplification = _submapping(summary, "cascade_amplification")
    return [
        (
            str(asset),
            fmt_pct(get(drawdown, asset, "external")),
            fmt_pct(get(drawdown, asset, "amm")),
            fmt_pct(get(drawdown, asset, "oracle")),
            fmt_pct(get(drawdown, asset, "mark")),
            fmt_float(amplification.get(asset), 2, "×"),
        )
        for asset in sorted(set(drawdown) | set(amplification), key=str)
    ]
