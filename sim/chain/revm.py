"""The second backend: an EVM in this process (revm, through pyrevm), no node and no JSON-RPC.

It runs the same creation code and calldata as :class:`~sim.chain.anvil.AnvilBackend` and answers
in the same shapes, so nothing above the backend seam can tell them apart:

- a block executes its orders in the node's order (:func:`~sim.chain.txpool.execution_order`:
  falling gas price, then arrival, one sender's in nonce order) at the block's fixed timestamp;
- every sender may send (no keys); nonces count every transaction sent, failed ones too, so
  contract addresses (CREATE) are the node's;
- a transaction's hash is the one anvil gives an impersonated legacy transaction (see
  :func:`impersonated_tx_hash`), so ``events.tx_hash`` is the same on both backends;
- a reverted transaction is mined with status 0 and its revert data kept for
  :meth:`RevmBackend.revert_data` (the node's call tracer gives the same bytes);
- a transaction whose gas limit alone exceeds the block's is refused, and a block whose gas used
  so far plus the next transaction's limit would exceed the block's raises, as anvil would leave
  it pending (with revm's own, lower, gas used; the protocol layer sends only what fits by gas
  *limits*, so neither happens in a run);
- the chain id is anvil's local one (31337), the base fee 0, the hardfork Cancun (ape-config.yaml).

What differs, and why (README, "Backends"): pyrevm 0.3.7 runs every transaction in one revm
journal that it never finalizes, so an account or storage slot a transaction touched stays *warm*
for every later transaction, and a slot's EIP-2200 "original value" stays the one it had when it
was first read. Its ``gasUsed`` is far lower than a chain's: the first liquidation of oct10 used
95,064 gas here and 203,464 on anvil. Nothing in a run decides on ``gasUsed`` (block space counts
gas *limits*) and no contract here reads ``gasleft()``, so :attr:`RevmBackend.measures_gas_used` is
False, the run records ``events.gas_used`` as NaN rather than a number no chain would charge, and
every other column is the same on both backends — as long as no transaction runs out of gas on
the chain: one whose limit is too tight for anvil can still succeed here (README, "Backends").
Also different, and read by no contract here: ``block.gaslimit`` (2**64 - 1, pyrevm's) and
``block.prevrandao`` (0); no gas is charged to senders; a sender with code is refused (EIP-3607).
The journal keeps every transaction's entries and logs, so memory grows with the transactions a
run sends, about 3 KB each (the reads' are dropped: :meth:`RevmBackend.call_many`).

No fork: pyrevm's ``fork_url`` (one blocking RPC request per account and storage slot the first
time it is read) is not wired in; fork runs stay on anvil (:func:`sim.protocol.choose_backend`).
"""

from __future__ import annotations

import re
import time
from collections import deque
from typing import Any, Sequence

from eth_utils import keccak
from pyrevm import EVM, AccountInfo, BlockEnv, CfgEnv, Env

from sim.chain.backend import Backend, MinedBlock, Order, RpcError, SentTx
from sim.chain.txpool import check_bids_do_not_rise, execution_order

LOCAL_CHAIN_ID = 31337  # anvil's default chain id: the contracts see the same block.chainid
SPEC = "Cancun"  # revm's name of the hardfork anvil runs (ape-config.yaml: evm_version cancun)
GAS_ETH_WEI = 10**30  # every sender's native balance (as AnvilBackend.fund_gas gives)
READ_GAS = 10**12  # a static call's gas (AnvilBackend's READ_GAS_HEX)
ZERO_ADDRESS = "0x" + "00" * 20  # the sender of a static call (eth_call without "from")
REVERT_DATA_BLOCKS = 64  # revert data is kept for the transactions of the last 64 blocks (anvil's keeper)
UNLIMITED_BLOCK_GAS = 10**15  # the set-up blocks' gas limit (AnvilBackend's BLOCK_GAS_LIMIT)
_REVERT_OUTPUT = re.compile(r"output: (0x[0-9a-fA-F]*)")


def _revert_output(error: RuntimeError) -> str:
    """The revert data pyrevm's error message carries (``Revert { …, output: 0x… }``); "0x" for none."""
    found = _REVERT_OUTPUT.search(str(error))
    return found.group(1).lower() if found else "0x"


def _rlp_item(payload: bytes) -> bytes:
    """RLP of one byte string."""
    if len(payload) == 1 and payload[0] < 0x80:
        return payload
    return _rlp_length(len(payload), 0x80) + payload


def _rlp_length(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes([offset + length])
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


def _rlp_int(value: int) -> bytes:
    return _rlp_item(value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b"")


def impersonated_tx_hash(sender: str, nonce: int, gas_price_wei: int, gas: int, to: str | None, value: int, data: str,
                         chain_id: int = LOCAL_CHAIN_ID) -> str:
    """The hash anvil gives a legacy transaction it sends for an impersonated ``sender``: keccak of
    the transaction's RLP with an EIP-155 ``v`` and a zero signature, followed by the sender's
    20 bytes (checked against anvil in tests/test_revm_backend.py)."""
    body = b"".join([
        _rlp_int(nonce), _rlp_int(gas_price_wei), _rlp_int(gas), _rlp_item(bytes.fromhex(to[2:]) if to else b""),
        _rlp_int(value), _rlp_item(bytes.fromhex(data[2:])), _rlp_int(chain_id * 2 + 35), _rlp_int(0), _rlp_int(0),
    ])
    return "0x" + keccak(_rlp_length(len(body), 0xC0) + body + bytes.fromhex(sender[2:])).hex()


def _topics_match(topics: list[str], allowed: list[set[str] | None]) -> bool:
    """Whether a log's ``topics`` pass an ``eth_getLogs`` topic filter: per position, a set of
    topics one of which must be there, or None for anything (a missing topic included)."""
    for position, entry in enumerate(allowed):
        if entry is not None and (position >= len(topics) or topics[position] not in entry):
            return False
    return True


class RevmBackend(Backend):
    """An in-process chain: one pyrevm ``EVM``, blocks numbered and timed here."""

    name = "revm"
    measures_gas_used = False  # pyrevm keeps accounts and slots warm across transactions (module docstring)

    def __init__(self, genesis_timestamp_s: int | None = None):
        self._evm = EVM(env=Env(cfg=CfgEnv(chain_id=LOCAL_CHAIN_ID)), spec_id=SPEC)
        self._number = 0
        self._timestamp_s = int(time.time()) if genesis_timestamp_s is None else genesis_timestamp_s
        self._gas_limit = UNLIMITED_BLOCK_GAS
        self._nonces: dict[str, int] = {}
        self._revert_data: dict[str, str] = {}
        self._held: list[dict[str, Any]] = []  # the checkpoints handed out and not yet restored, oldest first
        self._failed_by_block: deque[list[str]] = deque(maxlen=REVERT_DATA_BLOCKS)
        self.tx_count = 0
        self.log_filter: dict[str, Any] | None = None
        self.gas_used_topics: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ chain settings

    def head(self) -> tuple[int, int]:
        return self._number, self._timestamp_s

    def take_control(self) -> None:
        """Nothing to take: this chain is the run's alone, mines only when asked and lets any sender send."""

    def set_block_gas_limit(self, gas: int) -> None:
        self._gas_limit = gas

    def fund_gas(self, addresses: Sequence[str]) -> None:
        for address in addresses:
            self._evm.set_balance(address, GAS_ETH_WEI)

    def nonce_of(self, address: str) -> int:
        if address not in self._nonces:
            self._nonces[address] = self._evm.basic(address).nonce
        return self._nonces[address]

    def code_at(self, address: str) -> str:
        code = self._evm.get_code(address)
        return "0x" + code.hex() if code else "0x"

    def storage_at(self, address: str, slot: int) -> int:
        return self._evm.storage(address, slot)

    def set_storage(self, writes: Sequence[tuple[str, int, int]]) -> None:
        for address, slot, value in writes:
            self._evm.insert_account_storage(address, slot, value)

    def checkpoint(self) -> dict[str, Any]:
        """A journal checkpoint of the EVM plus the block, nonces, gas limit and revert data kept here."""
        mark = self._evm.snapshot()
        state = {"journal": mark, "head": (self._number, self._timestamp_s), "gas_limit": self._gas_limit,
                 "nonces": dict(self._nonces), "revert_data": dict(self._revert_data),
                 "failed_by_block": list(self._failed_by_block)}
        self._held.append(state)
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Put everything back as it was at ``state``; the checkpoints taken after it are gone with
        what they saw. Raises :class:`RpcError` for a checkpoint that is gone (restored already, or
        taken after one that was), as the node does: pyrevm would revert to the wrong place."""
        held = next((i for i, kept in enumerate(self._held) if kept is state), None)
        if held is None:
            raise RpcError("restore", "this checkpoint is gone: it was restored already, or an earlier one was")
        del self._held[held:]
        self._evm.revert(state["journal"])
        self._number, self._timestamp_s = state["head"]
        self._gas_limit = state["gas_limit"]
        self._nonces = dict(state["nonces"])
        self._revert_data = dict(state["revert_data"])
        self._failed_by_block = deque(state["failed_by_block"], maxlen=REVERT_DATA_BLOCKS)

    # ------------------------------------------------------------------ transactions

    def execute(self, orders: Sequence[Order], timestamp_s: int) -> MinedBlock:
        """Execute ``orders`` in the node's order as block ``head + 1`` at ``timestamp_s``.

        Raises :class:`RpcError` for what the node would refuse (a gas limit above the block's, a
        block that cannot hold what was sent) before or instead of mining it, and
        :class:`~sim.chain.txpool.RisingBidError` for a transaction the node would drop."""
        check_bids_do_not_rise(orders)  # anvil would drop such a transaction; never mine what the node would not
        for sender, call, _ in orders:
            if call.gas > self._gas_limit:
                raise RpcError("eth_sendTransaction", f"{call.action} from {sender}: gas limit {call.gas:,} exceeds the "
                                                      f"block gas limit {self._gas_limit:,}")
        number = self._number + 1
        self._evm.set_block_env(BlockEnv(number=number, timestamp=timestamp_s, gas_limit=self._gas_limit, basefee=0))
        addresses, topic_sets = self._log_filter_sets()
        sent: dict[int, SentTx] = {}  # by the order's index: handed over in the order given, as to the node
        receipts: list[dict[str, Any]] = []
        failed: list[str] = []
        block_gas = 0
        log_index = 0
        for index in execution_order(orders):
            sender, call, gas_price = orders[index]
            if block_gas + call.gas > self._gas_limit:
                raise RpcError("evm_mine", f"block {number} cannot hold {call.action} from {sender} ({call.gas:,} gas after "
                                           f"{block_gas:,} used of {self._gas_limit:,}); the node would leave it pending")
            nonce = self.nonce_of(sender)
            tx_hash = impersonated_tx_hash(sender, nonce, gas_price, call.gas, call.to, call.value, call.data)
            result, revert = self._transact(sender, call, gas_price, nonce)
            self._nonces[sender] = nonce + 1
            block_gas += result.gas_used
            logs = []
            if result.is_success:
                for log in result.logs:
                    address = log.address.lower()
                    topics = log.topics
                    if (addresses is None or address in addresses) and _topics_match(topics, topic_sets):
                        logs.append({"address": address, "topics": topics, "data": "0x" + log.data[1].hex(),
                                     "logIndex": hex(log_index), "transactionHash": tx_hash, "blockNumber": hex(number)})
                    log_index += 1
            else:
                failed.append(tx_hash)
                if revert is not None:
                    self._revert_data[tx_hash] = revert
            # every receipt carries gasUsed: here it costs nothing (the node looks up only gas_used_topics')
            receipts.append({"transactionHash": tx_hash, "status": "0x1" if result.is_success else "0x0", "logs": logs,
                             "gasUsed": result.gas_used})
            sent[index] = SentTx(sender, call, nonce, gas_price, tx_hash)
        self.tx_count += len(sent)
        self._forget_old_reverts(failed)
        self._number, self._timestamp_s = number, timestamp_s
        return MinedBlock(number, timestamp_s, receipts, [sent[index] for index in sorted(sent)])

    def _transact(self, sender: str, call: Any, gas_price: int, nonce: int) -> tuple[Any, str | None]:
        """Run one transaction; its pyrevm result and, when it reverted with data, that data (0x-hex)."""
        evm = self._evm
        evm.reset_transient_storage()  # EIP-1153: transient storage lives for one transaction
        data = bytes.fromhex(call.data[2:])
        try:
            if call.to is None:
                self._align_nonce(sender, nonce)  # the creation's address comes from the EVM's nonce
                evm.deploy(sender, data, call.value, call.gas, gas_price)
            else:
                evm.message_call(sender, call.to, data, call.value, call.gas, gas_price)
            return evm.result, None
        except RuntimeError as error:
            result = evm.result
            if result is None:  # refused before execution: no block would take it
                raise RpcError("eth_sendTransaction", f"{call.action} from {sender}: {error}") from None
            output = _revert_output(error)
            return result, output if output != "0x" else None  # no data (a halt, a bare revert): None, as the node's tracer

    def _align_nonce(self, sender: str, nonce: int) -> None:
        account = self._evm.basic(sender)
        if account.nonce != nonce:
            self._evm.insert_account_info(sender, AccountInfo(balance=account.balance, nonce=nonce,
                                                              code_hash=account.code_hash, code=account.code))

    def _log_filter_sets(self) -> tuple[set[str] | None, list[set[str] | None]]:
        """What ``log_filter`` keeps, as ``eth_getLogs`` reads it: the addresses (None: any) and, per
        topic position, the topics allowed there (None: any)."""
        if not self.log_filter:
            return None, []
        addresses = self.log_filter.get("address")
        address_set = {a.lower() for a in ([addresses] if isinstance(addresses, str) else addresses)} if addresses else None
        topic_sets = [({entry.lower()} if isinstance(entry, str) else {t.lower() for t in entry}) if entry else None
                      for entry in self.log_filter.get("topics") or []]
        return address_set, topic_sets

    def _forget_old_reverts(self, failed: list[str]) -> None:
        if len(self._failed_by_block) == self._failed_by_block.maxlen:
            for tx_hash in self._failed_by_block[0]:
                self._revert_data.pop(tx_hash, None)
        self._failed_by_block.append(failed)

    def revert_data(self, tx_hash: str) -> str | None:
        return self._revert_data.get(tx_hash)

    # ------------------------------------------------------------------ reads

    def call_many(self, calls: Sequence[tuple[str, str]], block: str = "latest") -> list[Any]:
        """Static-call each ``(to, data)`` from the zero address; raw 0x-hex results, or an
        :class:`RpcError` carrying the revert data (as the node's ``eth_call`` error does)."""
        if block != "latest":
            raise RpcError("eth_call", f"the in-process chain keeps only its latest state, not block {block!r}")
        evm = self._evm
        results: list[Any] = []
        # The reads run inside a journal checkpoint that is reverted afterwards: they change no
        # state, and the revert drops what the journal recorded of them (a frame per call and
        # every account and slot loaded), which would otherwise stay for the whole run.
        mark = evm.snapshot()
        # pyrevm keys its checkpoints by journal position: a read right after a checkpoint shares its
        # key, and reverting the read would drop the checkpoint's entry; such a read keeps its journal
        shares_key = any((held["journal"].log_i, held["journal"].journal_i) == (mark.log_i, mark.journal_i)
                         for held in self._held)
        evm.reset_transient_storage()  # a call sees none of the last transaction's (as eth_call does)
        try:
            for to, data in calls:
                try:
                    # not static, as eth_call: a view that writes answers (the revert below undoes it)
                    out = evm.message_call(ZERO_ADDRESS, to, bytes.fromhex(data[2:]), 0, READ_GAS, 0, False)
                    results.append("0x" + out.hex())
                except RuntimeError as error:
                    results.append(RpcError("eth_call", {"message": "execution reverted", "data": _revert_output(error)},
                                            [{"to": to, "data": data}]))
        finally:
            if not shares_key:  # pyrevm keys checkpoints by position: never drop a held one's key
                evm.revert(mark)
        return results
