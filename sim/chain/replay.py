"""The node's own ceiling for a run: its state-changing requests, journaled and replayed.

While a run is journaled (``AnvilBackend.journal``), every request body that changes the node's state is
appended to a file exactly as it was sent: gas funding, node settings, each block's
``eth_sendTransaction`` batch and its ``evm_mine``. Reads (``eth_call``, traces, logs, nonces) are
not journaled. :func:`replay` posts those bodies, in order and unchanged, to a fresh node started
with the same command line: the same transactions reach the same starting state with no agent
logic, no reads and no decoding, which is the most the node can do for this workload. The replay
ends on the same state root as the run (checked by the benchmark).
"""

from __future__ import annotations

import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

import requests

from sim.chain.node import free_port

_LENGTH = struct.Struct(">Q")


class ReplayError(RuntimeError):
    """The replay node refused a journaled request, or could not be started."""


class JournalWriter:
    """Appends request bodies to a file, each behind its length; ``entries`` counts them."""

    def __init__(self, path: Path):
        self.path = path
        self._file: BinaryIO = path.open("wb")
        self.entries = 0

    def __call__(self, body: bytes) -> None:
        self._file.write(_LENGTH.pack(len(body)))
        self._file.write(body)
        self.entries += 1

    def close(self) -> None:
        self._file.close()


def read_journal(path: Path, stop: int | None = None) -> Iterator[bytes]:
    """The journaled bodies in order (the first ``stop`` of them when given)."""
    with path.open("rb") as file:
        count = 0
        while stop is None or count < stop:
            head = file.read(_LENGTH.size)
            if not head:
                return
            (size,) = _LENGTH.unpack(head)
            yield file.read(size)
            count += 1


def post_bodies(uri: str, bodies: Iterator[bytes], timeout_s: float = 600.0) -> int:
    """Post each body in turn; raise :class:`ReplayError` on the first reply carrying an error.
    Returns the number of bodies posted."""
    session = requests.Session()
    session.headers["Content-Type"] = "application/json"
    posted = 0
    for body in bodies:
        response = session.post(uri, data=body, timeout=timeout_s)
        response.raise_for_status()
        if b'"error"' in response.content:
            raise ReplayError(f"journal entry {posted}: the node answered {response.content[:300]!r}")
        posted += 1
    return posted


def with_port(command: Sequence[str], port: int) -> list[str]:
    """``command`` (an anvil command line) listening on ``port`` instead."""
    command = list(command)
    if "--port" in command:
        command[command.index("--port") + 1] = str(port)
    else:
        command += ["--port", str(port)]
    return command


@dataclass
class Node:
    """An anvil process this module started; stop it with :meth:`stop`."""

    process: subprocess.Popen
    uri: str

    @classmethod
    def start(cls, command: Sequence[str], ready_timeout_s: float = 30.0) -> "Node":
        port = free_port()
        process = subprocess.Popen(with_port(command, port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        node = cls(process, f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + ready_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise ReplayError(f"the replay node exited with code {process.returncode}: {process.stderr.read()[:500]!r}")
            try:
                requests.post(node.uri, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=1)
                return node
            except requests.ConnectionError:
                time.sleep(0.05)
        node.stop()
        raise ReplayError(f"the replay node did not answer within {ready_timeout_s:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def peak_rss_mb(pid: int) -> float:
    """A live process's peak resident memory (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


@dataclass(frozen=True)
class ReplayResult:
    wall_s: float
    bodies: int
    block_number: int
    state_root: str
    peak_rss_mb_node: float


def replay(journal: Path, command: Sequence[str]) -> ReplayResult:
    """Replay ``journal`` into a fresh node started with ``command``; time the posting only."""
    node = Node.start(command)
    try:
        started = time.perf_counter()
        posted = post_bodies(node.uri, read_journal(journal))
        wall_s = time.perf_counter() - started
        head = requests.post(
            node.uri, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}, timeout=60
        ).json()["result"]
        return ReplayResult(wall_s, posted, int(head["number"], 16), head["stateRoot"], peak_rss_mb(node.process.pid))
    finally:
        node.stop()
