"""The first backend: an anvil node driven by raw, batched JSON-RPC.

Ape (or :mod:`sim.chain.node`) starts and stops the node; every per-block action goes through
:class:`AnvilBackend`: one JSON-RPC batch of ``eth_sendTransaction`` with automine off, one
``evm_mine`` at a fixed timestamp, one ``eth_getLogs`` (and ``trace_transaction`` for the
transactions that left no log) for their outcomes, and one batch of ``eth_call``.

Senders are impersonated (``anvil_autoImpersonateAccount``), so nothing is signed in Python and
the accounts are fixed addresses: the same scenario gives the same chain. Requires an anvil node
(ape-foundry's local network or a fork).
"""

from __future__ import annotations

import gzip
import itertools
import json
from typing import Any, Callable, Iterator, Sequence

import msgspec
import requests

from sim.chain.backend import Backend, MinedBlock, Order, RpcError, SentTx

# The block gas limit of the set-up blocks (deployment and funding fit in few blocks); a run sets
# its scenario's block_gas_limit before the first simulated block (set_block_gas_limit).
BLOCK_GAS_LIMIT = 10**15
# The gas of a static call. Without one anvil gives eth_call the block's gas limit, and once a run
# limits its blocks to the scenario's 30M a batched read over 10,000 accounts runs out of it; a
# read is no transaction, so no block limit applies to it.
READ_GAS_HEX = hex(10**12)
# Every sender gets this much ETH for gas; nothing in the simulation is priced in ETH.
GAS_ETH_WEI = 10**30
# anvil refuses request bodies over 2 MB (its default limit); batches are split below that.
MAX_BODY_BYTES = 1_500_000
# Requests that change the node's state; a journal records exactly these (see AnvilBackend.journal).
STATE_CHANGING = frozenset({
    "eth_sendTransaction", "eth_sendRawTransaction", "evm_mine", "anvil_mine", "anvil_setBalance",
    "anvil_setCode", "anvil_setStorageAt", "anvil_setNonce", "anvil_autoImpersonateAccount",
    "anvil_impersonateAccount", "evm_setAutomine", "evm_setBlockGasLimit", "evm_setNextBlockTimestamp",
    "anvil_setNextBlockBaseFeePerGas",
})


class _Reply(msgspec.Struct):
    """One JSON-RPC reply; the result stays raw JSON until its request's decoder reads it."""

    id: int
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: Any = None


class _Trace(msgspec.Struct):
    """The fields of a parity-style trace entry that tell whether a transaction reverted."""

    traceAddress: list[int] = []
    error: str | None = None


class _GasUsed(msgspec.Struct):
    """The one field of a receipt that ``mine`` reads."""

    gasUsed: str


_REPLIES = msgspec.json.Decoder(list[_Reply])
_TRACES = msgspec.json.Decoder(list[_Trace])
_GAS_USED = msgspec.json.Decoder(_GasUsed)


def _bodies(parts: Sequence[bytes]) -> Iterator[bytes]:
    """JSON array bodies of the encoded requests ``parts``, each at most ``MAX_BODY_BYTES``
    (a single larger request goes alone; the node's error then names it)."""
    start, size = 0, 2
    for i, part in enumerate(parts):
        if i > start and size + len(part) + 1 > MAX_BODY_BYTES:
            yield b"[" + b",".join(parts[start:i]) + b"]"
            start, size = i, 2
        size += len(part) + 1
    if start < len(parts):
        yield b"[" + b",".join(parts[start:]) + b"]"


class AnvilBackend(Backend):
    """Batched JSON-RPC client with local nonce tracking and explicit, fixed block timestamps."""

    name = "anvil"
    measures_gas_used = True

    def __init__(self, uri: str, timeout_s: float = 300.0):
        self.uri = uri
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers["Content-Type"] = "application/json"
        self._ids = itertools.count()
        self._nonces: dict[str, int] = {}
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()
        self.tx_count = 0
        self._last_mined: str | None = None  # hash of the last block this client mined
        self._impersonating = False  # whether this client turned anvil_autoImpersonateAccount on
        # When set, called with every request body that changes the node's state, in order, as
        # sent: replaying them into a node in the same starting state reproduces the chain.
        self.journal: Callable[[bytes], None] | None = None
        # When set, a mined block's logs are only those matching this eth_getLogs filter
        # (its ``address`` and ``topics`` keys; see mine).
        self.log_filter: dict[str, Any] | None = None
        # Transactions with a log whose first topic is one of these get their receipt's gasUsed (see mine).
        self.gas_used_topics: frozenset[str] = frozenset()

    # ------------------------------------------------------------------ raw requests

    def batch(
        self,
        requests_: Sequence[tuple[str, list[Any]]],
        allow_errors: bool = False,
        decoders: Sequence[msgspec.json.Decoder | None] | None = None,
    ) -> list[Any]:
        """Send many requests in as few HTTP round trips as the node accepts; results in request order.

        Requests go in bodies of at most ``MAX_BODY_BYTES`` (anvil refuses larger ones).
        ``decoders`` (one per request, None for plain JSON) decode results into typed structs,
        which skips building dicts for fields nobody reads. Raises
        :class:`RpcError` for the first failed request unless ``allow_errors``, in which case a
        failed request's slot holds an :class:`RpcError`."""
        if not requests_:
            return []
        first = next(self._ids)
        for _ in range(len(requests_) - 1):
            next(self._ids)
        encode = self._encoder.encode
        parts = [
            encode({"jsonrpc": "2.0", "id": first + i, "method": method, "params": params})
            for i, (method, params) in enumerate(requests_)
        ]
        replies: list[_Reply] = []
        bodies = list(_bodies(parts))
        for body in bodies:
            replies.extend(self._post(body))
        if self.journal is not None:
            self._record(requests_, parts, bodies)
        if len(replies) != len(requests_):
            raise RpcError("batch", f"{len(requests_)} requests, {len(replies)} replies")
        replies.sort(key=lambda reply: reply.id)
        results: list[Any] = []
        for i, ((method, params), reply) in enumerate(zip(requests_, replies)):
            if reply.error is not None:
                error = RpcError(method, reply.error, params)
                if not allow_errors:
                    raise error
                results.append(error)
            else:
                decoder = decoders[i] if decoders is not None and decoders[i] is not None else self._decoder
                results.append(decoder.decode(reply.result))
        return results

    def _record(self, requests_: Sequence[tuple[str, list[Any]]], parts: list[bytes], bodies: list[bytes]) -> None:
        changing = [i for i, (method, _) in enumerate(requests_) if method in STATE_CHANGING]
        if len(changing) == len(requests_):
            for body in bodies:
                self.journal(body)
        elif changing:
            for body in _bodies([parts[i] for i in changing]):
                self.journal(body)

    def _post(self, body: bytes) -> list[_Reply]:
        response = self._session.post(self.uri, data=body, timeout=self._timeout_s)
        response.raise_for_status()
        try:
            return _REPLIES.decode(response.content)
        except msgspec.ValidationError:  # a node answers a malformed batch with one error object
            reply = self._decoder.decode(response.content)
            raise RpcError("batch", reply.get("error", reply) if isinstance(reply, dict) else reply) from None

    def request(self, method: str, params: list[Any] | None = None) -> Any:
        return self.batch([(method, params or [])])[0]

    # ------------------------------------------------------------------ node set-up

    def take_control(self, block_gas_limit: int = BLOCK_GAS_LIMIT) -> None:
        """Automine off, any sender impersonated, a block gas limit that fits every batch.

        Refuses (:class:`RpcError`) a node that someone else is already driving: automine off,
        or transactions waiting in its pool. The simulator never shares a node it did not start
        for itself."""
        automine, pending = self.batch([("anvil_getAutomine", []), ("eth_getBlockByNumber", ["pending", False])])
        if not automine or pending["transactions"]:
            raise RpcError(
                "take_control",
                f"the node at {self.uri} is already in use by another run (automine "
                f"{'on' if automine else 'off'}, {len(pending['transactions'])} pending transactions); "
                "a run starts its own node unless --network names one: name a node that nothing else drives",
            )
        self.batch(
            [
                ("anvil_autoImpersonateAccount", [True]),
                ("evm_setAutomine", [False]),
                ("evm_setBlockGasLimit", [hex(block_gas_limit)]),
            ]
        )
        self._impersonating = True

    def checkpoint(self) -> dict[str, Any]:
        """An ``evm_snapshot`` of the chain plus the node settings :meth:`take_control` changes."""
        automine, block = self.batch([("anvil_getAutomine", []), ("eth_getBlockByNumber", ["latest", False])])
        return {"snapshot": self.snapshot(), "automine": bool(automine), "gas_limit": block["gasLimit"],
                "impersonating": self._impersonating}

    def restore(self, state: dict[str, Any]) -> None:
        """Revert the chain to the snapshot and put the node's settings back as they were.

        Only the state this client created is reverted: when the node has mined a block since this
        client's last one, someone else is using it, and it is left as it is (:class:`RpcError`)."""
        if self._last_mined is not None:
            head = self.request("eth_getBlockByNumber", ["latest", False])
            if head["hash"] != self._last_mined:
                raise RpcError("restore", f"the node at {self.uri} has moved on since this run's last block; left as it is")
        self.revert(state["snapshot"])
        self._last_mined = None
        self.batch(
            [
                ("evm_setBlockGasLimit", [state["gas_limit"]]),
                ("evm_setAutomine", [state["automine"]]),
                ("anvil_autoImpersonateAccount", [state["impersonating"]]),
            ]
        )
        self._impersonating = state["impersonating"]

    def trim_history(self, keep_blocks: int = 8) -> bool:
        """Drop every block but the newest ``keep_blocks`` from the node's memory; False (and
        nothing done) on a fork, whose reset would fetch the upstream chain again.

        anvil keeps every block it mined for its lifetime (``--prune-history`` prunes states and
        ``--transaction-block-keeper`` transactions, neither the blocks): about 15 kB a block on
        calm, 1.5 GB over 100,000 blocks. This dumps the node's state, keeps the newest blocks,
        resets the node and loads the state back: accounts, storage, nonces, the block number and
        time are unchanged, so the run goes on as if nothing happened. Only for a node the run
        owns: the reset also drops every ``evm_snapshot``."""
        if self.request("anvil_nodeInfo").get("forkConfig", {}).get("forkUrl"):
            return False
        raw = bytes.fromhex(self.request("anvil_dumpState")[2:])
        gzipped = raw[:2] == b"\x1f\x8b"
        state = json.loads(gzip.decompress(raw) if gzipped else raw)
        state["blocks"] = sorted(state["blocks"], key=lambda block: int(block["header"]["number"], 16))[-keep_blocks:]
        state["transactions"] = []  # receipts and traces of old blocks: never read again
        body = json.dumps(state).encode()
        blob = "0x" + (gzip.compress(body, compresslevel=1) if gzipped else body).hex()
        automine, block = self.batch([("anvil_getAutomine", []), ("eth_getBlockByNumber", ["latest", False])])
        self.batch([("anvil_reset", []), ("anvil_loadState", [blob])])
        self.batch([
            ("anvil_autoImpersonateAccount", [True]),
            ("evm_setAutomine", [automine]),
            ("evm_setBlockGasLimit", [block["gasLimit"]]),
        ])
        return True

    def set_block_gas_limit(self, gas: int) -> None:
        """The gas limit of the blocks mined from now on (``evm_setBlockGasLimit``).

        anvil then includes a pending transaction while the gas its block has *used* so far plus
        the transaction's gas *limit* fits, skipping (and leaving pending) one that does not and
        every later one of its sender; it refuses to accept a transaction whose limit alone
        exceeds the block's."""
        self.request("evm_setBlockGasLimit", [hex(gas)])

    def fund_gas(self, addresses: Sequence[str]) -> None:
        self.batch([("anvil_setBalance", [a, hex(GAS_ETH_WEI)]) for a in addresses])

    def code_at(self, address: str) -> str:
        return self.request("eth_getCode", [address, "latest"])

    def storage_at(self, address: str, slot: int) -> int:
        return int(self.request("eth_getStorageAt", [address, hex(slot), "latest"]), 16)

    def set_storage(self, writes: Sequence[tuple[str, int, int]]) -> None:
        self.batch([("anvil_setStorageAt", [address, "0x" + slot.to_bytes(32, "big").hex(),
                                             "0x" + value.to_bytes(32, "big").hex()]) for address, slot, value in writes])

    def snapshot(self) -> str:
        return self.request("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.request("evm_revert", [snapshot_id]):
            raise RpcError("evm_revert", f"snapshot {snapshot_id} not found")
        self._nonces.clear()

    def head(self) -> tuple[int, int]:
        """(number, timestamp) of the latest block."""
        block = self.request("eth_getBlockByNumber", ["latest", False])
        return int(block["number"], 16), int(block["timestamp"], 16)

    # ------------------------------------------------------------------ transactions

    def nonce_of(self, address: str) -> int:
        """The next nonce this client will use for ``address`` (read from the node once)."""
        if address not in self._nonces:
            self._nonces[address] = int(self.request("eth_getTransactionCount", [address, "pending"]), 16)
        return self._nonces[address]

    def _load_nonces(self, senders: Sequence[str]) -> None:
        missing = sorted({s for s in senders if s not in self._nonces})
        counts = self.batch([("eth_getTransactionCount", [s, "pending"]) for s in missing])
        self._nonces.update({s: int(c, 16) for s, c in zip(missing, counts)})

    def send(self, orders: Sequence[Order]) -> list[SentTx]:
        """Queue ``(sender, call, gas_price_wei)`` transactions in one batch (automine is off).

        The node orders a block by gas price, then by arrival; one sender's transactions stay in
        nonce order."""
        self._load_nonces([sender for sender, _, _ in orders])
        requests_, pending = [], []
        for sender, call, gas_price in orders:
            nonce = self._nonces[sender]
            self._nonces[sender] = nonce + 1
            tx = {
                "from": sender,
                "to": call.to,
                "data": call.data,
                "gas": hex(call.gas),
                "gasPrice": hex(gas_price),
                "nonce": hex(nonce),
                "value": hex(call.value),
            }
            if call.to is None:
                del tx["to"]
            requests_.append(("eth_sendTransaction", [tx]))
            pending.append((sender, call, nonce, gas_price))
        try:
            hashes = self.batch(requests_)
        except RpcError:
            self._nonces.clear()  # re-read nonces from the node next time
            raise
        self.tx_count += len(hashes)
        return [SentTx(s, c, n, g, h) for (s, c, n, g), h in zip(pending, hashes)]

    def mine(self, timestamp_s: int, sent: Sequence[SentTx] = ()) -> MinedBlock:
        """Mine one block at ``timestamp_s`` holding everything queued; return its outcome.

        The logs come from one ``eth_getLogs`` (only those matching ``self.log_filter`` when set).
        A transaction with a log succeeded (a reverted one keeps none); only the others are looked
        up with ``trace_transaction`` (the top-level call's ``error``). anvil builds
        ``eth_getBlockReceipts`` in time quadratic in the block's size (0.25 s for 500 transfers,
        6.5 s for 3,000), and one ``eth_getTransactionReceipt`` costs time linear in it (2 ms each
        in a block of 3,000), so receipts are asked for only for the transactions with a log
        topic in ``self.gas_used_topics``, in one batch, for their ``gasUsed``. (A trace's
        ``gasUsed`` is no substitute: it leaves out the intrinsic gas and the refund.) The result
        has one receipt-shaped dict per transaction, in block order: ``transactionHash``,
        ``status`` (``"0x1"`` or ``"0x0"``), ``logs`` and ``gasUsed`` (int, or None when not
        looked up)."""
        self.request("evm_mine", [{"timestamp": timestamp_s, "blocks": 1}])
        log_filter: dict[str, Any] = {**(self.log_filter or {}), "fromBlock": "latest", "toBlock": "latest"}
        block, logs = self.batch([("eth_getBlockByNumber", ["latest", False]), ("eth_getLogs", [log_filter])])
        hashes = block["transactions"]
        if len(hashes) != len(sent):
            raise RpcError("evm_mine", f"block {int(block['number'], 16)} holds {len(hashes)} transactions, {len(sent)} were sent")
        receipts: list[dict[str, Any]] = []
        if hashes:
            logs_of: dict[str, list[dict[str, Any]]] = {}
            for log in logs:
                if log["blockHash"] != block["hash"]:
                    raise RpcError("eth_getLogs", f"logs of block {log['blockNumber']} answered for block {block['number']}")
                logs_of.setdefault(log["transactionHash"], []).append(log)
            silent = [h for h in hashes if h not in logs_of]
            topics = self.gas_used_topics
            weighed = [h for h, tx_logs in logs_of.items() if any(log["topics"] and log["topics"][0] in topics for log in tx_logs)]
            replies = self.batch(
                [("trace_transaction", [h]) for h in silent] + [("eth_getTransactionReceipt", [h]) for h in weighed],
                decoders=[_TRACES] * len(silent) + [_GAS_USED] * len(weighed),
            )
            failed = {h for h, trace in zip(silent, replies) if any(not t.traceAddress and t.error for t in trace)}
            gas_used = {h: int(receipt.gasUsed, 16) for h, receipt in zip(weighed, replies[len(silent):])}
            receipts = [
                {"transactionHash": h, "status": "0x0" if h in failed else "0x1", "logs": logs_of.get(h, []),
                 "gasUsed": gas_used.get(h)}
                for h in hashes
            ]
        self._last_mined = block["hash"]
        return MinedBlock(int(block["number"], 16), int(block["timestamp"], 16), receipts, list(sent))

    def execute(self, orders: Sequence[Order], timestamp_s: int) -> MinedBlock:
        """Send ``orders`` and mine them into one block at ``timestamp_s``."""
        return self.mine(timestamp_s, self.send(orders))

    def revert_data(self, tx_hash: str) -> str | None:
        """The revert data of a mined, failed transaction (anvil's call tracer), or None."""
        try:
            trace = self.request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
        except RpcError:
            return None
        return trace.get("output") if isinstance(trace, dict) else None

    # ------------------------------------------------------------------ reads

    def call_many(self, calls: Sequence[tuple[str, str]], block: str = "latest") -> list[Any]:
        """``eth_call`` each ``(to, data)`` in one batch; raw hex results (or RpcError) in order."""
        return self.batch(
            [("eth_call", [{"to": to, "data": data, "gas": READ_GAS_HEX}, block]) for to, data in calls], allow_errors=True
        )
