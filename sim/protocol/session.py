"""The protocol layer's door: everything the model asks of the chain goes through a
:class:`ProtocolSession`.

A session owns the backend, the compiled contracts and (after :meth:`ProtocolSession.deploy`)
the deployed :class:`~sim.protocol.calls.Protocol`. It sends blocks of orders, checks set-up
blocks, reads :class:`~sim.protocol.state.Snapshot` s and checks that no token was created or
destroyed. The model never sees the backend, the ABI codec or JSON-RPC.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from sim.chain import AnvilBackend, Backend, MinedBlock, Order, RevmBackend
from sim.chain.node import connected, fork_upstream_problem, node_uri
from sim.protocol.artifacts import Artifact, load_artifacts
from sim.protocol.blockspace import pack
from sim.protocol.calls import Protocol
from sim.protocol.deal import deal
from sim.protocol.deploy import check_block, deploy_protocol, uses_fork_venues
from sim.protocol.fork import resolve_fork_venues
from sim.protocol.npm_contracts import npm_codecs
from sim.protocol.state import StateReader
from sim.scenario import Scenario
from sim.scenario.prices import PricePath

DEFAULT_NETWORK = "ethereum:local:foundry"
LOGGED_CONTRACTS = ("LendingPool", "PerpExchange", "MockAggregator", "PoolTwapAggregator")


def log_filter(protocol: Protocol) -> dict[str, Any]:
    """The logs a run reads: token and LP-share transfers and approvals (they tell the state reader
    whose balances changed), every lending and perp event (the recorder's loss events among them)
    and the oracles' updates. Nearly every successful transaction leaves one of these, which is
    how the backend tells success without a trace (``AnvilBackend.mine``)."""
    token = protocol.codecs["SimToken"]
    topics = {token.event_topic("Transfer"), token.event_topic("Approval")}
    topics.update(topic for name in LOGGED_CONTRACTS for topic in protocol.codecs[name].events)
    if protocol.aave is not None:
        topics.update(protocol.codecs["AavePool"].events)
    return {
        "address": [t.address for t in protocol.tokens.values()]
        + [pool.address for pool in protocol.pools.values()]
        + [pool.twap_oracle for pool in protocol.pools.values()]
        + list(protocol.feeds.values())
        + [protocol.lending, protocol.perp],
        "topics": [sorted(topics)],
    }


TRIM_EVERY_BLOCKS = 2_000  # how often a node the run owns drops its old blocks (see AnvilBackend.trim_history)


class ProtocolSession:
    """One run's connection to the protocol on one backend.

    ``owns_node``: the node was started for this run alone and is thrown away after it. Such a
    node is not checkpointed and put back, and it drops its old blocks every
    ``TRIM_EVERY_BLOCKS`` blocks, so a long run's memory does not grow with its blocks. A node
    the run was given is checkpointed, restored, and never trimmed."""

    def __init__(
        self, backend: Backend, artifacts: dict[str, Artifact], owns_node: bool = False,
        trim_every_blocks: int = TRIM_EVERY_BLOCKS,
    ):
        self.backend = backend
        self.artifacts = artifacts
        self.owns_node = owns_node
        self.trim_every_blocks = trim_every_blocks
        self.protocol: Protocol | None = None
        self._blocks_since_trim = 0
        self.block_space: tuple[int, int] | None = None  # (block_gas_limit, tx_gas_cap) once limited
        self._untracked_start: dict[str, int] = {}  # forked tokens: supply − tracked balances at the start
        self._mempool: list[tuple[Order, int]] = []  # (order, the block it was first offered to) waiting for space
        self._blocks_built = 0  # blocks built from the mempool (once block space is limited)

    @property
    def backend_name(self) -> str:
        """``revm`` or ``anvil`` (:data:`BACKENDS`)."""
        return self.backend.name

    @property
    def measures_gas_used(self) -> bool:
        """Whether receipts' ``gasUsed`` is what a chain would charge (not on revm: sim/chain/revm.py)."""
        return self.backend.measures_gas_used

    @property
    def tx_count(self) -> int:
        """Every transaction sent so far."""
        return self.backend.tx_count

    def head(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block."""
        return self.backend.head()

    def checkpoint(self) -> Any:
        """What :meth:`restore` puts back (None for a node the run owns: nothing to put back)."""
        return None if self.owns_node else self.backend.checkpoint()

    def restore(self, checkpoint: Any) -> None:
        if checkpoint is not None:
            self.backend.restore(checkpoint)

    def prepare(self, accounts: Sequence[str]) -> None:
        """Blocks mined on request, ``accounts`` able to send and pay for gas."""
        self.backend.take_control()
        self.backend.fund_gas(accounts)

    def deploy(self, scenario: Scenario, prices: PricePath, deployer: str, timestamp_s: int) -> Protocol:
        """Deploy the scenario's contracts in one block; from then on blocks carry their logs.

        Tokens and venues the scenario names on a forked chain are checked first
        (:class:`~sim.protocol.fork.ForkVenueError` before anything is sent)."""
        aave = None
        if uses_fork_venues(scenario):
            codecs = {n: a.codec for n, a in self.artifacts.items()} | npm_codecs()
            aave = resolve_fork_venues(self.backend, codecs, scenario)
            if aave is not None:
                self.backend.fund_gas([aave.acl_admin])  # it points the Aave oracle at the run's feeds
        self.protocol = deploy_protocol(self.backend, self.artifacts, scenario, prices, deployer, timestamp_s, aave)
        self.backend.log_filter = log_filter(self.protocol)
        return self.protocol

    def deal_external(self, grants: Sequence[tuple[str, dict[str, int]]]) -> set[str]:
        """Write the ``grants`` (account -> symbol -> units) of tokens that live on the forked
        chain into their balances (:mod:`sim.protocol.deal`); the symbols left to mint."""
        p = self.protocol
        token_codec = p.codecs["SimToken"]
        for symbol in sorted(p.external_tokens):
            wanted = [(account, tokens[symbol]) for account, tokens in grants if tokens.get(symbol, 0) > 0]
            deal(self.backend, token_codec, p.tokens[symbol].address, wanted)
        return set(p.tokens) - p.external_tokens

    def limit_block_space(self, block_gas_limit: int, tx_gas_cap: int) -> None:
        """From the next block on, blocks have ``block_gas_limit`` gas and no call may carry more
        than ``tx_gas_cap`` (set-up blocks before this have room for anything)."""
        self.backend.set_block_gas_limit(block_gas_limit)
        self.block_space = (block_gas_limit, tx_gas_cap)

    def record_gas_used(self, events: Iterable[str]) -> None:
        """Mined blocks carry the receipt's ``gasUsed`` of every transaction that emitted one of
        the lending pool's or the exchange's ``events`` (by name)."""
        names = set(events)
        self.backend.gas_used_topics = frozenset(
            topic for contract in ("LendingPool", "PerpExchange")
            for topic, event in self.protocol.codecs[contract].events.items() if event.name in names
        )

    def execute(self, orders: Sequence[Order], timestamp_s: int) -> MinedBlock:
        """Send ``orders`` (``(sender, call, gas_price_wei)``) and mine them into one block.

        Once :meth:`limit_block_space` was called, the block is built from the mempool: the orders
        still waiting from earlier blocks (first, as they arrived first) and then ``orders``. Only
        what fits the block is sent (:func:`~sim.protocol.blockspace.pack`: by gas price, then
        arrival); the rest waits for the next block, in the mempool, with its bid. The mined block
        says how long each transaction waited (``waited_blocks``) and what still waits
        (``left_out``). Raises :class:`~sim.protocol.blockspace.GasCapExceeded` for a call above
        the cap."""
        if self.block_space is None:
            mined = self.backend.execute(orders, timestamp_s)
            mined.waited_blocks = [0] * len(mined.sent)
        else:
            mined = self._build_block(orders, timestamp_s)
        self._blocks_since_trim += 1
        if self.owns_node and self._blocks_since_trim >= self.trim_every_blocks:
            self.backend.trim_history()
            self._blocks_since_trim = 0
        return mined

    def _build_block(self, orders: Sequence[Order], timestamp_s: int) -> MinedBlock:
        self._blocks_built += 1
        offered = [order for order, _ in self._mempool] + list(orders)
        since = [block for _, block in self._mempool] + [self._blocks_built] * len(orders)
        packed = pack(offered, *self.block_space)
        included = {id(order) for order in packed.included}
        mined = self.backend.execute(packed.included, timestamp_s)
        # sent is in the order handed over, which is the offered order of the included ones
        mined.waited_blocks = [self._blocks_built - block for order, block in zip(offered, since) if id(order) in included]
        self._mempool = [(order, block) for order, block in zip(offered, since) if id(order) not in included]
        mined.left_out = [order for order, _ in self._mempool]
        return mined

    def waiting_senders(self) -> set[str]:
        """The senders with a transaction waiting in the mempool for block space."""
        return {sender for (sender, _, _), _ in self._mempool}

    def check_setup(self, mined: MinedBlock, stage: str, who: str = "") -> None:
        """Raise :class:`~sim.protocol.deploy.SetupError` naming the first reverted transaction."""
        check_block(self.backend, mined, stage, self.protocol.codecs.values(), who=who)

    def state_reader(self, accounts: Sequence[str]) -> StateReader:
        """A reader of the whole protocol and of ``accounts``' balances and positions."""
        return StateReader(self.backend, self.protocol, accounts)

    def token_conservation(self, holders: Sequence[str]) -> dict[str, dict[str, Any]]:
        """For every token: the balances of ``holders`` and of every contract that can hold it add
        up to its total supply (nothing created or destroyed outside mint). A token that lives on
        a forked chain has holders the run does not know: there the part of its supply outside
        them must be what it was at :meth:`mark_conservation_start`."""
        result = {}
        for symbol, (supply, held) in self._supply_and_held(holders).items():
            row: dict[str, Any] = {"total_supply": str(supply), "held": str(held), "ok": held == supply}
            if symbol in self.protocol.external_tokens:
                start = self._untracked_start.get(symbol)
                row["untracked_at_start"] = str(start)
                row["ok"] = start is not None and supply - held == start
            result[symbol] = row
        return result

    def mark_conservation_start(self, holders: Sequence[str]) -> None:
        """Remember how much of each forked token's supply the run's holders do not hold."""
        self._untracked_start = {symbol: supply - held for symbol, (supply, held) in self._supply_and_held(holders).items()
                                 if symbol in self.protocol.external_tokens}

    def _supply_and_held(self, holders: Sequence[str]) -> dict[str, tuple[int, int]]:
        """symbol -> (total supply, Σ balances of ``holders`` and the protocol's contracts)."""
        p = self.protocol
        holders = list(dict.fromkeys(list(holders) + list(p.contract_holders().values())))
        tokens = list(p.tokens.values())
        lens = p.codecs["StateLens"]
        token_codec = p.codecs["SimToken"]
        calls = [(p.state_lens, lens.encode_call("balancesOf", [t.address for t in tokens], holders))]
        calls += [(t.address, token_codec.encode_call("totalSupply")) for t in tokens]
        raw = self.backend.call_many(calls)
        flat = lens.decode_output("balancesOf", raw[0]).balances
        return {
            token.symbol: (token_codec.decode_output("totalSupply", raw[1 + j])[0],
                           sum(flat[i * len(tokens) + j] for i in range(len(holders))))
            for j, token in enumerate(tokens)
        }


def network_problem(network: str) -> str | None:
    """Why a session on ``network`` cannot start (a fork with no upstream set, or one that does not
    answer as chain id 1), checked before any node starts; None when nothing is known to be wrong."""
    return fork_upstream_problem(network)


def scenario_network_problem(scenario: Scenario, network_name: str) -> str | None:
    """Why ``scenario`` cannot run on the network named ``network_name`` (Ape's network name, e.g.
    "local" or "mainnet-fork"): venues that live on a forked chain need a fork."""
    if uses_fork_venues(scenario) and "fork" not in network_name:
        return (f"the scenario names tokens or venues on a forked chain (assets' address, pools of kind uniswap_v2, "
                f"lending kind aave_v3), and network {network_name!r} is no fork: run it with --network ethereum:mainnet-fork:foundry")
    return None


BACKENDS = ("revm", "anvil")
"""The backends a run can use: ``revm`` (an EVM in this process, :class:`~sim.chain.RevmBackend`)
and ``anvil`` (a node, :class:`~sim.chain.AnvilBackend`)."""


class BackendError(ValueError):
    """The backend asked for cannot run this scenario on this network (raised before anything starts)."""


LONG_RUN_BLOCKS = 20_000
"""Runs longer than this go to anvil unless told otherwise: revm's memory grows with every
transaction (about 3 KB each, sim/chain/revm.py), while a node the run owns drops its old blocks."""


def is_fork_network(network: str) -> bool:
    """Whether the Ape network choice ``network`` (``ecosystem:network[:provider]``) is a fork."""
    return "fork" in network_name(network)


def network_name(network: str) -> str:
    """The network part of an Ape network choice (``"mainnet-fork"`` of ``"ethereum:mainnet-fork:foundry"``)."""
    parts = network.split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def choose_backend(backend: str | None, network: str | None = None, scenario: Scenario | None = None) -> str:
    """The backend a run uses: ``backend`` when given, otherwise ``revm`` unless the run needs a
    node, then ``anvil``. A run needs a node when a ``network`` is named (a fork, or a node of
    one's own), when the scenario names venues on a forked chain, or when it runs more than
    :data:`LONG_RUN_BLOCKS` blocks.

    revm is the default because it runs the same bytecode with the same results without a node
    (no JSON-RPC, no per-block state root: README, "Backends"); forks stay on anvil, which reads
    the upstream chain as the fork tooling (:mod:`sim.fork`) expects. Raises
    :class:`BackendError` for an unknown name, and for revm with a named network or where a fork
    is needed."""
    fork_venues = scenario is not None and uses_fork_venues(scenario)
    if backend is None:
        long_run = scenario is not None and scenario.blocks > LONG_RUN_BLOCKS
        return "anvil" if network is not None or fork_venues or long_run else "revm"
    if backend not in BACKENDS:
        raise BackendError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "revm" and network is not None and is_fork_network(network):
        raise BackendError(f"the revm backend runs no fork (network {network!r} is a fork): it does not fetch a forked "
                           "chain's state; use --backend anvil")
    if backend == "revm" and fork_venues:
        raise BackendError("the revm backend runs no fork (the scenario names venues on a forked chain): it does not fetch "
                           "a forked chain's state; use --backend anvil")
    if backend == "revm" and network is not None:
        raise BackendError(f"--network {network} names where the anvil backend runs; the revm backend runs in this "
                           "process: drop --network, or use --backend anvil")
    return backend


@contextmanager
def open_session(
    network: str = DEFAULT_NETWORK, artifacts: dict[str, Artifact] | None = None, owns_node: bool | None = None,
    backend: str = "anvil",
) -> Iterator[ProtocolSession]:
    """A session on ``backend``: for ``anvil`` (the default here, where a network is at hand; a run
    chooses with :func:`choose_backend`), the node of Ape network ``network``, started when nothing
    is connected; for ``revm``, a new in-process chain (``network`` unused), the run's alone.

    ``owns_node`` None: the session owns the node when it started it itself; ``ape run cascade``
    passes True for the node Ape started for that one command."""
    if backend == "revm":
        yield ProtocolSession(RevmBackend(), artifacts or load_artifacts(), owns_node=True)
        return
    with connected(network) as (provider, started):
        owned = started if owns_node is None else owns_node
        yield ProtocolSession(AnvilBackend(node_uri(provider)), artifacts or load_artifacts(), owns_node=owned)
