"""``ape run calibrate``: an Optuna search (TPE, seeded from the scenario's seed) over a scenario's
free parameters (:mod:`sim.experiment.params`) for the values whose runs score best against the
scenario's calibration targets (:mod:`sim.calibration`).

Trial 0 is the scenario as it is, when its values lie in the ranges (so the best trial is never
worse than the start); trials are asked for in batches of the cluster's size; each trial's scenario (the base with the
trial's values) runs on the same ``seeds`` seeds as every other trial (the scenario's seed + 0 ..
seeds − 1: common random numbers, so trials differ by their parameters, not their luck), each run a
task on the experiment runner's Dask workers (:func:`sim.experiment.sweep.run_tasks`), which scores
it there (its ``calibration.json``). A trial's value is the mean score of its runs; a run that
failed scores 0. After every batch, ``trials.parquet``, ``runs.parquet`` and ``best.yaml`` are
written atomically, so an interrupted search keeps every finished trial.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

from sim.calibration.score import score_values
from sim.calibration.targets import Target, load_targets
from sim.experiment.params import Param, Search
from sim.experiment.sweep import RUNS_DIR, Task, dask_client, fingerprint, run_tasks
from sim.files import parquet_bytes, write_atomic
from sim.model.interrupts import signals_raise
from sim.scenario import Scenario, ScenarioError, apply_overrides

TRIALS_FILE = "trials.parquet"
RUNS_FILE = "runs.parquet"
BEST_FILE = "best.yaml"
TRIAL_PREFIX = "t"  # runs/t<trial>-s<seed>


@dataclass
class Trial:
    """One finished trial: its number, its parameter values, its runs' rows (none when its scenario
    was refused: ``error`` says why)."""

    number: int
    params: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    @property
    def scores(self) -> list[float]:
        return [run_score(row) for row in self.rows] or [0.0]

    @property
    def value(self) -> float:
        return float(np.mean(self.scores))


def run_score(row: dict[str, Any]) -> float:
    """A run's score: 0 when it failed or wrote no calibration."""
    score = row.get("calibration_score")
    return 0.0 if row.get("error") or score is None else float(score)


def suggest(trial: Any, param: Param) -> Any:
    """The Optuna trial's value for ``param``."""
    r = param.range
    if r.choices is not None:
        return trial.suggest_categorical(param.path, r.choices)
    if r.integer:
        return trial.suggest_int(param.path, int(r.low), int(r.high), log=r.log)
    return trial.suggest_float(param.path, r.low, r.high, log=r.log)


def trial_tasks(search: Search, number: int, values: dict[str, Any]) -> list[Task]:
    """The runs of one trial: the base with ``values``, on each seed; ScenarioError when refused."""
    overrides = [p.override(values[p.path]) for p in search.params]
    scenario = apply_overrides(search.base, overrides, f"trial {number}")
    columns = {f"param:{p.path}": values[p.path] for p in search.params}
    tasks = []
    for offset in range(search.seeds):
        seed = search.base.seed + offset
        data = {**scenario.model_dump(mode="python"), "seed": seed, "name": f"{search.base.name}-t{number}-s{seed}"[:80]}
        run = Scenario.model_validate(data)
        tasks.append(Task(number, seed, columns, run, fingerprint(run), prefix=TRIAL_PREFIX))
    return tasks


@dataclass
class SearchResult:
    trials: list[Trial]
    lost: dict[str, str]


def run_search(search: Search, out_dir: Path, trials: int, workers: int = 2, scheduler: str | None = None,
               backend: str = "revm", on_run: Callable[[dict[str, Any]], None] | None = None,
               on_batch: Callable[[list[Trial]], None] | None = None) -> SearchResult:
    """Run ``trials`` trials in batches of the cluster's size. ``on_run(row)`` after every run,
    ``on_batch(trials so far)`` after every batch. SIGINT / SIGTERM raise
    :class:`~sim.model.interrupts.Interrupted` once the cluster is closed (the batches done are
    with ``on_batch``)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=search.base.seed % 2**32))
    start = search.start_values()
    if start is not None:
        study.enqueue_trial(start)  # trial 0: the scenario as it is
    done: list[Trial] = []
    lost: dict[str, str] = {}
    (out_dir / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    with signals_raise(), dask_client(workers, scheduler) as client:
        batch_size = workers if scheduler is None else max(1, len(client.scheduler_info()["workers"]))
        while len(done) < trials:
            asked = [study.ask() for _ in range(min(batch_size, trials - len(done)))]
            batch, tasks = [], []
            for optuna_trial in asked:
                values = {p.path: suggest(optuna_trial, p) for p in search.params}
                trial = Trial(optuna_trial.number, values)
                try:
                    tasks += trial_tasks(search, trial.number, values)
                except (ScenarioError, ValueError) as error:  # a value inside the range that the schema refuses
                    trial.error = str(error)
                batch.append(trial)
            by_number = {t.number: t for t in batch}

            def finished(task: Task, row: dict[str, Any]) -> None:
                row = {"trial": row.pop("cell"), **row}
                by_number[task.cell].rows.append(row)
                if on_run is not None:
                    on_run(row)

            lost.update(run_tasks(client, tasks, out_dir, backend, finished))
            for optuna_trial, trial in zip(asked, batch):
                trial.rows.sort(key=lambda row: row["seed"])
                study.tell(optuna_trial, trial.value)
            done += batch
            if on_batch is not None:
                on_batch(done)
    return SearchResult(done, lost)


# ---------------------------------------------------------------- outputs


def trials_frame(search: Search, trials: list[Trial], targets: list[Target]) -> pd.DataFrame:
    """One row per trial: its parameters, the score's mean, min and spread over its runs, targets
    within tolerance on average, each target's mean simulated value, and its failed runs."""
    rows = []
    for trial in trials:
        scores = trial.scores
        row: dict[str, Any] = {"trial": trial.number, **{f"param:{p.path}": trial.params[p.path] for p in search.params},
                               "score_mean": float(np.mean(scores)), "score_min": float(np.min(scores)),
                               "score_std": float(np.std(scores)),
                               "within_mean": float(np.mean([r.get("calibration_within") or 0 for r in trial.rows] or [0])),
                               "runs": len(trial.rows),
                               "failed_runs": sum(bool(r.get("error")) for r in trial.rows) + (search.seeds if trial.error else 0)}
        for t in targets:
            values = [r.get(f"sim:{t.name}") for r in trial.rows]
            numbers = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
            row[f"sim:{t.name}"] = float(np.mean(numbers)) if numbers else None
        row["error"] = trial.error
        rows.append(row)
    return pd.DataFrame(rows)


def best_of(search: Search, trials: pd.DataFrame, targets: list[Target]) -> dict[str, Any] | None:
    """``best.yaml``: the trial of the highest mean score, its values as an experiment's ``set:``
    and each target's mean simulated value, real value and whether that mean is within tolerance."""
    if trials.empty:
        return None
    best = trials.loc[trials["score_mean"].idxmax()]
    sims = [None if pd.isna(best[f"sim:{t.name}"]) else float(best[f"sim:{t.name}"]) for t in targets]
    scored = score_values(targets, sims)
    return {
        "scenario": search.base.name, "targets_file": search.base.calibration, "params_file": search.source,
        "trial": int(best["trial"]), "score_mean": float(best["score_mean"]), "score_min": float(best["score_min"]),
        "seeds": search.seeds,
        "set": {p.path: _plain(best[f"param:{p.path}"]) for p in search.params},
        "targets": {row["name"]: {"sim": row["sim"], "real": row["real"], "within": bool(row["within"])}
                    for row in scored["targets"]},
    }


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def write_search_outputs(search: Search, out_dir: Path, trials: list[Trial], report: bool = False) -> dict[str, Any] | None:
    """Write ``trials.parquet``, ``runs.parquet``, ``best.yaml`` and (with ``report``) the report;
    the best trial (``best.yaml``'s content), None before any trial."""
    targets = load_targets(search.base.calibration)
    frame = trials_frame(search, trials, targets)
    runs = pd.DataFrame([row for trial in trials for row in trial.rows])
    write_atomic(out_dir / TRIALS_FILE, parquet_bytes(frame))
    write_atomic(out_dir / RUNS_FILE, parquet_bytes(runs))
    best = best_of(search, frame, targets)
    if best is not None:
        header = ("# The best trial of `ape run calibrate`: paste `set:` into an experiment, or pass each entry to\n"
                  "# `ape run cascade --set PATH=VALUE`; to keep them, write each value at its path in the scenario file.\n")
        write_atomic(out_dir / BEST_FILE, (header + yaml.safe_dump(best, sort_keys=False, allow_unicode=True)).encode())
    if report and best is not None:
        from sim.report.calibrate import write_calibrate_report  # matplotlib is only needed here

        write_calibrate_report(out_dir, search.base.name, frame, best)
    return best


def calibrate_names() -> frozenset[str]:
    """Every name a calibration writes at the top of its ``--out``."""
    from sim.report.calibrate import CALIBRATE_REPORT_FILES

    return frozenset({RUNS_DIR, TRIALS_FILE, RUNS_FILE, BEST_FILE, *CALIBRATE_REPORT_FILES})
