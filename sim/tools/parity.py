"""Run one scenario on both backends and say whether they agree: the check to run before trusting
revm after changing a contract, an action's gas limit or the model.

``python -m sim.tools.parity --scenario scenarios/oct10.yaml [--agents 1000 --blocks 120] [--out DIR]``
runs the scenario (scaled to ``--agents`` when given, as ``make bench`` does) on revm and on anvil,
then compares ``timeseries``, ``agents`` and ``events`` with ``DataFrame.equals`` — ``events``
without ``gas_used``, which revm does not measure (README, "Backends") — and ``summary.json``
without ``wall_s`` and ``backend``. It prints one line per table and exits 1 when anything differs
(naming the columns that do). The runs' outputs stay in ``--out`` (``revm/``, ``anvil/``) when given.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click

UNMEASURED_ON_REVM = ("gas_used",)  # events columns revm leaves NaN
PER_RUN = ("wall_s", "backend")  # summary fields that legitimately differ


def compare(runs: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """``(what, equal, detail)`` for each table and the summary of the ``revm`` and ``anvil`` runs."""
    revm, anvil = runs["revm"], runs["anvil"]
    rows = []
    for table in ("timeseries", "agents", "events"):
        ours, theirs = getattr(revm, table), getattr(anvil, table)
        skip = UNMEASURED_ON_REVM if table == "events" else ()
        columns = [c for c in theirs.columns if c not in skip]
        equal = list(ours.columns) == list(theirs.columns) and ours[columns].equals(theirs[columns])
        differing = [c for c in columns if c in ours and not ours[c].equals(theirs[c])]
        detail = f"{len(theirs):,} rows" + (f"; {', '.join(skip)} not compared" if skip else "")
        rows.append((table, equal, detail if equal else f"{detail}; differing columns: {', '.join(differing) or 'shape'}"))
    ours = {k: v for k, v in revm.summary.items() if k not in PER_RUN}
    theirs = {k: v for k, v in anvil.summary.items() if k not in PER_RUN}
    differing = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    rows.append(("summary.json", not differing, f"{', '.join(PER_RUN)} not compared" if not differing
                 else f"differing fields: {', '.join(differing)}"))
    return rows


@click.command()
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True)
@click.option("--agents", type=click.IntRange(min=1), default=None, help="Scale the population to this many agents.")
@click.option("--blocks", type=click.IntRange(min=1), default=None, help="Blocks of the scaled run (with --agents).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep both runs' outputs here (revm/, anvil/); default: a temporary directory.")
def main(scenario: Path, agents: int | None, blocks: int | None, out: Path | None) -> None:
    """Run SCENARIO on revm and on anvil and compare every table."""
    from sim.model import run_cascade
    from sim.scenario import ScenarioError, load_scenario
    from sim.tools.scaling import scale_population

    try:
        loaded = load_scenario(scenario)
        if agents is not None:
            loaded = scale_population(loaded, agents, blocks)
    except (ScenarioError, ValueError) as error:
        raise click.BadParameter(str(error), param_hint="--scenario/--agents") from None
    with tempfile.TemporaryDirectory(prefix="parity-") as scratch:
        base = out or Path(scratch)
        runs = {}
        for backend in ("revm", "anvil"):
            started = time.perf_counter()
            runs[backend] = run_cascade(loaded, base / backend, progress=True, backend=backend, report=False, overwrite=True)
            click.echo(f"{backend}: {runs[backend].figures.tx_count:,} transactions, run {runs[backend].figures.wall_s:.1f} s "
                       f"({time.perf_counter() - started:.1f} s with start-up)", err=True)
        rows = compare(runs)
    for what, equal, detail in rows:
        click.echo(f"{what:<13} {'equal' if equal else 'DIFFERS':<8} {detail}")
    sys.exit(0 if all(equal for _, equal, _ in rows) else 1)


if __name__ == "__main__":
    main()
