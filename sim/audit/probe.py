"""One probe of an attack: the scenario with its attacker run on revm, read into a
:class:`~sim.audit.search.Probe` — the attacker's walk-away PnL, what the venues lost (bad debt,
the insurance fund's drawdown and the positions the attacker walked away from) and the victims
(liquidated accounts other than the attacker)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sim.audit.search import Probe
from sim.model import run_cascade
from sim.record.schema import AgentKind, EventKind
from sim.scenario import Scenario


def probe(scenario: Scenario, capital_usd: float, out_dir: Path, artifacts=None) -> Probe:
    result = run_cascade(scenario, out_dir, progress=False, artifacts=artifacts, backend="revm", report=False, overwrite=True)
    agents = pd.read_parquet(out_dir / "agents.parquet")
    events = pd.read_parquet(out_dir / "events.parquet")
    attacker = agents[agents["agent_type"] == AgentKind.ATTACKER]
    summary = result.summary
    fund = summary.get("insurance_fund_usd") or {}
    bad_debt = (summary.get("bad_debt_usd") or {}).get("total", 0.0)
    drawdown = max(fund.get("start", 0.0) - fund.get("min", 0.0), 0.0)
    walked_away = float(attacker["walked_away_usd"].sum())  # positions left under water: the venues' loss
    attackers = set(attacker["address"])
    liquidated = events[events["kind"].isin(EventKind.LIQUIDATIONS) & ~events["account"].isin(attackers)]
    return Probe(capital_usd=capital_usd, attacker_pnl_usd=float(attacker["pnl_usd"].sum()),
                 protocol_loss_usd=bad_debt + drawdown + walked_away, victims=int(liquidated["account"].nunique()),
                 blocks=int(summary["blocks"]))
