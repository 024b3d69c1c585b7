"""`ape run cascade --scenario scenarios/oct10.yaml --out out/oct10 [--network ...] [--overwrite]`.

Thin: checks the scenario and the output directory before any node starts (a bad file or an
unusable ``--out`` exits with code 2 and says which), then calls :func:`sim.run_cascade` and
prints where the report is. Exit codes: 0 done, 1 the run failed, 2 bad input, 130 / 143
interrupted by SIGINT / SIGTERM (what was recorded is in ``--out``).
"""

import sys
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option
from ape.logging import logger

from sim import OutputDirError, RunFailed, RunInterrupted, ScenarioError, load_scenario, output_names, run_cascade
from sim.chain.node import fork_upstream_problem, lean_anvil
from sim.files import check_output_dir
from sim.protocol import SetupError, scenario_network_problem

lean_anvil()  # before `ape run` connects the provider (see sim/chain/node.py)


def _network_argument(argv: list[str]) -> str:
    for i, arg in enumerate(argv):
        if arg == "--network" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--network="):
            return arg.split("=", 1)[1]
    return ""


_fork_problem = fork_upstream_problem(_network_argument(sys.argv))
if _fork_problem:  # before Ape connects: it would fail on the unexpanded URI with a less helpful message
    print(f"error: {_fork_problem}", file=sys.stderr)
    sys.exit(2)


def _scenario(ctx: click.Context, param: click.Parameter, value: str):
    try:
        return load_scenario(value)
    except ScenarioError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def _out_dir(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    try:
        check_output_dir(value, output_names(), overwrite=ctx.params.get("overwrite", False))
    except OutputDirError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None
    return value


@click.command(cls=ConnectedProviderCommand, short_help="Run a cascade scenario and write its report")
@network_option()
@click.option("--scenario", "scenario", required=True, callback=_scenario, help="Scenario YAML file.")
@click.option("--overwrite", is_flag=True, is_eager=True,
              help="Replace --out even when it holds files that are not a run's outputs (they are deleted).")
@click.option("--out", "out_dir", required=True, callback=_out_dir, type=click.Path(path_type=Path),
              help="Output directory; replaced as a whole when the run ends.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def cli(provider, scenario, overwrite: bool, out_dir: Path, no_progress: bool) -> None:
    logger.set_level("WARNING")
    problem = scenario_network_problem(scenario, provider.network.name)
    if problem:
        click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    try:
        # a node Ape started for this command (on a port of its own) is this run's alone
        owns_node = getattr(provider, "process", None) is not None
        result = run_cascade(scenario, out_dir, progress=not no_progress, overwrite=overwrite, owns_node=owns_node)
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
        f"({s.txs_left_out} left out of full blocks); "
        f"liquidated ${liquidated.total:,.0f} (lending ${liquidated.lending:,.0f}, perp ${liquidated.perp:,.0f})"
    )
    click.echo(f"report: {(out_dir / 'report.html').resolve()}")
