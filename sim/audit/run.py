"""Running an audit: for every attack a scenario can host, on every asset it can target, the
least capital that makes it pay within the limit (:mod:`sim.audit.search`), and a verdict.

Writes into the output directory: ``verdicts.parquet`` and ``verdicts.csv`` (one row per attack
and asset: ``attack, asset, applicable, reason, vulnerable, min_capital_usd, max_profit_usd,
protocol_loss_usd, victims, blocks``), ``probes.parquet`` (every run of the search) and the
report (attacker PnL against capital per attack). Each file is written atomically.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from sim.audit.attacks import ATTACKS
from sim.audit.probe import probe
from sim.audit.search import Probe, Search, least_paying_capital
from sim.files import check_output_dir, output_lock, parquet_bytes, replace_directory, staging_dir, write_atomic
from sim.model.interrupts import check, signals_raise
from sim.scenario import Scenario

VERDICT_COLUMNS = ("attack", "asset", "applicable", "reason", "vulnerable", "min_capital_usd", "max_profit_usd",
                   "protocol_loss_usd", "victims", "blocks")
VERDICTS_FILE, VERDICTS_CSV, PROBES_FILE = "verdicts.parquet", "verdicts.csv", "probes.parquet"
START_BLOCK = 10  # after the set-up's positions have settled: arbitrage has closed the gaps they opened
SETTLE_BLOCKS = 2  # blocks after the attack ends, for the liquidations it set off


def audit_problems(scenario: Scenario) -> list[str]:
    """Why ``scenario`` cannot be audited: a market that moves by itself (a crash, a random walk)
    would credit its moves to the attacker."""
    problems = []
    if scenario.shock.crash is not None:
        problems.append("shock.crash: an audit needs a quiet market, or the crash's losses and liquidations are "
                        "credited to the attacker; remove it (--set shock.crash=null)")
    if scenario.shock.random_walk and any(a.volatility_daily > 0 for a in scenario.assets.values()):
        problems.append("shock.random_walk: an audit needs a quiet market, or the walk's moves are credited to the "
                        "attacker; turn it off (--set shock.random_walk=false)")
    return problems


@dataclass(frozen=True)
class Target:
    attack: str
    asset: str
    reason: str | None  # why the scenario cannot host it; None when it can


def targets(scenario: Scenario, attacks: list[str]) -> list[Target]:
    """Every (attack, asset) pair to try: each attack on each of the scenario's volatile assets,
    with the reason when the scenario cannot host it there."""
    out = []
    for name in attacks:
        attack = ATTACKS[name]
        for asset in scenario.volatile_assets:
            reason = attack.problem(scenario, asset)
            needed = START_BLOCK + attack.hold_blocks(scenario, asset) + SETTLE_BLOCKS
            if reason is None and scenario.blocks < needed:
                reason = f"the scenario is {scenario.blocks} blocks long; the attack needs {needed} (blocks)"
            out.append(Target(name, asset, reason))
    return out


def audit_names() -> frozenset[str]:
    """Every file an audit writes into its output directory."""
    from sim.report.audit import AUDIT_REPORT_FILES

    return frozenset({VERDICTS_FILE, VERDICTS_CSV, PROBES_FILE, *AUDIT_REPORT_FILES})


def audit(scenario: Scenario, attacks: list[str], max_capital_usd: float, out_dir: Path,
          on_probe: Callable[[Target, Probe], None] | None = None, overwrite: bool = False) -> pd.DataFrame:
    """Search every applicable target and write the verdicts, the probes and the report into
    ``out_dir``, replaced as a whole when the audit ends (nothing of it when the audit fails or a
    signal stops it: :class:`~sim.model.interrupts.Interrupted` or :class:`~sim.model.RunInterrupted`).
    Raises ValueError for a scenario that cannot be audited (:func:`audit_problems`)."""
    problems = audit_problems(scenario)
    if problems:
        raise ValueError("; ".join(problems))
    check_output_dir(out_dir, audit_names(), overwrite)
    with output_lock(out_dir):
        staged = staging_dir(out_dir)
        try:
            with signals_raise():  # between probes too: a signal is raised as Interrupted, never lost
                verdicts = _audit(scenario, attacks, max_capital_usd, staged, on_probe)
            replace_directory(staged, out_dir)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
    return verdicts


def _audit(scenario: Scenario, attacks: list[str], max_capital_usd: float, out_dir: Path,
           on_probe: Callable[[Target, Probe], None] | None) -> pd.DataFrame:
    from sim.protocol import load_artifacts

    artifacts = load_artifacts()
    rows, probe_rows = [], []
    with tempfile.TemporaryDirectory(prefix="audit-runs-") as work:
        for target in targets(scenario, attacks):
            if target.reason is not None:
                rows.append({"attack": target.attack, "asset": target.asset, "applicable": False, "reason": target.reason,
                             "vulnerable": False})
                continue
            search = _search(scenario, target, max_capital_usd, Path(work), artifacts, on_probe)
            rows.append(_verdict(target, search))
            probe_rows += [{"attack": target.attack, "asset": target.asset, **p.__dict__} for p in search.probes]
    verdicts = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS)).astype({"victims": "Int64", "blocks": "Int64"})
    probes = pd.DataFrame(probe_rows, columns=["attack", "asset", *Probe.__dataclass_fields__])
    write_atomic(out_dir / VERDICTS_FILE, parquet_bytes(verdicts))
    write_atomic(out_dir / VERDICTS_CSV, verdicts.to_csv(index=False).encode())
    write_atomic(out_dir / PROBES_FILE, parquet_bytes(probes))
    from sim.report.audit import write_audit_report  # matplotlib is only needed here

    write_audit_report(out_dir, scenario.name, verdicts, probes, max_capital_usd)
    return verdicts


def _search(scenario: Scenario, target: Target, max_capital_usd: float, work: Path, artifacts,
            on_probe: Callable[[Target, Probe], None] | None) -> Search:
    attack = ATTACKS[target.attack]
    count = iter(range(1_000_000))

    def evaluate(capital: float) -> Probe:
        check()  # a signal whose Interrupted was dropped (in a finalizer, say) stops the search here
        run = attack.with_attacker(scenario, target.asset, capital, START_BLOCK)
        result = probe(run, capital, work / f"{target.attack}-{target.asset}-{next(count)}", artifacts)
        if on_probe is not None:
            on_probe(target, result)
        return result

    return least_paying_capital(evaluate, max_capital_usd)


def _verdict(target: Target, search: Search) -> dict:
    """The verdict of one search. The protocol's loss and the victims are those of one probe: the
    attack's most profitable when it pays, else the one that cost the protocol most (an attack
    that does not pay can still do damage)."""
    best = search.best
    shown = best if best is not None and best.pays else max(search.probes, key=lambda p: p.protocol_loss_usd)
    return {
        "attack": target.attack, "asset": target.asset, "applicable": True, "reason": "",
        "vulnerable": search.min_capital_usd is not None,
        "min_capital_usd": search.min_capital_usd,
        "max_profit_usd": best.attacker_pnl_usd if best is not None else None,
        "protocol_loss_usd": shown.protocol_loss_usd,
        "victims": shown.victims,
        "blocks": shown.blocks,
    }
