"""`ape run sweep` (scripts/sweep.py): bad input exits 2 before any worker starts, a failed
expectation exits 1 with every output written, an interrupted sweep keeps its finished runs, and
a scheduler with two workers started by hand runs the experiment."""

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_sweep import experiment_file

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def experiment(tmp_path: Path, **changes) -> Path:
    return experiment_file(tmp_path, name="tiny-cli", **changes)


def sweep_args(path: Path, out: Path, *extra: str) -> list[str]:
    return [str(BIN / "ape"), "run", "sweep", "--experiment", str(path), "--out", str(out), "--no-progress", *extra]


def sweep(path: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(sweep_args(path, out, *extra), cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("changes, extra, message", [
    ({"grid": {"lending.reserves[asset=XYZ].liquidation_bonus_bps": [1]}}, (), "no item of lending.reserves has asset=XYZ"),
    ({"grid": {"blocks": ["many"]}}, (), "blocks: Input should be a valid integer"),
    ({"grid": {}}, (), "the grid is empty"),
    ({"seeds": 0}, (), "seeds: Input should be greater than or equal to 1"),
    ({"expect": ["bad_debt_usd.total.p90 <= 1"]}, (), "ends in 'p90', not a statistic"),
    ({"expect": ["bad_debt_usd.totl.p99 <= 1"]}, (), "bad_debt_usd has no figure 'totl'"),
    ({}, ("--workers", "2", "--scheduler", "tcp://127.0.0.1:1"), "--workers sizes the local cluster"),
    ({}, ("--scheduler", "garbage"), "--scheduler 'garbage' is not a scheduler's address"),
    ({"grid": {"seed": [1, 2]}}, (), "seed is set per run by the experiment"),
    ({"paths": {"crash_size_scale": {"uniform": [-2, -1]}}}, (), "seed 7: shock.crash.size"),
])
def test_bad_input_exits_2_naming_it_and_runs_nothing(tmp_path, changes, extra, message):
    done = sweep(experiment(tmp_path, **changes), tmp_path / "out", *extra)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and not (tmp_path / "out").exists()


def test_an_out_that_cannot_be_written_is_refused(tmp_path):
    (tmp_path / "afile").write_text("")
    done = sweep(experiment(tmp_path), tmp_path / "afile" / "out")
    assert done.returncode == 2 and "cannot write there" in done.stderr and "Traceback" not in done.stderr


def test_an_out_holding_other_files_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("mine")
    done = sweep(experiment(tmp_path), tmp_path / "out")
    assert done.returncode == 2 and "holds files that are not a sweep's (thesis.tex)" in done.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["thesis.tex"]


def test_a_failed_expectation_exits_1_and_a_rerun_reuses_every_run(tmp_path):
    path = experiment(tmp_path, expect=["liquidations_usd.total.p50 <= 1"])
    done = sweep(path, tmp_path / "out")
    assert done.returncode == 1, done.stderr
    assert "4 of 4 runs done (4 now, 0 before)" in done.stdout and "expectations: 0 of 2 hold" in done.stdout
    assert "failed: cell 0: liquidations_usd.total.p50 <= 1" in done.stderr
    for name in ("runs.parquet", "cells.parquet", "expect.json", "report.html", "var_lar.png"):
        assert (tmp_path / "out" / name).is_file(), name
    path = experiment(tmp_path, expect=["liquidations_usd.total.p50 >= 1"])  # the expectations are not the runs'
    again = sweep(path, tmp_path / "out")
    assert again.returncode == 0, again.stderr
    assert "4 of 4 runs done (0 now, 4 before)" in again.stdout and "expectations: 2 of 2 hold" in again.stdout
    assert [r["passed"] for r in json.loads((tmp_path / "out" / "expect.json").read_text())] == [True, True]


def test_an_interrupted_sweep_keeps_its_finished_runs_and_a_rerun_finishes_it(tmp_path):
    path = experiment(tmp_path, seeds=6)
    out = tmp_path / "out"
    process = subprocess.Popen(sweep_args(path, out, "--workers", "1"), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list((out / "rows").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted: every finished run is kept" in stderr and not (out / "runs.parquet").exists()
    kept = len(list((out / "rows").glob("*.json")))
    assert 1 <= kept < 12
    again = sweep(path, out)
    assert again.returncode == 0, again.stderr
    assert f"12 of 12 runs done ({12 - kept} now, {kept} before)" in again.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_and_two_workers_started_by_hand_run_the_sweep(tmp_path):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "logs"
    logs.mkdir()
    started = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(logs / "scheduler.log", "w"))]
    try:
        for i in range(2):
            started.append(subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard",
                                             "--name", f"hand-{i}"], cwd=ROOT, stdout=subprocess.DEVNULL,
                                            stderr=open(logs / f"worker-{i}.log", "w")))
        from dask.distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        done = sweep(experiment(tmp_path), tmp_path / "out", "--scheduler", address)
        assert done.returncode == 0, done.stderr
        assert f"on {address}" in done.stderr and "4 of 4 runs done (4 now, 0 before)" in done.stdout
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=60)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert set(runs["worker"]) == {"hand-0", "hand-1"} and len(runs) == 4
