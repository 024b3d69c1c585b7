"""`ape run sweep --experiment experiments/alt-liquidation-params.yaml --out out/sweep [--workers N] [--scheduler ADDRESS] [--backend revm|anvil] [--yes]`.

Thin: validates the experiment (every cell's scenario, the expectations' metrics, the grid's
size, the backend) and ``--out`` before any worker starts, then runs every ``(cell, seed)`` on
Dask (:func:`sim.experiment.sweep.run_sweep`) with a progress bar, and writes ``runs.parquet``,
``cells.parquet``, ``expect.json`` and ``report.html`` (:mod:`sim.experiment.outputs`). A rerun
with the same ``--out`` skips the runs already done. Exit codes: 0 every expectation holds on
every cell, 1 an expectation failed or a run failed or was lost (the outputs say which), 2 bad
input, 130 / 143 interrupted by SIGINT / SIGTERM (every finished run is kept: rerun to continue).
"""

import contextlib
import sys
import time
from pathlib import Path

import click

from sim.experiment import load_experiment
from sim.experiment.cli import RunBar, cluster_options, cluster_problem
from sim.experiment.outputs import sweep_names, write_sweep_outputs
from sim.experiment.sweep import backend_problems, run_sweep, tasks_of
from sim.files import OutputDirError, output_lock
from sim.model.interrupts import Interrupted
from sim.scenario import ScenarioError


def _out_problem(out_dir: Path) -> str | None:
    if out_dir.exists() and not out_dir.is_dir():
        return f"--out {out_dir} is a file, not a directory"
    if out_dir.is_dir():
        foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in sweep_names())
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            return f"--out {out_dir} holds files that are not a sweep's ({shown}): choose another --out"
    return None


@click.command(short_help="Run an experiment: a grid of overrides × seeds, with VaR/LaR per cell")
@click.option("--experiment", "experiment_file", required=True, type=click.Path(path_type=Path),
              help="Experiment YAML file (README, \"Experiments\").")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Output directory; a rerun with the same --out skips the runs already done.")
@cluster_options("Worker processes of the local Dask cluster (default 2); not with --scheduler.",
                 "Run on an existing Dask cluster, e.g. tcp://127.0.0.1:8786, instead of a local one.")
@click.option("--yes", "allow_large", is_flag=True, help="Run a grid of more than 10,000 cells.")
@click.option("--no-report", is_flag=True, help="Write the tables and expect.json only.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def cli(experiment_file: Path, out_dir: Path, workers: int | None, scheduler: str | None, backend: str,
        allow_large: bool, no_report: bool, no_progress: bool) -> None:
    problem = cluster_problem(workers, scheduler)
    if problem:
        _bad_input(problem)
    try:
        experiment = load_experiment(experiment_file, allow_large=allow_large)
        problems = backend_problems(experiment, backend)
        if problems:
            raise ScenarioError(str(experiment_file), problems)
        tasks = tasks_of(experiment)  # every run's scenario: a seed or draw the schema refuses is named here
    except ScenarioError as error:
        _bad_input(str(error))
    problem = _out_problem(out_dir)
    if problem:
        _bad_input(problem)
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(output_lock(out_dir))  # held until the sweep ends: another sweep into --out exits 2
        except (OutputDirError, OSError) as error:
            _bad_input(str(error) if isinstance(error, OutputDirError) else f"--out {out_dir}: cannot write there ({error})")
        _sweep(experiment, tasks, out_dir, workers or 2, scheduler, backend, no_report, no_progress)


def _bad_input(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _sweep(experiment, tasks, out_dir: Path, workers: int, scheduler: str | None, backend: str, no_report: bool,
           no_progress: bool) -> None:
    progress = RunBar(experiment.runs, experiment.name, no_progress)
    bar = progress.bar

    def on_start(total: int, done: int) -> None:
        bar.update(done)
        if done:
            bar.write(f"{done} of {total} runs already done in {out_dir}: skipped", file=sys.stderr)

    started = time.perf_counter()
    where = scheduler or f"a local cluster of {workers} workers"
    click.echo(f"{experiment.name}: {len(experiment.cells)} cells × {experiment.seeds} seeds = {experiment.runs} runs "
               f"on {where} ({backend})", err=True)
    try:
        result = run_sweep(experiment, out_dir, workers, scheduler, backend, on_row=progress.run_done, on_start=on_start, tasks=tasks)
    except Interrupted as error:
        bar.close()
        click.echo(f"interrupted: every finished run is kept in {out_dir / 'rows'}; rerun the same command to continue",
                   err=True)
        sys.exit(error.exit_code)
    except Exception as error:  # no scheduler at --scheduler, a cluster that went away
        bar.close()
        click.echo(f"error: the cluster failed: {type(error).__name__}: {error}; every finished run is kept in "
                   f"{out_dir / 'rows'}: rerun to continue", err=True)
        sys.exit(1)
    bar.close()
    wall_s = time.perf_counter() - started
    outputs = write_sweep_outputs(experiment, out_dir, result.rows, report=not no_report)
    rate = f", {result.ran / wall_s * 60:,.1f} runs/min" if result.ran else ""
    click.echo(f"{len(result.rows)} of {experiment.runs} runs done ({result.ran} now, {result.skipped} before) in "
               f"{wall_s:,.1f} s{rate}")
    failed = outputs.runs[outputs.runs["error"] != ""] if not outputs.runs.empty else outputs.runs
    for _, run in failed.iterrows():
        click.echo(f"failed run: cell {run['cell']} seed {run['seed']}: {run['error']}", err=True)
    for key, why in result.lost.items():
        click.echo(f"lost run: {key}: {why} (rerun the same command to retry it)", err=True)
    if experiment.expectations:
        click.echo(f"expectations: {len(outputs.expectations) - len(outputs.failed)} of {len(outputs.expectations)} "
                   f"hold across {len(experiment.cells)} cells ({(out_dir / 'expect.json').resolve()})")
    for e in outputs.failed:
        click.echo(f"failed: cell {e['cell']}: {e['expect']} (value {e['value']})", err=True)
    if outputs.report is not None:
        click.echo(f"report: {outputs.report.resolve()}")
    if outputs.failed or len(failed) or result.lost:
        sys.exit(1)
