"""The node the simulator drives: anvil through ape-foundry, without opcode tracing and with
only the newest states kept.

ape-foundry always starts anvil with ``--steps-tracing``, which records every opcode step of every
transaction so that Ape can print tracebacks and gas reports. The simulator never asks for those,
and the records are kept for the node's lifetime: on oct10 (5,284 transactions) anvil's resident
memory peaked at 10.2 GB with the flag and 0.22 GB without it, and the run took 21.3 s instead of
6.6 s. Anvil also keeps the state of every block in memory unless told to prune it: oct10 scaled to
10,000 agents had it at 4.4 GB after the run and 8.8 GB at its peak. :func:`lean_anvil` removes the
flag from the command ape-foundry builds and adds ``--prune-history`` (local and fork providers
alike); call it before the provider connects.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

STEPS_TRACING_FLAG = "--steps-tracing"
# What keeps the node's memory bounded. Four states cover what the simulator asks of the past:
# tracing a transaction of the latest block for its revert reason. Transactions and receipts are
# kept for the last 64 blocks only. Blocks themselves are dropped by AnvilBackend.trim_history,
# whose state can be larger than anvil's default 2 MB request limit.
PRUNE_HISTORY = ["--prune-history", "4", "--transaction-block-keeper", "64", "--no-request-size-limit"]


def lean_anvil(prune_history: bool = True) -> None:
    """Make every anvil that ape-foundry starts from now on run without ``--steps-tracing`` and,
    with ``prune_history``, with ``PRUNE_HISTORY`` (the test suite's node keeps its history)."""
    from ape_foundry.provider import FoundryProvider

    original = FoundryProvider.build_command
    if getattr(original, "is_lean_anvil", False):
        original = original.original  # type: ignore[attr-defined]

    def build_command(self) -> list[str]:
        return [arg for arg in original(self) if arg != STEPS_TRACING_FLAG] + (PRUNE_HISTORY if prune_history else [])

    build_command.is_lean_anvil = True  # type: ignore[attr-defined]
    build_command.original = original  # type: ignore[attr-defined]
    FoundryProvider.build_command = build_command  # the fork provider calls it through super()
    own_port()


def own_port() -> None:
    """Make every anvil that ape-foundry starts from now on listen on a free port of its own.

    Without it, ape-foundry uses port 8545 and *attaches* to whatever node already listens there:
    a second run shared the first one's node, and each one's clean-up broke the other. A host
    set in the configuration or in ``APE_FOUNDRY_HOST`` (a node chosen on purpose) is left alone."""
    import os

    from ape_foundry.provider import FoundryProvider

    original = FoundryProvider.connect
    if getattr(original, "is_own_port", False):
        return

    def connect(self) -> None:
        if self._host is None and not self.settings.host and "APE_FOUNDRY_HOST" not in os.environ:
            self._host = f"http://127.0.0.1:{free_port()}"
        return original(self)

    connect.is_own_port = True  # type: ignore[attr-defined]
    FoundryProvider.connect = connect
    _signals_from_the_main_thread_only()


def _signals_from_the_main_thread_only() -> None:
    """Let a node be connected from a thread other than the main one (a Dask worker runs its tasks
    in a thread): Ape installs SIGINT / SIGTERM handlers when it connects, which Python allows in
    the main thread only. Elsewhere the handlers are left as they are; the node is still stopped at
    exit (Ape registers that with ``atexit`` too)."""
    import signal
    import threading

    import ape.api.providers as providers

    def install(signal_number, handler):
        if threading.current_thread() is threading.main_thread():
            return signal.signal(signal_number, handler)
        return signal.getsignal(signal_number)

    providers.signal = install


FORK_UPSTREAM_ENV = "SIM_UPSTREAM_RPC"
FORK_NETWORK = "ethereum:mainnet-fork:foundry"
MAINNET_CHAIN_ID = 1


def fork_upstream_problem(network: str) -> str | None:
    """Why ``network`` cannot start, when it forks the chain at ``$SIM_UPSTREAM_RPC`` (ape-config.yaml)
    and that is not set; None otherwise."""
    import os

    if "mainnet-fork" not in network:
        return None
    uri = os.environ.get(FORK_UPSTREAM_ENV)
    if not uri:
        return (f"--network {network} forks the chain at ${FORK_UPSTREAM_ENV} (ape-config.yaml), which is not set: "
                f"export {FORK_UPSTREAM_ENV}=http://host:port (a local upstream from `python -m sim.fork.upstream --serve`, "
                "or a mainnet RPC)")
    import requests

    try:
        reply = requests.post(uri, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=10)
        chain_id = int(reply.json()["result"], 16)
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        return f"cannot reach the upstream chain at ${FORK_UPSTREAM_ENV}={uri}: {error}"
    if chain_id != MAINNET_CHAIN_ID:
        return (f"the chain at ${FORK_UPSTREAM_ENV}={uri} has chain id {chain_id}; {network} forks chain id "
                f"{MAINNET_CHAIN_ID} (Ape checks it): start the upstream with --chain-id {MAINNET_CHAIN_ID}")
    return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def connected(network: str) -> Iterator[tuple[Any, bool]]:
    """``(provider, started)``: the connected Ape provider, connecting to ``network`` (and so
    starting its node, on a port of its own) if nothing is connected yet; ``started`` says so."""
    from ape import networks

    if networks.active_provider is not None and networks.active_provider.is_connected:
        yield networks.active_provider, False
        return
    lean_anvil()
    with networks.parse_network_choice(network) as provider:
        yield provider, getattr(provider, "process", None) is not None


def node_uri(provider: Any) -> str:
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not uri:
        raise RuntimeError(f"the provider {provider.name!r} has no HTTP endpoint; the simulator needs an anvil node")
    return uri
