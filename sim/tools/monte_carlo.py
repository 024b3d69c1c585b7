"""Many paths of one scenario, one seed each, over worker processes: the Monte Carlo line of
``make bench``.

``python -m sim.tools.monte_carlo --scenario scenarios/oct10.yaml --runs 40 --workers 2 --out DIR``
runs seeds ``seed, seed + 1, …`` of the scenario, each a complete run (tables and
``summary.json``, no HTML report) into ``DIR/seed-<n>``, on the revm backend: every worker holds
its own in-process chain, so paths run side by side with no node and no port. Each worker loads
the compiled contracts once. It prints the runs per minute and writes ``DIR/paths.parquet``: one
row per path with its headline figures (liquidated notional, bad debt, the block the insurance
fund ran dry, and ``status``: a path that fails is listed as failed with its ``error``, and the
others go on), which pandas opens directly.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import click

_ARTIFACTS: Any = None  # the compiled contracts, loaded once per worker process


def _load_worker() -> None:
    global _ARTIFACTS
    from sim.protocol import load_artifacts

    _ARTIFACTS = load_artifacts()


def seeded(scenario: Any, seed: int) -> Any:
    """``scenario`` with ``seed`` (and its name saying so)."""
    from sim.scenario import parse_scenario

    data = scenario.model_dump(mode="python")
    data.update(seed=seed, name=f"{scenario.name}-seed{seed}")
    return parse_scenario(data, f"{scenario.name} with seed {seed}")


def one_path(scenario: Any, seed: int, out_dir: Path) -> dict[str, Any]:
    """Run one seed of ``scenario`` into ``out_dir``; its row of ``paths.parquet``. A path that
    fails is a row too (``status`` failed, ``error`` why; what it recorded is in its directory):
    one bad seed does not lose the others."""
    from sim.model import RunFailed, RunInterrupted, run_cascade

    try:
        result = run_cascade(seeded(scenario, seed), out_dir, progress=False, artifacts=_ARTIFACTS, backend="revm",
                             report=False, overwrite=True)
    except RunInterrupted:
        raise
    except RunFailed as error:
        return {"seed": seed, "status": "failed", "error": str(error)}
    s = result.figures
    liquidations, markets = s.liquidations, s.markets
    return {
        "seed": seed,
        "status": s.status,
        "error": "",
        "tx_count": s.tx_count,
        "wall_s": s.wall_s,
        "liquidated_usd": liquidations.liquidations_usd.total if liquidations else 0.0,
        "lending_deficit_usd": markets.bad_debt_usd.lending_deficit if markets and markets.bad_debt_usd else 0.0,
        "perp_bad_debt_usd": markets.bad_debt_usd.perp_uncovered if markets and markets.bad_debt_usd else 0.0,
        "insurance_fund_exhausted_block": liquidations.insurance_fund_exhausted_block if liquidations else None,
        "blocks_at_gas_limit": s.block_space.blocks_at_gas_limit,
    }


def run_paths(scenario: Any, runs: int, workers: int, out_dir: Path, first_seed: int | None = None,
              progress: bool = True) -> dict[str, Any]:
    """Run ``runs`` seeds of ``scenario`` over ``workers`` processes into ``out_dir``; the paths'
    rows and the throughput (``runs_per_min`` counts from the first submission, worker start-up
    included)."""
    import pandas as pd
    from tqdm import tqdm

    start = scenario.seed if first_seed is None else first_seed
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers, initializer=_load_worker) as pool:
        futures = [pool.submit(one_path, scenario, seed, out_dir / f"seed-{seed}") for seed in range(start, start + runs)]
        with tqdm(total=runs, desc="paths", unit="run", disable=None if progress else True, file=sys.stderr) as bar:
            for future in as_completed(futures):
                rows.append(future.result())
                bar.update(1)
    wall_s = time.perf_counter() - started
    paths = pd.DataFrame(rows).sort_values("seed", ignore_index=True)
    paths.to_parquet(out_dir / "paths.parquet", index=False)
    return {
        "runs": runs,
        "workers": workers,
        "wall_s": round(wall_s, 3),
        "runs_per_min": round(runs / wall_s * 60, 1),
        "minutes_for_1000_runs": round(1000 / (runs / wall_s) / 60, 1),
        "mean_run_wall_s": round(float(paths["wall_s"].mean()), 3) if "wall_s" in paths else None,
        "failed_runs": int((paths["status"] != "completed").sum()),
        "paths": paths,
    }


@click.command()
@click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=Path("scenarios/oct10.yaml"),
              show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=40, show_default=True, help="Paths (seeds) to run.")
@click.option("--workers", type=click.IntRange(min=1), default=min(2, os.cpu_count() or 1), show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the paths go (default: a temporary directory, removed afterwards).")
def main(scenario: Path, runs: int, workers: int, out: Path | None) -> None:
    """Run many seeds of one scenario side by side and report the runs per minute."""
    from sim.scenario import ScenarioError, load_scenario

    try:
        loaded = load_scenario(scenario)
    except ScenarioError as error:
        raise click.BadParameter(str(error), param_hint="--scenario") from None
    with tempfile.TemporaryDirectory(prefix="paths-") as scratch:
        result = run_paths(loaded, runs, workers, out or Path(scratch))
        paths = result.pop("paths")
        click.echo(paths.describe().loc[["mean", "min", "max"]].to_string())
        click.echo(", ".join(f"{k}: {v}" for k, v in result.items()))
        if out is not None:
            click.echo(f"paths: {out / 'paths.parquet'}")


if __name__ == "__main__":
    main()
