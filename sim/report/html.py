"""The report page: ``report.html`` with headline figures, the plots with captions and the largest events.

The page needs no network, no JavaScript and no external stylesheet; it refers to the PNGs beside it
by file name. Every value is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any, Final, Mapping, Sequence

import pandas as pd

from sim.report.calibration import CALIBRATION_HEADER, CALIBRATION_NUMERIC_COLUMNS, calibration_rows, calibration_summary
from sim.report.events_table import (
    EVENT_TABLE_HEADER,
    EVENT_TABLE_NUMERIC_COLUMNS,
    TOP_EVENTS,
    event_rows,
    top_events,
)
from sim.report.filenames import DEPTH_PNG, INSURANCE_PNG, LIQUIDATIONS_PNG, PNL_PNG, PRICES_PNG
from sim.report.format import fmt_float, fmt_int, fmt_text
from sim.report.frames import agent_type_totals
from sim.report.headline import ASSET_HEADER, ASSET_NUMERIC_COLUMNS, asset_rows, headline_rows
from sim.report.timeline import Clock, shock_blocks

CSS: Final = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.4em; }
code { font-size: 0.9em; }
.muted { color: #666; }
"""

ASSET_NOTE: Final = (
    "Drawdown: the largest fall of each price series during the run, as a share of its earlier peak. "
    "Cascade amplification: the AMM's drawdown divided by the external market's drawdown; above 1, liquidation "
    "selling pushed the on-chain price further than the outside market fell."
)

# (file, short title, how to read it, whether the plot has a time axis with the shock shaded)
CAPTIONS: Final[tuple[tuple[str, str, str, bool], ...]] = (
    (PRICES_PNG, "Prices by venue",
     "One panel per traded asset: the black line is the external reference price the scenario scripts; "
     "the other lines show where the AMM, the lending oracle and the perp mark/index traded, so a gap "
     "below the black line is price impact from forced selling.", True),
    (LIQUIDATIONS_PNG, "Cumulative liquidations",
     "Each line adds up the USD notional liquidated so far on one venue and side; a steep step is a burst "
     "of liquidations in a few blocks, the signature of a cascade.", True),
    (INSURANCE_PNG, "Insurance fund and ADL",
     "The blue line is the perp exchange's insurance fund and the red line its cumulative bad debt (left "
     "axis); orange bars (right axis) are the notional closed by auto-deleveraging in each block, which "
     "starts once the fund can no longer absorb losses.", True),
    (DEPTH_PNG, "AMM depth",
     "USD value of the stablecoin side of each asset's pool; a falling line means liquidity was drained "
     "or withdrawn, making each further sale move the price more.", True),
    (PNL_PNG, "PnL by agent type",
     "Left: profit or loss summed over all agents of each type (green gain, red loss; n is the number of "
     "agents). Right: their combined equity at the start and at the end of the run.", False),
)
SHADED_NOTE: Final = " The shaded band (or dashed line) marks the scripted shock."


def html_page(summary: Mapping[str, Any], events: pd.DataFrame, agents: pd.DataFrame, clock: Clock,
              calibration: Mapping[str, Any] | None = None) -> str:
    """The whole ``report.html`` document as text (a Calibration section with ``calibration``)."""
    scenario = fmt_text(summary.get("scenario"))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>Liquidation-cascade run: {_e(scenario)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Liquidation-cascade run: {_e(scenario)}</h1>",
        _intro_html(summary, agents),
        "<h2>Headline figures</h2>",
        table_html(("figure", "value"), headline_rows(summary), numeric_columns={1}),
        "<h3>Price drawdowns and cascade amplification by asset</h3>",
        _asset_table_html(summary),
        _calibration_html(calibration) if calibration else "",
        "<h2>Plots</h2>",
        _figures_html(summary),
        f"<h2>Largest events (top {TOP_EVENTS} by notional)</h2>",
        _events_table_html(events, clock),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)


def table_html(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric_columns: set[int] | frozenset[int] | None = None
) -> str:
    """An escaped HTML table; cells in ``numeric_columns`` are right-aligned."""
    numeric_columns = numeric_columns or set()
    head = "".join(f"<th>{_e(title)}</th>" for title in header)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{_e(cell)}</td>' if i in numeric_columns else f"<td>{_e(cell)}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _e(value: Any) -> str:
    """``value`` as HTML-escaped text (quotes included, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def _intro_html(summary: Mapping[str, Any], agents: pd.DataFrame) -> str:
    scenario = fmt_text(summary.get("scenario"))
    text = (
        f"This report describes one run of the DeFi liquidation-cascade simulator, scenario "
        f"“{scenario}” (seed {fmt_text(summary.get('seed'))}). {_agents_sentence(agents)} "
        f"They trade against Solidity contracts on a local chain — a constant-product AMM, Chainlink-style "
        f"oracles, a lending pool and a perp exchange with an insurance fund and auto-deleveraging (ADL) — "
        f"for {fmt_int(summary.get('blocks'))} blocks of {fmt_float(summary.get('block_time_s'), 0, ' s')} "
        f"each, {fmt_int(summary.get('tx_count'))} transactions in all. {_shock_sentence(summary)} "
        f"Every figure below comes from the simulated chain; none is market data."
    )
    return f"<p>{_e(text)}</p>"


def _agents_sentence(agents: pd.DataFrame | None) -> str:
    totals = agent_type_totals(agents)
    if totals.empty:
        return "No agent table was supplied."
    kinds = ", ".join(f"{n:,} {name}" for name, n in totals["n"].sort_values(ascending=False).items())
    return f"{int(totals['n'].sum()):,} Python agents take part ({kinds})."


def _shock_sentence(summary: Mapping[str, Any]) -> str:
    start, end = shock_blocks(summary)
    if start is None:
        return "This scenario has no scripted price shock."
    if end is None:
        return f"The scripted price shock starts at block {start:,} (shaded in the plots)."
    return f"The scripted price shock runs from block {start:,} to block {end:,} (shaded in the plots)."


def _asset_table_html(summary: Mapping[str, Any]) -> str:
    rows = asset_rows(summary)
    if not rows:
        return '<p class="muted">No per-asset drawdowns in the summary.</p>'
    table = table_html(ASSET_HEADER, rows, numeric_columns=ASSET_NUMERIC_COLUMNS)
    return table + f'\n<p class="muted">{_e(ASSET_NOTE)}</p>'


def _calibration_html(calibration: Mapping[str, Any]) -> str:
    return "\n".join([
        "<h2>Calibration</h2>",
        f"<p>{_e(calibration_summary(calibration))}</p>",
        table_html(CALIBRATION_HEADER, calibration_rows(calibration), numeric_columns=CALIBRATION_NUMERIC_COLUMNS),
    ])


def _figures_html(summary: Mapping[str, Any]) -> str:
    has_shock = shock_blocks(summary)[0] is not None
    blocks = []
    for file_name, alt, caption, timed in CAPTIONS:
        shaded = SHADED_NOTE if has_shock and timed else ""
        blocks.append(
            "<figure>"
            f'<img src="{_e(file_name)}" alt="{_e(alt)}">'
            f"<figcaption><strong>{_e(alt)}.</strong> {_e(caption + shaded)} "
            f'(<code>{_e(file_name)}</code>)</figcaption>'
            "</figure>"
        )
    return "\n".join(blocks)


def _events_table_html(events: pd.DataFrame, clock: Clock) -> str:
    top = top_events(events, clock)
    if top.empty:
        return '<p class="muted">No events were recorded in this run.</p>'
    return table_html(EVENT_TABLE_HEADER, event_rows(top), numeric_columns=EVENT_TABLE_NUMERIC_COLUMNS)
