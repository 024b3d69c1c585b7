"""Measure the gas every action of a run really uses: the source of ``sim/protocol/gas.py``.

``python -m sim.tools.gas_table --scenario scenarios/oct10.yaml [--agents 1000] [--blocks 120]``
runs the scenario (scaled to ``--agents`` when given) on a node of its own with the tables kept
in memory, asks the node for the receipt of every transaction it sends through the session
(set-up and simulated blocks, not the deployment), and prints,
per ``(contract, action)``: how many were mined, how many reverted, the largest and median
``gasUsed``, the gas limit the calls carried and how many ran out of it. The limits in
``sim.protocol.gas.GAS_LIMITS`` are the largest observed with headroom.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Sequence

import click

from sim.chain import AnvilBackend, MinedBlock, Order


def measure(scenario_path: Path, agents: int | None, blocks: int | None, network: str) -> dict[tuple[str, str, str], list[tuple[int, bool, int]]]:
    """``(stage, contract, action) -> [(gasUsed, succeeded, gas limit), ...]`` for every
    transaction, ``stage`` ``setup`` (before the first simulated block) or ``sim``."""
    from sim.model.model import CascadeModel
    from sim.model.run import run_blocks
    from sim.protocol import open_session
    from sim.scenario import load_scenario
    from sim.tools.scaling import scale_population

    scenario = load_scenario(scenario_path)
    if agents is not None:
        scenario = scale_population(scenario, agents, blocks)
    elif blocks is not None:
        scenario = scenario.model_copy(update={"blocks": blocks})
    used: dict[tuple[str, str, str], list[tuple[int, bool, int]]] = defaultdict(list)
    with open_session(network) as session:
        backend = session.backend
        assert isinstance(backend, AnvilBackend)
        model = CascadeModel(scenario, session)

        execute = session.execute

        def measured(orders: Sequence[Order], timestamp_s: int) -> MinedBlock:
            mined = execute(orders, timestamp_s)
            stage = "sim" if model.ready else "setup"
            receipts = backend.batch([("eth_getTransactionReceipt", [tx.tx_hash]) for tx in mined.sent])
            for tx, receipt in zip(mined.sent, receipts):
                key = (stage, tx.call.contract or "(create)", tx.call.action)
                used[key].append((int(receipt["gasUsed"], 16), receipt["status"] == "0x1", tx.call.gas))
            return mined

        session.execute = measured  # type: ignore[method-assign]
        run_blocks(model, progress=True)
    return used


@click.command()
@click.option("--scenario", "scenario_path", type=click.Path(exists=True, path_type=Path), default=Path("scenarios/oct10.yaml"))
@click.option("--agents", type=int, default=None, help="Scale the populations to this many agents.")
@click.option("--blocks", type=int, default=None, help="Run this many blocks.")
@click.option("--network", default="ethereum:local:foundry")
def cli(scenario_path: Path, agents: int | None, blocks: int | None, network: str) -> None:
    used = measure(scenario_path, agents, blocks, network)
    click.echo(f"{'stage':<6} {'contract':<20} {'action':<28} {'mined':>7} {'reverted':>8} {'max gasUsed':>12} "
               f"{'median':>9} {'max limit':>11} {'out of gas':>10}")
    for (stage, contract, action), rows in sorted(used.items()):
        gas = [g for g, _, _ in rows]
        out_of_gas = sum(1 for g, ok, limit in rows if not ok and g >= limit)  # a revert that used all its gas
        click.echo(f"{stage:<6} {contract:<20} {action:<28} {len(rows):>7} {sum(1 for _, ok, _ in rows if not ok):>8} "
                   f"{max(gas):>12,} {int(statistics.median(gas)):>9,} {max(limit for _, _, limit in rows):>11,} {out_of_gas:>10}")


if __name__ == "__main__":
    cli()
