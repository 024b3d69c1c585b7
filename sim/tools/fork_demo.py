"""``make fork-demo``: the simulator against the REAL Uniswap V2 and Aave V3 bytecode on a fork.

1. The differential check (:mod:`sim.fork.differential`): the same liquidations on our
   LendingPool and on Aave v3.0.2, on a chain of its own -> ``differential.csv``.
2. An upstream chain that plays mainnet (:mod:`sim.fork.upstream`): the scenario's tokens, a V2
   pair and an Aave V3 market, deployed from the npm artifacts at the addresses the scenario names
   (a fixed deployer makes them the same on every fresh chain; if the scenario's addresses are
   not the builder's, the demo stops and prints the right ones) -> ``upstream.json``.
3. The scenario run on a fork of it, the way a user forks mainnet: ``--network
   ethereum:mainnet-fork:foundry`` with the upstream's URL in ``$SIM_UPSTREAM_RPC`` -> the usual
   tables, ``summary.json`` and ``report.html``.

Everything goes to ``--out`` (default ``out/fork-demo``) as a whole, or not at all: the outputs
are staged beside it and replace it at the end. Exit codes as ``ape run cascade``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from sim.chain import AnvilBackend
from sim.chain.node import FORK_NETWORK, FORK_UPSTREAM_ENV, free_port
from sim.files import OutputDirError, check_output_dir, output_lock, replace_directory, staging_dir
from sim.fork.differential import differential, write_csv
from sim.fork.upstream import MANIFEST_NAME, Upstream, anvil_node, build_upstream, release_control, upstream_artifacts
from sim.model import RunFailed, RunInterrupted, run_cascade
from sim.model.outputs import output_names
from sim.protocol import SetupError
from sim.scenario import Scenario, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = ROOT / "scenarios" / "fork-demo.yaml"
DEFAULT_OUT = ROOT / "out" / "fork-demo"
DIFFERENTIAL_NAME = "differential.csv"
DEMO_NAMES = frozenset({DIFFERENTIAL_NAME, MANIFEST_NAME})
RUN_DIR = "run"  # where the cascade writes inside the staging directory


def address_mismatches(scenario: Scenario, upstream: Upstream) -> list[tuple[str, str, str]]:
    """``(field, scenario's address, upstream's)`` for every address the scenario names that is
    not where the upstream builder put that contract."""
    wanted: list[tuple[str, str | None, str]] = [
        (f"assets.{symbol}.address", asset.address, upstream.tokens[symbol]) for symbol, asset in scenario.assets.items()
    ]
    for i, pool in enumerate(scenario.pools):
        if pool.kind == "uniswap_v2":
            wanted += [(f"pools[{i}].pair", pool.pair, upstream.uniswap_v2.pairs[pool.asset]),
                       (f"pools[{i}].router", pool.router, upstream.uniswap_v2.router)]
    if scenario.lending.kind == "aave_v3":
        wanted.append(("lending.pool", scenario.lending.pool, upstream.aave_v3.pool))
    return [(path, str(ours), theirs) for path, ours, theirs in wanted if ours is None or ours.lower() != theirs.lower()]


def check_demo_scenario(scenario: Scenario) -> None:
    """Refuse, before any node starts, a scenario whose venues are not on the upstream the demo
    builds: it needs an ``aave_v3`` lending pool and at least one ``uniswap_v2`` pair."""
    problems = []
    if scenario.lending.kind != "aave_v3":
        problems.append(("lending.kind", "the fork demo runs against the upstream's Aave V3 pool: set kind aave_v3 and its pool"))
    if not any(pool.kind == "uniswap_v2" for pool in scenario.pools):
        problems.append(("pools", "the fork demo trades on the upstream's Uniswap V2 pairs: give a pool kind uniswap_v2"))
    if problems:
        raise ScenarioError(scenario.name, problems)


def run_fork_demo(scenario: Scenario, out: Path, progress: bool = True, overwrite: bool = False):
    """Build, fork and run (see the module); the run's :class:`~sim.model.RunResult`. A run that
    fails part-way still replaces ``out`` with what it recorded (as ``ape run cascade`` does)."""
    check_output_dir(out, output_names() | DEMO_NAMES, overwrite)
    # Ape expands ${SIM_UPSTREAM_RPC} in ape-config.yaml when it first loads it (the artifacts
    # below load it), so the upstream's port is chosen and announced before anything else.
    port = free_port()
    os.environ[FORK_UPSTREAM_ENV] = f"http://127.0.0.1:{port}"
    with output_lock(out):
        staged = staging_dir(out)
        try:
            write_csv(differential(), staged / DIFFERENTIAL_NAME)
            with anvil_node(port=port) as uri:
                backend = AnvilBackend(uri)
                upstream = build_upstream(backend, upstream_artifacts(), scenario)
                release_control(backend)
                wrong = address_mismatches(scenario, upstream)
                if wrong:
                    lines = "\n  ".join(f"{path}: {ours} in the scenario, the upstream has it at {theirs}" for path, ours, theirs in wrong)
                    raise SetupError(f"the scenario's addresses are not the upstream's:\n  {lines}")
                upstream.save(staged / MANIFEST_NAME)
                try:
                    result = run_cascade(scenario, staged / RUN_DIR, network=FORK_NETWORK, progress=progress)
                except RunFailed as error:
                    _publish(staged, out)
                    raise _at_out(error, staged / RUN_DIR, out) from error
            _publish(staged, out)
            return result
        finally:
            shutil.rmtree(staged, ignore_errors=True)


def _at_out(error: RunFailed, run: Path, out: Path) -> RunFailed:
    """The run's error, naming ``out`` where it names the staging directory it wrote into."""
    message = str(error).replace(str(run.resolve()), str(out)).replace(str(run), str(out))
    if isinstance(error, RunInterrupted):
        return RunInterrupted(message, error.exit_code)
    return RunFailed(message)


def _publish(staged: Path, out: Path) -> None:
    """The run's outputs beside the demo's own, then all of them at ``out`` (nothing when the run
    wrote nothing: a set-up failure before its first table)."""
    run = staged / RUN_DIR
    if not run.is_dir():
        return
    for produced in run.iterdir():
        produced.rename(staged / produced.name)
    run.rmdir()
    (staged / f".{RUN_DIR}.lock").unlink(missing_ok=True)  # the run's output lock, beside its directory
    replace_directory(staged, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.tools.fork_demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario YAML (default: scenarios/fork-demo.yaml)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory (default: out/fork-demo)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out even when it holds other files")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        scenario = load_scenario(args.scenario)  # before any node starts
        check_demo_scenario(scenario)
        result = run_fork_demo(scenario, args.out, progress=not args.no_progress, overwrite=args.overwrite)
    except (ScenarioError, OutputDirError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RunInterrupted as error:
        print(f"interrupted: {error}", file=sys.stderr)
        return error.exit_code
    except (RunFailed, SetupError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    s = result.figures
    liquidated = s.liquidations.liquidations_usd
    print(f"{s.scenario} on a fork of the upstream: {s.blocks} blocks, {s.tx_count} transactions; liquidated "
          f"${liquidated.total:,.0f} (lending, through Aave V3: ${liquidated.lending:,.0f}; perp ${liquidated.perp:,.0f})")
    print(f"outputs in {args.out}: {DIFFERENTIAL_NAME} (LendingPool vs Aave v3.0.2), {MANIFEST_NAME}, report.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
