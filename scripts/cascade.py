"""`ape run cascade --scenario scenarios/oct10.yaml --out out/oct10 [--set PATH=VALUE ...] [--backend revm|anvil] [--network ...] [--overwrite]`.

Thin: checks the scenario with its overrides (``--set``, :mod:`sim.scenario.overrides`) and its
``expect:`` metrics, the backend and the output directory before any node starts (a bad file, a
bad override, a metric no summary has, a backend that cannot run it or an unusable ``--out``
exits with code 2 and says which), then calls :func:`sim.run_cascade` and prints where the report
is. The revm backend (the default unless the run needs a node: a ``--network``, fork venues, a
long run) starts no node at all; anvil starts one for the run on a port of its own, on
``--network`` when given. Exit codes: 0 done, 1 the run failed or an expectation of the
scenario's ``expect:`` did not hold (outputs written, ``expect.json`` says which), 2 bad input,
130 / 143 interrupted by SIGINT / SIGTERM (what was recorded is in ``--out``).
"""

import sys
from pathlib import Path

import click
from ape.cli.choices import NetworkChoice
from ape.logging import logger

from sim import OutputDirError, RunFailed, RunInterrupted, ScenarioError, load_scenario, output_names, run_cascade
from sim.calibration.targets import calibration_problems
from sim.record.expect import metric_problems
from sim.scenario import apply_overrides, parse_override
from sim.chain.node import fork_upstream_problem, lean_anvil
from sim.files import check_output_dir
from sim.protocol import BACKENDS, DEFAULT_NETWORK, LONG_RUN_BLOCKS, BackendError, SetupError, choose_backend, scenario_network_problem
from sim.protocol.session import network_name

lean_anvil()  # before `ape run` connects the provider (see sim/chain/node.py)


def _argument(argv: list[str], name: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return ""


def _early_problem(argv: list[str]) -> str | None:
    """A backend or fork upstream that cannot work, found from the command line before Ape parses
    it (Ape would otherwise fail first on the fork's unexpanded upstream URI, less helpfully)."""
    network, backend = _argument(argv, "--network"), _argument(argv, "--backend")
    if backend == "revm":
        try:
            choose_backend(backend, network or None)
        except BackendError as error:
            return str(error)
        return None
    return fork_upstream_problem(network)


_problem = _early_problem(sys.argv)
if _problem:
    print(f"error: {_problem}", file=sys.stderr)
    sys.exit(2)


def _scenario(ctx: click.Context, param: click.Parameter, value: str):
    try:
        scenario = load_scenario(value)
    except ScenarioError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None
    # the expectations' metrics, against the summary's figures; the calibration targets file
    unknown = metric_problems(scenario.expectations()) + calibration_problems(scenario)
    if unknown:
        raise click.BadParameter(str(ScenarioError(value, unknown)), ctx=ctx, param=param)
    return scenario


def _overrides(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]):
    try:
        return [parse_override(value) for value in values]
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def _out_dir(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    try:
        check_output_dir(value, output_names(), overwrite=ctx.params.get("overwrite", False))
    except OutputDirError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None
    return value


def _network(ctx: click.Context, param: click.Parameter, value) -> str | None:
    """The Ape network choice as text (``ecosystem:network:provider``; Ape checked that it exists),
    or None when none was named."""
    if value is None or isinstance(value, str):
        return value
    return f"{value.network.choice}:{value.name}"


@click.command(short_help="Run a cascade scenario and write its report")
@click.option("--network", default=None, type=NetworkChoice(), callback=_network,
              help=f"Ape network the anvil backend runs on (default {DEFAULT_NETWORK}); naming one chooses anvil.")
@click.option("--backend", type=click.Choice(BACKENDS), default=None,
              help="revm: the contracts run in this process (default unless the run needs a node: a --network, fork venues, "
                   f"more than {LONG_RUN_BLOCKS:,} blocks); anvil: on a node.")
@click.option("--scenario", "scenario", required=True, callback=_scenario, help="Scenario YAML file.")
@click.option("--set", "overrides", multiple=True, callback=_overrides, metavar="PATH=VALUE",
              help="Override one field (repeatable), e.g. lending.reserves[asset=ALT].liquidation_bonus_bps=10500.")
@click.option("--overwrite", is_flag=True, is_eager=True,
              help="Replace --out even when it holds files that are not a run's outputs (they are deleted).")
@click.option("--out", "out_dir", required=True, callback=_out_dir, type=click.Path(path_type=Path),
              help="Output directory; replaced as a whole when the run ends.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def cli(network: str | None, backend: str | None, scenario, overrides, overwrite: bool, out_dir: Path, no_progress: bool) -> None:
    logger.set_level("WARNING")
    try:
        scenario = apply_overrides(scenario, overrides, scenario.name)
        problems = calibration_problems(scenario)  # a --set calibration=FILE names a targets file of its own
        if problems:
            raise ScenarioError(scenario.name, problems)
    except ScenarioError as error:
        raise click.BadParameter(str(error), param_hint="--set") from None
    try:
        backend = choose_backend(backend, network, scenario)
    except BackendError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2)
    problem = scenario_network_problem(scenario, network_name(network or DEFAULT_NETWORK)) if backend == "anvil" else None
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    try:
        # a node started for this command (on a port of its own) is this run's alone
        result = run_cascade(scenario, out_dir, network=network, progress=not no_progress, overwrite=overwrite,
                             backend=backend)
    except RunInterrupted as error:
        click.echo(f"interrupted: {error}", err=True)
        sys.exit(error.exit_code)
    except (RunFailed, SetupError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    s = result.figures
    liquidated = s.liquidations.liquidations_usd
    click.echo(
        f"{s.scenario}: {s.blocks} blocks, {s.tx_count} transactions in {s.wall_s:.1f} s "
        f"on {s.backend} ({s.block_space.blocks_at_gas_limit} blocks at their gas limit); "
        f"liquidated ${liquidated.total:,.0f} (lending ${liquidated.lending:,.0f}, perp ${liquidated.perp:,.0f})"
    )
    click.echo(f"report: {(out_dir / 'report.html').resolve()}")
    if result.calibration is not None:
        c = result.calibration
        click.echo(f"calibration: score {c['score']:.2f}, {c['within']} of {c['target_count']} targets within tolerance "
                   f"({(out_dir / 'calibration.json').resolve()})")
    failed = [e for e in result.expectations if not e["passed"]]
    if result.expectations:
        click.echo(f"expectations: {len(result.expectations) - len(failed)} of {len(result.expectations)} hold "
                   f"({(out_dir / 'expect.json').resolve()})")
    for e in failed:
        click.echo(f"failed: {e['expect']} (the run gave {e['value']})", err=True)
    if failed:
        sys.exit(1)
