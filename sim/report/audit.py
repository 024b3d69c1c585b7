"""The audit report: ``report.html`` with the verdict table and ``attack_pnl.png``, the attacker's
PnL against its capital for every attack searched (one panel each, log capital axis, the least
paying capital marked). Written atomically; no network, no JavaScript."""

from __future__ import annotations

import html
import pathlib
from typing import Final

import pandas as pd

from sim.files import write_atomic
from sim.report.axes import new_figure, render_png, usd_axis
from sim.report.filenames import REPORT_FILE
from sim.report.format import fmt_int, fmt_text, fmt_usd, usd_compact
from sim.report.html import CSS, table_html

PNL_PNG: Final = "attack_pnl.png"
AUDIT_REPORT_FILES: Final = frozenset({REPORT_FILE, PNL_PNG})


def write_audit_report(out_dir: pathlib.Path, name: str, verdicts: pd.DataFrame, probes: pd.DataFrame,
                       max_capital_usd: float) -> pathlib.Path:
    write_atomic(out_dir / PNL_PNG, render_png(pnl_figure(verdicts, probes)))
    write_atomic(out_dir / REPORT_FILE, _page(name, verdicts, max_capital_usd).encode())
    return out_dir / REPORT_FILE


def pnl_figure(verdicts: pd.DataFrame, probes: pd.DataFrame):
    searched = verdicts[verdicts["applicable"]] if not verdicts.empty else verdicts
    panels = max(len(searched), 1)
    fig, axes = new_figure(panels, 1, row_height_in=3.0)
    if searched.empty:
        axes[0][0].text(0.5, 0.5, "no attack applies to this scenario", ha="center", va="center",
                        transform=axes[0][0].transAxes, color="#666")
        return fig
    for ax, (_, verdict) in zip(axes[:, 0], searched.iterrows()):
        mine = probes[(probes["attack"] == verdict["attack"]) & (probes["asset"] == verdict["asset"])].sort_values("capital_usd")
        capital = mine["capital_usd"].to_numpy(dtype=float)
        pnl = mine["attacker_pnl_usd"].to_numpy(dtype=float)
        ax.plot(capital, pnl, marker="o", color="#c0392b", label="attacker PnL")
        ax.plot(capital, -mine["protocol_loss_usd"].to_numpy(dtype=float), marker=".", color="#2c3e50", alpha=0.6,
                label="− protocol loss")
        ax.axhline(0, color="#888", lw=0.8)
        if verdict["vulnerable"] and not pd.isna(verdict["min_capital_usd"]):
            ax.axvline(float(verdict["min_capital_usd"]), color="#c0392b", ls="--", lw=0.8,
                       label=f"pays from {usd_compact(float(verdict['min_capital_usd']))}")
        ax.set_xscale("log")
        ax.set_xlabel("attacker capital (USD)", fontsize=8)
        ax.set_title(f"{verdict['attack']} on {verdict['asset']}: {'VULNERABLE' if verdict['vulnerable'] else 'does not pay'}",
                     fontsize=10)
        usd_axis(ax)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    return fig


def _page(name: str, verdicts: pd.DataFrame, max_capital_usd: float) -> str:
    e = html.escape
    header = ["attack", "asset", "verdict", "least paying capital", "largest profit", "protocol loss", "victims", "note"]
    rows = []
    for _, v in verdicts.iterrows():
        verdict = "not applicable" if not v["applicable"] else "VULNERABLE" if v["vulnerable"] else "does not pay"
        rows.append([v["attack"], v["asset"], verdict, fmt_usd(v["min_capital_usd"]), fmt_usd(v["max_profit_usd"]),
                     fmt_usd(v["protocol_loss_usd"]), fmt_int(v["victims"]), fmt_text(v["reason"])])
    vulnerable = int(verdicts["vulnerable"].sum()) if not verdicts.empty else 0
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(name)}: manipulation audit</title><style>{CSS}</style></head>
<body>
<h1>{e(name)}: manipulation audit</h1>
<p>{vulnerable} of {len(verdicts)} attacks pay within {e(fmt_usd(max_capital_usd))} of capital. An attack pays when
the attacker ends with more than it started with after every cost (fees, slippage, gas, funding), walking away from
positions left under water; the protocol's loss is its bad debt, its insurance fund's drawdown and those positions.</p>
<figure><img src="{PNL_PNG}" alt="attacker PnL against capital"></figure>
{table_html(header, rows, {3, 4, 5, 6})}
</body></html>
"""
