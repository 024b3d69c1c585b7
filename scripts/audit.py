"""`ape run audit --scenario FILE [--attacks a,b,...] [--max-capital-usd N] --out DIR [--set PATH=VALUE ...]`.

Thin: checks the scenario, the attacks and ``--out`` before anything runs (an unknown attack, a
capital limit of zero or less, an attack named that the scenario cannot host, exit 2 and say
which), then searches each attack's least paying capital (:func:`sim.audit.run.audit`) and prints
the verdicts. Without ``--attacks`` every attack runs where the scenario can host it; the others
are listed as not applicable with the reason. Exit codes: 0 no attack pays, 1 one pays (an
auditor's CI can gate on it) or the audit failed, 2 bad input, 130 / 143 interrupted (nothing written).
"""

import sys
from pathlib import Path

import click

from sim import OutputDirError, ScenarioError, load_scenario
from sim.audit.attacks import ATTACKS
from sim.audit.run import audit, audit_names, audit_problems, targets
from sim.files import check_output_dir
from sim.model import RunFailed, RunInterrupted
from sim.model.interrupts import Interrupted
from sim.scenario import apply_overrides, parse_override

DEFAULT_MAX_CAPITAL_USD = 100_000_000
LOWEST_MAX_CAPITAL_USD = 1_000  # below this nothing is worth searching
HIGHEST_MAX_CAPITAL_USD = 1e12  # the most capital a scenario's agent may hold


def _bad_input(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.command(short_help="Audit a configuration for manipulation: the least capital that makes each attack pay")
@click.option("--scenario", "scenario_file", required=True, type=click.Path(path_type=Path), help="Scenario YAML file.")
@click.option("--attacks", default=None, metavar="a,b,...", help=f"Attacks to run (default: every one that applies): {', '.join(ATTACKS)}.")
@click.option("--max-capital-usd", type=float, default=DEFAULT_MAX_CAPITAL_USD, show_default=True,
              help="The most capital an attacker may bring.")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override one scenario field (repeatable).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory; replaced as a whole.")
@click.option("--overwrite", is_flag=True, help="Replace --out even when it holds files that are not an audit's.")
@click.option("--no-progress", is_flag=True, help="Print nothing per probe.")
def cli(scenario_file: Path, attacks: str | None, max_capital_usd: float, overrides: tuple[str, ...], out_dir: Path,
        overwrite: bool, no_progress: bool) -> None:
    if not LOWEST_MAX_CAPITAL_USD <= max_capital_usd <= HIGHEST_MAX_CAPITAL_USD:  # NaN fails both
        _bad_input(f"--max-capital-usd must be above 0, from ${LOWEST_MAX_CAPITAL_USD:,} to ${HIGHEST_MAX_CAPITAL_USD:,.0f}; "
                   f"got {max_capital_usd:g}")
    try:
        scenario = apply_overrides(load_scenario(scenario_file), [parse_override(o) for o in overrides], str(scenario_file))
    except (ScenarioError, ValueError) as error:
        _bad_input(str(error))
    problems = audit_problems(scenario)
    if problems:
        _bad_input(f"{scenario_file} cannot be audited: " + "; ".join(problems))
    names = list(ATTACKS) if attacks is None else list(dict.fromkeys(a.strip() for a in attacks.split(",") if a.strip()))
    unknown = [a for a in names if a not in ATTACKS]
    if unknown or not names:
        _bad_input(f"unknown attack(s) {', '.join(map(repr, unknown)) or '(none named)'}: choose from {', '.join(ATTACKS)}")
    planned = targets(scenario, names)
    if attacks is not None:
        for name in names:
            reasons = [t.reason for t in planned if t.attack == name]
            if all(reasons):
                _bad_input(f"attack {name!r} cannot run on {scenario.name}: " + "; ".join(reasons))
    if all(t.reason for t in planned):  # nothing to audit: a CI gate must not pass on it
        _bad_input(f"no attack can run on {scenario.name}: " + "; ".join(sorted({f'{t.attack} on {t.asset}: {t.reason}' for t in planned})))
    try:
        check_output_dir(out_dir, audit_names(), overwrite)
    except OutputDirError as error:
        _bad_input(str(error))

    def on_probe(target, probe) -> None:
        if not no_progress:
            verdict = "pays" if probe.pays else "loses"
            click.echo(f"  {target.attack} on {target.asset}: ${probe.capital_usd:,.0f} of capital {verdict} "
                       f"${probe.attacker_pnl_usd:,.0f}", err=True)

    try:
        verdicts = audit(scenario, names, max_capital_usd, out_dir, on_probe=on_probe, overwrite=overwrite)
    except (RunInterrupted, Interrupted, KeyboardInterrupt) as error:  # nothing of the audit is written
        click.echo(f"interrupted: --out {out_dir} is as it was", err=True)
        sys.exit(getattr(error, "exit_code", 130))
    except (RunFailed, OutputDirError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    for _, v in verdicts.iterrows():
        if not v["applicable"]:
            click.echo(f"{v['attack']} on {v['asset']}: not applicable ({v['reason']})")
        elif v["vulnerable"]:
            click.echo(f"{v['attack']} on {v['asset']}: VULNERABLE from ${v['min_capital_usd']:,.0f} of capital; "
                       f"up to ${v['max_profit_usd']:,.0f} profit, ${v['protocol_loss_usd']:,.0f} lost by the protocol")
        else:
            click.echo(f"{v['attack']} on {v['asset']}: does not pay within ${max_capital_usd:,.0f}")
    click.echo(f"report: {(out_dir / 'report.html').resolve()}")
    if verdicts["vulnerable"].any():
        sys.exit(1)
