"""`ape run calibrate --scenario scenarios/oct10.yaml --params calibration/oct10_params.yaml --trials N --out DIR [--seeds K] [--workers N] [--scheduler ADDRESS] [--backend revm|anvil] [--no-progress] [--overwrite]`.

Thin: checks the scenario (it must name its ``calibration:`` targets), the params file (every
path, every range's ends validated on the scenario) and ``--out`` before any worker starts, then
runs the Optuna search on Dask (:func:`sim.experiment.calibrate.run_search`) with a progress bar
counting runs, and writes ``trials.parquet``, ``runs.parquet``, ``best.yaml`` and ``report.html``.
Exit codes: 0 done, 1 the cluster failed, 2 bad input, 130 / 143 interrupted by SIGINT / SIGTERM
(every finished trial is written).
"""

import contextlib
import re
import shutil
import sys
import time
from pathlib import Path

import click

from sim.calibration.targets import calibration_problems
from sim.experiment.cli import RunBar, cluster_options, cluster_problem
from sim.experiment.calibrate import TRIAL_PREFIX, calibrate_names, run_search, write_search_outputs
from sim.experiment.params import load_params
from sim.files import OutputDirError, output_lock
from sim.model.interrupts import Interrupted
from sim.protocol import BackendError, choose_backend
from sim.scenario import ScenarioError, load_scenario

def _bad_input(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


TRIAL_RUN = re.compile(rf"{TRIAL_PREFIX}\d+-s\d+")  # a trial's run folder under runs/


def _prepare_out(out_dir: Path, overwrite: bool) -> None:
    """Refuse an ``--out`` that is a file or holds other files; clear a previous calibration's
    outputs with ``overwrite`` (else refuse it)."""
    if out_dir.exists() and not out_dir.is_dir():
        _bad_input(f"--out {out_dir} is a file, not a directory")
    if not out_dir.is_dir():
        return
    names = calibrate_names()
    present = sorted(p.name for p in out_dir.iterdir() if not p.name.startswith("."))
    foreign = [n for n in present if n not in names]
    runs = out_dir / "runs"
    if runs.is_dir():  # a sweep's runs are c<cell>-s<seed>: never a calibration's to delete
        foreign += [f"runs/{p.name}" for p in runs.iterdir() if not p.name.startswith(".") and not TRIAL_RUN.fullmatch(p.name)]
    if foreign:
        _bad_input(f"--out {out_dir} holds files that are not a calibration's ({', '.join(foreign[:5])}): choose another --out")
    if present and not overwrite:
        _bad_input(f"--out {out_dir} holds a previous calibration: pass --overwrite to replace it, or choose another --out")
    for name in present:
        path = out_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()


@click.command(short_help="Search a scenario's free parameters for the best score against its calibration targets")
@click.option("--scenario", "scenario_file", required=True, type=click.Path(path_type=Path),
              help="Scenario YAML file; it must name its targets (calibration: FILE).")
@click.option("--params", "params_file", required=True, type=click.Path(path_type=Path),
              help="Params YAML file: seeds and params {PATH: {low, high[, log][, int]} | {choices}}.")
@click.option("--trials", type=click.IntRange(min=1, max=100_000), required=True, help="Trials to run.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), help="Output directory.")
@click.option("--seeds", type=int, default=None, help="Runs per trial (overrides the params file's seeds).")
@cluster_options("Worker processes of the local Dask cluster, and trials per batch (default 2); not with --scheduler.",
                 "Run on an existing Dask cluster, e.g. tcp://127.0.0.1:8786 (it must see the same files).")
@click.option("--overwrite", is_flag=True, help="Replace a previous calibration's outputs in --out.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def cli(scenario_file: Path, params_file: Path, trials: int, out_dir: Path, seeds: int | None, workers: int | None,
        scheduler: str | None, backend: str, overwrite: bool, no_progress: bool) -> None:
    problem = cluster_problem(workers, scheduler)
    if problem:
        _bad_input(problem)
    try:
        base = load_scenario(scenario_file)
        problems = calibration_problems(base)
        if problems:
            raise ScenarioError(str(scenario_file), problems)
        search = load_params(base, params_file, seeds)
        choose_backend(backend, None, base)
    except (ScenarioError, BackendError) as error:
        _bad_input(str(error))
    with contextlib.ExitStack() as held:
        try:
            held.enter_context(output_lock(out_dir))  # held until the search ends: another one into --out exits 2
        except (OutputDirError, OSError) as error:
            _bad_input(str(error) if isinstance(error, OutputDirError) else f"--out {out_dir}: cannot write there ({error})")
        _prepare_out(out_dir, overwrite)
        out_dir.mkdir(parents=True, exist_ok=True)
        _search(search, trials, out_dir, workers or 2, scheduler, backend, no_progress)


def _search(search, trials: int, out_dir: Path, workers: int, scheduler: str | None, backend: str, no_progress: bool) -> None:
    progress = RunBar(trials * search.seeds, search.base.name, no_progress)
    bar = progress.bar
    counted: set[int] = set()

    def on_batch(done: list) -> None:
        for trial in done:  # a trial whose scenario was refused ran nothing: count its runs as done
            if trial.number not in counted and trial.error:
                bar.update(search.seeds)
            counted.add(trial.number)
        write_search_outputs(search, out_dir, done)

    where = scheduler or f"a local cluster of {workers} workers"
    click.echo(f"{search.base.name}: {trials} trials × {search.seeds} seeds = {trials * search.seeds} runs over "
               f"{len(search.params)} parameters on {where} ({backend})", err=True)
    started = time.perf_counter()
    try:
        result = run_search(search, out_dir, trials, workers, scheduler, backend, on_run=progress.run_done, on_batch=on_batch)
    except Interrupted as error:
        bar.close()
        click.echo(f"interrupted: every finished trial is in {out_dir}", err=True)
        sys.exit(error.exit_code)
    except Exception as error:  # no scheduler at --scheduler, a cluster that went away
        bar.close()
        click.echo(f"error: the cluster failed: {type(error).__name__}: {error}; every finished trial is in {out_dir}", err=True)
        sys.exit(1)
    bar.close()
    best = write_search_outputs(search, out_dir, result.trials, report=True)
    click.echo(f"{len(result.trials)} trials in {time.perf_counter() - started:,.1f} s; best: trial {best['trial']}, "
               f"mean score {best['score_mean']:.3f} ({(out_dir / 'best.yaml').resolve()})")
    click.echo(f"report: {(out_dir / 'report.html').resolve()}")
    for key, why in result.lost.items():
        click.echo(f"lost run: {key}: {why}", err=True)
    for trial in result.trials:
        if trial.error:
            click.echo(f"refused trial {trial.number}: {trial.error}", err=True)
