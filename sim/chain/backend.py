"""The backend seam: what the protocol layer needs of a chain, and the values that cross it.

A :class:`Backend` executes blocks of transactions at fixed timestamps and answers static calls.
:class:`~sim.chain.anvil.AnvilBackend` (batched JSON-RPC to an anvil node) and
:class:`~sim.chain.revm.RevmBackend` (an EVM in this process) implement it; nothing above this
package knows which one it drives. Everything that crosses the seam is plain data: :class:`Call` in,
:class:`MinedBlock` (with :class:`SentTx` and receipt-shaped dicts) out.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Sequence

import rlp
from eth_utils import keccak

# The gas limit of a Call built without one. The protocol layer gives every call the measured
# limit of its action (sim/protocol/gas.py); a failed transaction is still mined (status 0), which
# is what an agent on a real chain would see.
DEFAULT_TX_GAS = 1_000_000
GWEI = 10**9
ADDRESS_TOPIC_PREFIX = "0x" + "0" * 24  # an indexed address: 12 zero bytes, then the address
SUCCESS = "0x1"


@dataclass(frozen=True)
class Call:
    """One contract call an agent wants sent: the target, calldata and a readable label.

    ``action`` and ``args`` exist for people and tests (``Call.action == "liquidationCall"``); the
    node only sees ``to`` and ``data``."""

    to: str | None  # None: contract creation
    data: str
    action: str
    args: tuple[Any, ...] = ()
    gas: int = DEFAULT_TX_GAS
    value: int = 0
    contract: str = ""  # the contract type ``to`` is (an artifact name), when known


Order = tuple[str, Call, int]
"""``(sender, call, gas_price_wei)``: one transaction to send. A block executes its orders by
falling gas price, then in the order given; one sender's orders stay in nonce order."""


@dataclass(frozen=True)
class SentTx:
    """A transaction handed to the node: who sent it, in which order, and its hash."""

    sender: str
    call: Call
    nonce: int
    gas_price_wei: int
    tx_hash: str


@dataclass
class MinedBlock:
    """A mined block's outcome: one receipt-shaped dict per transaction, in block order, with
    ``transactionHash``, ``status`` (``"0x1"`` or ``"0x0"``), ``logs`` and ``gasUsed`` (the
    receipt's, an int, for the transactions with a log topic in the backend's
    ``gas_used_topics``; None for the others).

    ``sent`` is in the order the transactions were handed over (the block executes them by gas
    price, see :mod:`sim.chain.txpool`). The block builder above the backend
    (:class:`sim.protocol.ProtocolSession`) fills in the rest: ``waited_blocks``, aligned with
    ``sent``, says how many blocks each transaction waited in the mempool before this one took
    it; ``left_out`` holds the orders still waiting after this block (they did not fit its gas
    limit), in arrival order."""

    number: int
    timestamp_s: int
    receipts: list[dict[str, Any]]
    sent: list[SentTx] = field(default_factory=list)
    left_out: list[Order] = field(default_factory=list)
    waited_blocks: list[int] = field(default_factory=list)

    def touched(self) -> set[str]:
        """Every sender, and every address in an indexed topic of the block's logs (lowercase)."""
        found = {tx.sender for tx in self.sent}
        for receipt in self.receipts:
            for log in receipt["logs"]:
                for topic in log["topics"][1:]:
                    if topic.startswith(ADDRESS_TOPIC_PREFIX):
                        found.add("0x" + topic[26:])
        return found

    def failed(self) -> list[tuple[SentTx, dict[str, Any]]]:
        by_hash = {tx.tx_hash: tx for tx in self.sent}
        return [(by_hash[r["transactionHash"]], r) for r in self.receipts if r["status"] != SUCCESS]


class RpcError(RuntimeError):
    """A request to the backend failed; carries the method and the backend's message."""

    def __init__(self, method: str, error: Any, params: Any = None):
        self.method = method
        self.error = error
        self.params = params
        super().__init__(f"{method} failed: {error}")


def create_address(sender: str, nonce: int) -> str:
    """The address of the contract ``sender`` creates with ``nonce`` (CREATE)."""
    return "0x" + keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:].hex()


class Backend(ABC):
    """A chain the simulator drives: blocks at fixed timestamps, static calls, snapshot/revert.

    Senders need no keys: every address may send (a node impersonates them). ``tx_count`` counts
    every transaction sent; ``log_filter``, when set, limits a mined block's logs to those matching
    an ``eth_getLogs``-style filter (``address`` and ``topics``); ``gas_used_topics``: the
    transactions with a log whose first topic is one of these get their receipt's ``gasUsed``
    (the others ``None``: it costs a receipt look-up each)."""

    name: str  # "anvil" or "revm": which implementation (the run's summary names it)
    measures_gas_used: bool  # whether receipts' gasUsed is what a chain would charge (see RevmBackend)
    tx_count: int
    log_filter: dict[str, Any] | None
    gas_used_topics: frozenset[str]

    @abstractmethod
    def head(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block."""

    @abstractmethod
    def take_control(self) -> None:
        """Blocks are mined only when asked, every sender may send, any block size fits (until
        :meth:`set_block_gas_limit`)."""

    @abstractmethod
    def set_block_gas_limit(self, gas: int) -> None:
        """The gas limit of the blocks mined from now on."""

    @abstractmethod
    def fund_gas(self, addresses: Sequence[str]) -> None:
        """Give every address enough native coin for any amount of gas."""

    @abstractmethod
    def nonce_of(self, address: str) -> int:
        """The next nonce ``address`` will send with."""

    @abstractmethod
    def execute(self, orders: Sequence[Order], timestamp_s: int) -> MinedBlock:
        """Send ``orders`` and mine them into one block at ``timestamp_s``; the block's outcome."""

    @abstractmethod
    def call_many(self, calls: Sequence[tuple[str, str]], block: str = "latest") -> list[Any]:
        """Static-call each ``(to, data)``; raw 0x-hex results (or :class:`RpcError`) in order."""

    @abstractmethod
    def code_at(self, address: str) -> str:
        """The runtime code at ``address`` as 0x-hex ("0x" when there is none)."""

    @abstractmethod
    def storage_at(self, address: str, slot: int) -> int:
        """Storage word ``slot`` of ``address``."""

    @abstractmethod
    def set_storage(self, writes: Sequence[tuple[str, int, int]]) -> None:
        """Write each ``(address, slot, value)`` storage word (a forked chain's token balances)."""

    @abstractmethod
    def revert_data(self, tx_hash: str) -> str | None:
        """The revert data of a mined, failed transaction, or None."""

    @abstractmethod
    def checkpoint(self) -> Any:
        """A handle to the chain and backend settings as they are now (see :meth:`restore`)."""

    @abstractmethod
    def restore(self, checkpoint: Any) -> None:
        """Put the chain and the backend settings back as they were at ``checkpoint``."""

    def trim_history(self) -> bool:
        """Drop what the chain keeps of old blocks, when it keeps any (a node the run owns); True
        when something was dropped. Nothing by default."""
        return False
