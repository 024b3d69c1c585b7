"""`ape run cascade --scenario scenarios/oct10.yaml --out out/oct10 [--network ...]`.

Thin: validates the scenario before any node starts (a bad file exits with code 2 and names the
field), then calls :func:`sim.run_cascade` and prints where the report is.
"""

import sys
from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, network_option
from ape.logging import logger

from sim import RunFailed, ScenarioError, load_scenario, run_cascade
from sim.chain.node import lean_anvil
from sim.protocol import SetupError

lean_anvil()  # before `ape run` connects the provider (see sim/chain/node.py)


def _scenario(ctx: click.Context, param: click.Parameter, value: str):
    try:
        return load_scenario(value)
    except ScenarioError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


@click.command(cls=ConnectedProviderCommand, short_help="Run a cascade scenario and write its report")
@network_option()
@click.option("--scenario", "scenario", required=True, callback=_scenario, help="Scenario YAML file.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), help="Output directory.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def cli(provider, scenario, out_dir: Path, no_progress: bool) -> None:
    logger.set_level("WARNING")
    try:
        result = run_cascade(scenario, out_dir, progress=not no_progress)
    except (RunFailed, SetupError) as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    s = result.figures
    liquidated = s.liquidations.liquidations_usd
    click.echo(
        f"{s.scenario}: {s.blocks} blocks, {s.tx_count} transactions in {s.wall_s:.1f} s; "
        f"liquidated ${liquidated.total:,.0f} (lending ${liquidated.lending:,.0f}, perp ${liquidated.perp:,.0f})"
    )
    click.echo(f"report: {(out_dir / 'report.html').resolve()}")
