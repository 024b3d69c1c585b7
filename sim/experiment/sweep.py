"""Running an experiment: every ``(cell, seed)`` as a task on Dask, one row per finished run,
written atomically, so a rerun into the same directory skips what is done.

Each task runs on a worker process that owns its backend (revm: an EVM in the worker's own
process; the compiled contracts are loaded once per worker). A task carries its run's scenario
(:meth:`Experiment.scenario_for`), so its outputs depend on nothing but that scenario: the same on
any worker, in the sweep or alone. Its result is the run's row: the cell's parameters, the seed
and every summary figure flattened into unit-named columns (``bad_debt_usd.total`` becomes
``bad_debt_usd__total``), with the fingerprint of the scenario it ran.

The client (this process) writes each row as ``rows/c<cell>-s<seed>.json`` the moment it arrives;
the run's own outputs (tables, ``summary.json``) are under ``runs/c<cell>-s<seed>/``. When a worker
dies, Dask runs its tasks elsewhere; a row is written once, by the client, so nothing is
duplicated. A rerun skips every run whose row is there with the same scenario fingerprint; a run
whose cell or base scenario changed since is run again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import resource
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from sim.experiment.spec import Experiment, check_runs
from sim.files import write_atomic
from sim.model.interrupts import check, signals_raise
from sim.scenario import Scenario

ROWS_DIR = "rows"
RUNS_DIR = "runs"
_ARTIFACTS: Any = None  # per worker process: the compiled contracts, loaded by its first task


def run_key(cell: int, seed: int, prefix: str = "c") -> str:
    return f"{prefix}{cell}-s{seed}"


def fingerprint(scenario: Scenario) -> str:
    """What a run's outputs depend on, as a hash: its whole scenario (seed and path draws included)
    but its name, which labels the run and changes nothing in it; with calibration targets, what
    the targets file holds too (its calibration.json scores against it: an edited file reruns)."""
    digest = hashlib.sha256(scenario.model_dump_json(exclude={"name"}).encode())
    if scenario.calibration is not None:
        try:
            digest.update(b"\0calibration\0" + Path(scenario.calibration).read_bytes())
        except OSError:  # checked before the sweep starts; gone since: the run says so
            pass
    return digest.hexdigest()


def flatten(summary: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``summary.json`` as flat ``a__b__c`` columns (numbers, text and None; lists left out)."""
    flat: dict[str, Any] = {}
    for key, value in summary.items():
        name = f"{prefix}__{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, name))
        elif not isinstance(value, list):
            flat[name] = value
    return flat


def unflatten(row: dict[str, Any]) -> dict[str, Any]:
    """A row's flattened figures as ``summary.json`` nests them (the inverse of :func:`flatten`)."""
    nested: dict[str, Any] = {}
    for name, value in row.items():
        *parents, leaf = name.split("__")
        node = nested
        for part in parents:
            node = node.setdefault(part, {})
        if isinstance(node, dict):
            node[leaf] = value
    return nested


@dataclass(frozen=True)
class Task:
    """One run of the sweep, as sent to a worker."""

    cell: int
    seed: int
    columns: dict[str, Any]  # the cell's parameters as table columns (Cell.columns)
    scenario: Scenario
    sha256: str
    prefix: str = "c"  # of the run's key and folder: c<cell>-s<seed>; a calibration's trials are t<trial>-s<seed>

    @property
    def key(self) -> str:
        return run_key(self.cell, self.seed, self.prefix)


def tasks_of(experiment: Experiment) -> list[Task]:
    """Every run of ``experiment``, cell by cell, each with its scenario and its fingerprint;
    :class:`~sim.experiment.ExperimentError` naming the runs whose seed or draw the scenario refuses."""
    tasks = []
    for (cell, _), scenario in zip(experiment.tasks(), check_runs(experiment)):
        tasks.append(Task(cell, scenario.seed, experiment.cells[cell].columns, scenario, fingerprint(scenario)))
    return tasks


def run_task(task: Task, out_dir: str, backend: str = "revm") -> dict[str, Any]:
    """On a worker: run ``task`` into ``out_dir/runs/<key>`` on ``backend`` (revm: an EVM in the
    worker's process; anvil: a node of the run's own, on a free port); its row (a run that failed
    gives its row too, with ``error`` saying why and the figures it had). A scenario with calibration
    targets adds the run's ``calibration_score``, ``calibration_within`` and a ``sim:<target>``
    column per target (its ``calibration.json``)."""
    global _ARTIFACTS
    from sim.model import RunFailed, run_cascade
    from sim.protocol import load_artifacts

    if _ARTIFACTS is None:
        _ARTIFACTS = load_artifacts()
    row: dict[str, Any] = {"cell": task.cell, "seed": task.seed, "scenario_sha256": task.sha256, **task.columns}
    target = Path(out_dir) / RUNS_DIR / task.key
    try:
        result = run_cascade(task.scenario, target, progress=False, artifacts=_ARTIFACTS, backend=backend,
                             report=False, overwrite=True)
        figures, error = result.summary, ""
    except RunFailed as failure:
        summary_file = target / "summary.json"
        figures = json.loads(summary_file.read_text()) if summary_file.exists() else {"status": "failed"}
        error = str(failure) or "the run failed"
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {**row, **flatten(figures), **_calibration_columns(task, target), "error": error, "worker": _worker_name(),
            "worker_max_rss_mb": round(rss_mb, 1)}


def _calibration_columns(task: Task, target: Path) -> dict[str, Any]:
    """The run's score against its targets, from its ``calibration.json`` (none written: no score)."""
    from sim.calibration.outputs import CALIBRATION_FILE

    if task.scenario.calibration is None:
        return {}
    path = target / CALIBRATION_FILE
    if not path.exists():
        return {"calibration_score": None, "calibration_within": None}
    scored = json.loads(path.read_text())
    return {"calibration_score": scored["score"], "calibration_within": scored["within"],
            **{f"sim:{t['name']}": t["sim"] for t in scored["targets"]}}


def _worker_name() -> str:
    """The Dask worker running this task (its name, else its address)."""
    from distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # not on a worker
        return ""
    return str(worker.name if worker.name is not None else worker.address)


def finished_rows(out_dir: Path, tasks: list[Task]) -> dict[str, dict[str, Any]]:
    """The rows already written for ``tasks`` (by key), those of the same scenario only, labelled
    with the task's parameters (an axis added at its base value, or a path written another way,
    leaves the scenario as it was: its run is reused under the new labels)."""
    rows = {}
    for task in tasks:
        path = out_dir / ROWS_DIR / f"{task.key}.json"
        if path.exists():
            row = json.loads(path.read_text())
            if row.get("scenario_sha256") == task.sha256:
                rows[task.key] = {**{k: v for k, v in row.items() if not k.startswith("param:")}, **task.columns}
    return rows


@dataclass
class SweepResult:
    """Every row of the experiment's runs that finished (old and new), and the runs Dask could not
    finish (``{key: why}``: a task that killed its workers, a lost scheduler)."""

    rows: list[dict[str, Any]]
    ran: int
    skipped: int
    lost: dict[str, str] = field(default_factory=dict)


def backend_problems(experiment: Experiment, backend: str) -> list[tuple[str, str]]:
    """``(cell, why)`` for every cell whose scenario ``backend`` cannot run (a sweep runs no fork)."""
    from sim.protocol import BackendError, choose_backend
    from sim.protocol.deploy import uses_fork_venues

    problems = []
    for cell, scenario in zip(experiment.cells, experiment.scenarios):
        if uses_fork_venues(scenario):
            problems.append((f"cell {cell.index}", "names venues on a forked chain: a sweep runs no fork (run it with `ape run cascade --network ...`)"))
            continue
        try:
            choose_backend(backend, None, scenario)
        except BackendError as error:
            problems.append((f"cell {cell.index}", str(error)))
    return problems


def run_sweep(experiment: Experiment, out_dir: Path, workers: int = 2, scheduler: str | None = None,
              backend: str = "revm", on_row: Callable[[dict[str, Any]], None] | None = None,
              on_start: Callable[[int, int], None] | None = None, tasks: list[Task] | None = None) -> SweepResult:
    """Run every task of ``experiment`` not finished in ``out_dir`` on Dask (a LocalCluster of
    ``workers`` processes, or the cluster at ``scheduler``). ``on_start(total, done)`` is called
    once before the first task, ``on_row(row)`` for every row as it is written. SIGINT / SIGTERM
    raise :class:`~sim.model.interrupts.Interrupted` after the cluster is closed; every row written
    so far stays, and a rerun continues from there. ``tasks``: :func:`tasks_of` the experiment,
    when the caller has them already."""
    tasks = tasks if tasks is not None else tasks_of(experiment)
    (out_dir / ROWS_DIR).mkdir(parents=True, exist_ok=True)
    done = finished_rows(out_dir, tasks)
    todo = [task for task in tasks if task.key not in done]
    if on_start is not None:
        on_start(len(tasks), len(done))
    lost: dict[str, str] = {}
    if todo:
        with signals_raise():
            lost = _run_on_dask(todo, out_dir, workers, scheduler, backend, done, on_row)
    rows = [done[task.key] for task in tasks if task.key in done]
    return SweepResult(rows, ran=len(todo) - len(lost), skipped=len(tasks) - len(todo), lost=lost)


def _run_on_dask(todo: list[Task], out_dir: Path, workers: int, scheduler: str | None, backend: str,
                 done: dict[str, dict[str, Any]], on_row: Callable[[dict[str, Any]], None] | None) -> dict[str, str]:
    def finished(task: Task, row: dict[str, Any]) -> None:
        write_atomic(out_dir / ROWS_DIR / f"{task.key}.json", json.dumps(row).encode())
        done[task.key] = row
        if on_row is not None:
            on_row(row)

    with dask_client(workers, scheduler) as client:
        return run_tasks(client, todo, out_dir, backend, finished)


@contextlib.contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client of the cluster at ``scheduler``, or of a LocalCluster of ``workers`` processes
    (one thread each: a worker owns its backend) closed afterwards."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                   worker_dashboard_address=None)
        with Client(scheduler or cluster) as client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()


def run_tasks(client: Any, tasks: list[Task], out_dir: Path, backend: str,
              on_result: Callable[[Task, dict[str, Any]], None]) -> dict[str, str]:
    """Run ``tasks`` (:func:`run_task`) on ``client``'s workers, calling ``on_result(task, row)`` in
    this process as each one finishes; the tasks Dask could not finish (``{key: why}``)."""
    from dask.distributed import as_completed

    lost: dict[str, str] = {}
    futures = {client.submit(run_task, task, str(out_dir), backend, pure=False, key=f"run-{task.key}-{task.sha256[:12]}"): task
               for task in tasks}
    for future in as_completed(futures):
        task = futures[future]
        try:
            row = future.result()
        except Exception as error:  # the task killed its workers, or the cluster lost it
            lost[task.key] = f"{type(error).__name__}: {error}"
            continue
        on_result(task, row)
        check()  # a signal whose Interrupted was dropped stops here, the row above kept
    return lost
