"""Runs that never lose work, from the user's side: real signals, concurrent runs, output
directories that cannot take the outputs, and a kill -9 while the outputs replace the old ones.

Each run here goes as a user's does, through ``ape run cascade`` or the Python API in a subprocess:
on the revm backend (the default) in its own process, or on anvil with a node of its own."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml
from test_cascade_run import TINY

from sim import output_names
from sim.chain import AnvilBackend, RpcError
from sim.chain.replay import Node
from sim.files import OutputDirError, check_output_dir, output_lock, staging_dir
from sim.model import run_cascade
from sim.scenario import parse_scenario
from sim.tools.memory_bench import children

ROOT = Path(__file__).resolve().parent.parent
APE = Path(sys.executable).with_name("ape")
LONG = {**TINY, "name": "tiny-long", "blocks": 100_000}  # never finishes within a test


def write_scenario(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def cascade(scenario: Path, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(APE), "run", "cascade", "--scenario", str(scenario), "--out", str(out), "--no-progress", *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def node_block(pid: int) -> int | None:
    """The latest block number of the anvil process ``pid`` (read from its ``--port``), or None."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        port = int(args[args.index(b"--port") + 1])
        reply = requests.post(f"http://127.0.0.1:{port}", json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber",
                                                                "params": []}, timeout=2)
        return int(reply.json()["result"], 16)
    except (OSError, ValueError, KeyError, requests.RequestException):
        return None


def running_blocks(process: subprocess.Popen, past_block: int = 25, timeout_s: float = 180.0) -> list[int]:
    """Wait until the run's node has mined ``past_block`` blocks (the tiny scenario's set-up takes
    about a dozen, so the run is in its block loop); its node's process ids."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        nodes = children(process.pid)
        if any((node_block(pid) or 0) >= past_block for pid in nodes):
            return nodes
        time.sleep(0.2)
    raise AssertionError(f"the run's node never reached block {past_block}")


def recording(process: subprocess.Popen, staging_parent: Path, backend: str) -> list[int]:
    """Wait until the run is in its block loop; the process ids of its node (none on revm, where
    the run is the only process: there, until its first row group of timeseries is written)."""
    if backend == "anvil":
        return running_blocks(process)
    deadline = time.monotonic() + 180.0
    while not list(staging_parent.glob(".out.partial-*/timeseries.parquet")):  # its first row group: in the block loop
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never started recording"
        time.sleep(0.1)
    assert process.poll() is None, process.communicate()
    return []


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/status").read_text().find("State:\tZ") < 0
    except OSError:
        return False


def tables(out: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(out / f"{name}.parquet") for name in ("timeseries", "events", "agents")}


def summary_of(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("wall_s")
    return summary


# ---------------------------------------------------------------- interrupts


@pytest.mark.parametrize("backend", ["anvil", "revm"])
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_keeps_every_recorded_block_and_stops_the_node(tmp_path, sig, code, backend):
    out = tmp_path / "out"
    process = cascade(write_scenario(tmp_path, LONG), out, "--backend", backend)
    nodes = recording(process, tmp_path, backend)
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    message = [line for line in stderr.splitlines() if line.startswith("interrupted:")]
    assert len(message) == 1 and signal.Signals(sig).name in message[0], stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and summary["blocks"] > 0
    recorded = tables(out)["timeseries"]
    assert sorted(set(recorded["block"])) == list(range(summary["blocks"] + 1))  # every block, none half-written
    assert (out / "report.html").is_file()
    assert not [pid for pid in nodes if alive(pid)], "the node outlived the run"
    assert not list(tmp_path.glob(".out.partial-*")), "a staging directory was left behind"


def test_the_python_api_raises_run_interrupted_and_keeps_the_outputs(tmp_path):
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import sys
        from sim import RunInterrupted, run_cascade
        try:
            run_cascade({str(write_scenario(tmp_path, LONG))!r}, {str(out)!r}, progress=False, backend="revm")
        except RunInterrupted as error:
            print("RunInterrupted", error.exit_code)
            sys.exit(error.exit_code)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    recording(process, tmp_path, "revm")
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143 and "RunInterrupted 143" in stdout, stderr
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"


# ---------------------------------------------------------------- one node (or one in-process chain) per run


@pytest.mark.parametrize("backend", ["anvil", "revm"])
def test_concurrent_runs_each_give_exactly_their_solo_output(tmp_path, backend):
    scenario = write_scenario(tmp_path, TINY)
    solo = tmp_path / "solo"
    assert cascade(scenario, solo, "--backend", backend).wait(timeout=300) == 0
    expected_tables, expected_summary = tables(solo), summary_of(solo)
    for runs in (2, 4):
        outs = [tmp_path / f"x{runs}-{i}" for i in range(runs)]
        processes = [cascade(scenario, out, "--backend", backend) for out in outs]
        with ThreadPoolExecutor(runs) as pool:
            results = list(pool.map(lambda p: (p.communicate(timeout=600), p.returncode), processes))
        for out, ((_, stderr), code) in zip(outs, results):
            assert code == 0, stderr
            for name, frame in tables(out).items():
                assert frame.equals(expected_tables[name]), f"{out.name}: {name} differs from the solo run"
            assert summary_of(out) == expected_summary


@pytest.fixture
def foreign_node(networks):
    node = Node.start(networks.active_provider.build_command())
    yield node
    node.stop()


def test_a_node_someone_else_drives_is_refused_and_never_reverted(foreign_node):
    first, second = AnvilBackend(foreign_node.uri), AnvilBackend(foreign_node.uri)
    checkpoint = first.checkpoint()
    first.take_control()
    with pytest.raises(RpcError, match="already in use by another run"):
        second.take_control()
    first.execute([], first.head()[1] + 12)
    second.request("evm_mine", [])  # someone else moves the node on
    head = second.head()
    with pytest.raises(RpcError, match="has moved on since this run's last block"):
        first.restore(checkpoint)
    assert second.head() == head  # left as it was


# ---------------------------------------------------------------- the output directory


def test_an_unwritable_out_exits_2_before_any_node_starts(tmp_path):
    scenario = write_scenario(tmp_path, TINY)
    for out in (Path("/proc/sim-out"), scenario):  # not creatable even by root; an existing file
        process = cascade(scenario, out)
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 2, stderr
        assert "--out" in stderr and "Starting 'anvil'" not in stdout + stderr


def test_a_users_own_files_are_never_deleted_without_overwrite(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "my-notes.txt").write_text("keep me")
    scenario = parse_scenario(TINY, "tiny")
    with pytest.raises(OutputDirError, match="my-notes.txt"):
        run_cascade(scenario, out, progress=False)
    assert (out / "my-notes.txt").read_text() == "keep me"
    run_cascade(scenario, out, progress=False, overwrite=True)
    assert not (out / "my-notes.txt").exists() and (out / "summary.json").is_file()
    run_cascade(scenario, out, progress=False)  # a previous run's outputs alone are replaced freely


def test_a_kill_9_while_outputs_are_replaced_leaves_the_old_or_the_new_directory_whole(tmp_path):
    """A writer swaps in directories of 200 files, every file of one generation alike; it is
    killed at random moments. After each kill, ``out`` holds exactly one generation, complete."""
    out = tmp_path / "out"
    writer = textwrap.dedent(f"""
        import pathlib, sys
        from sim.files import replace_directory, staging_dir
        out = pathlib.Path({str(out)!r})
        generation = int(sys.argv[1])
        while True:
            staged = staging_dir(out)
            for i in range(200):
                (staged / f"part-{{i}}").write_text(f"{{generation}}\\n" * 200)
            replace_directory(staged, out)
            generation += 1
    """)
    rng = random.Random(12)
    seen = set()
    for attempt in range(12):
        process = subprocess.Popen([sys.executable, "-c", writer, str(attempt * 1_000_000)], cwd=ROOT)
        time.sleep(rng.uniform(1.5, 3.0))
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert out.is_dir()
        contents = {f.read_text() for f in out.iterdir()}
        assert len(list(out.iterdir())) == 200 and len(contents) == 1, (len(list(out.iterdir())), len(contents))
        seen |= contents
    assert len(seen) >= 4  # the kills fell between swaps of several writers, not only before the first


# ---------------------------------------------------------------- bounded memory


def test_a_node_the_run_owns_drops_its_old_blocks_and_the_run_is_unchanged(networks, tmp_path):
    """The same tiny run on two fresh nodes: one kept whole, one trimmed every 3 blocks to its
    newest 8. Every table is equal, and the trimmed node holds a handful of blocks, not all."""
    from sim.model import CascadeModel, run_blocks
    from sim.protocol import ProtocolSession, load_artifacts

    artifacts, command = load_artifacts(), networks.active_provider.build_command()
    runs = []
    for owns_node in (False, True):
        node = Node.start(command)
        try:
            backend = AnvilBackend(node.uri)
            session = ProtocolSession(backend, artifacts, owns_node=owns_node, trim_every_blocks=3)
            model = CascadeModel(parse_scenario(TINY, "tiny"), session, tables_dir=None)
            run_blocks(model, progress=False)
            runs.append((model.recorder.finish(), backend.request("anvil_dumpState")))
        finally:
            node.stop()
    (kept_tables, kept_dump), (trimmed_tables, trimmed_dump) = runs
    for kept, trimmed in zip(kept_tables, trimmed_tables):
        assert kept.equals(trimmed)
    blocks = lambda dump: len(json.loads(gzip.decompress(bytes.fromhex(dump[2:])))["blocks"])  # noqa: E731
    # the newest 8, the genesis block a reset makes, and fewer than 3 mined since the last trim
    assert blocks(trimmed_dump) <= 8 + 1 + 3 < TINY["blocks"] < blocks(kept_dump)


def test_an_out_that_cannot_be_replaced_as_a_whole_is_refused_up_front(tmp_path, monkeypatch):
    names = output_names()
    with pytest.raises(OutputDirError, match="mount point"):
        check_output_dir(Path("/dev/shm") if os.path.ismount("/dev/shm") else Path("/"), names)
    monkeypatch.chdir(tmp_path)
    for cwd_or_parent in (Path("."), Path(".."), tmp_path):
        with pytest.raises(OutputDirError, match="working directory"):
            check_output_dir(cwd_or_parent, names)


def test_only_regular_files_named_as_outputs_count_as_a_previous_run(tmp_path):
    out = tmp_path / "out"
    (out / "summary.json").mkdir(parents=True)  # a directory of the user's, named like an output
    (out / "summary.json" / "chapter1.tex").write_text("draft")
    with pytest.raises(OutputDirError, match="summary.json"):
        check_output_dir(out, output_names())


def test_a_second_run_into_the_same_out_is_refused_while_the_first_writes(tmp_path):
    out = tmp_path / "out"
    with output_lock(out):
        with pytest.raises(OutputDirError, match="being written by another run"):
            check_output_dir(out, output_names())
    check_output_dir(out, output_names())  # free again


def test_a_staging_directory_left_by_a_killed_run_is_cleared_by_the_next(tmp_path):
    out = tmp_path / "out"
    stale = tmp_path / ".out.partial-killed"
    stale.mkdir()
    (stale / "timeseries.parquet").write_bytes(b"half")
    with output_lock(out):
        fresh = staging_dir(out)
    assert not stale.exists() and fresh.is_dir()


def test_a_signal_inside_held_bookkeeping_waits_for_its_end():
    """A block's rows and its count are one step: a signal arriving between them is raised only
    once both are done (the race that once left a recorded block the summary did not count)."""
    import os

    from sim.model.interrupts import Interrupted, held, signals_raise

    done = []
    with pytest.raises(Interrupted) as raised:
        with signals_raise():
            with held():
                os.kill(os.getpid(), signal.SIGINT)
                done.append("rows")  # the handler ran already, and raised nothing here
                done.append("count")
            done.append("after")  # not reached: raised as the held block ended
    assert done == ["rows", "count"] and raised.value.exit_code == 130
    with signals_raise():  # a fresh run starts with nothing pending
        with held():
            done.append("again")
    assert done[-1] == "again"


class _DropsASignal:
    """An object whose finalizer takes a SIGINT: Python drops the exception the handler raises
    there ("Exception ignored in ..."), which is how a signal was once lost under load."""

    def __del__(self):
        signal.raise_signal(signal.SIGINT)


def drop_a_signal() -> None:
    _DropsASignal()  # finalized at once: the signal arrives, its Interrupted is dropped


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_signal_whose_interrupt_was_dropped_is_raised_at_the_next_block_end():
    from sim.model.interrupts import Interrupted, held, signals_raise

    done = []
    with pytest.raises(Interrupted) as raised:
        with signals_raise():
            drop_a_signal()
            done.append("went on")  # the run did not see it here
            with held():
                done.append("block recorded")
            done.append("next block")  # not reached: the block's end raised it
    assert done == ["went on", "block recorded"] and raised.value.exit_code == 130


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_dropped_signal_is_raised_when_the_block_ends_and_by_a_nested_block_as_it_begins():
    from sim.model.interrupts import Interrupted, check, signals_raise

    with pytest.raises(Interrupted):
        with signals_raise():
            drop_a_signal()
    entered = []
    with pytest.raises(Interrupted):
        with signals_raise():  # an audit: its probes are runs, each a block of its own
            drop_a_signal()
            with signals_raise():
                entered.append("inner")
    assert entered == []
    with pytest.raises(Interrupted):
        with signals_raise():
            drop_a_signal()
            check()
    with signals_raise():  # the next outermost block starts with nothing received
        check()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_audit_stops_on_a_signal_dropped_between_probes_and_writes_nothing(tmp_path):
    from sim import RunInterrupted, load_scenario
    from sim.audit.run import audit
    from sim.model.interrupts import Interrupted

    probes = []

    def on_probe(target, probe) -> None:
        probes.append(probe)
        drop_a_signal()  # lands between this probe and the next

    out = tmp_path / "out"
    with pytest.raises((Interrupted, RunInterrupted)):
        audit(load_scenario(ROOT / "scenarios" / "audit" / "thin-pool-spot.yaml"), ["spot_pump"], 100e6, out, on_probe=on_probe)
    assert len(probes) == 1
    assert not out.exists() and not list(tmp_path.glob(".out.partial-*"))
