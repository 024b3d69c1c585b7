"""Starting balances of tokens the run did not deploy: written into the token's storage.

A token that lives on the forked chain (``assets.X.address``) has no mint the run may call, so
each agent's starting balance is written where the token keeps it, as Foundry's ``deal`` does:
the balance mapping's slot is found by writing a distinct marker into every candidate slot of one
probe account and reading ``balanceOf`` back (Solidity ``keccak(key . slot)`` and Vyper
``keccak(slot . key)`` layouts, slots 0–63), then every candidate is restored. The total supply
is left alone, so such tokens' conservation is checked against the run's start (see
``ProtocolSession.token_conservation``).
"""

from __future__ import annotations

from typing import Sequence

from eth_utils import keccak

from sim.chain import Backend, RpcError
from sim.chain.abi import Codec

MAX_PROBED_SLOT = 64
_MARKER = 0xDEA1 << 200  # far above any real balance; candidate i writes _MARKER + i
PROBE_ACCOUNT = "0x" + "de" * 20


class BalanceSlotNotFound(RuntimeError):
    """The token keeps balances in no layout the probe knows (a rebasing or proxied-storage token)."""


def mapping_slot(key: str, slot: int, vyper: bool = False) -> int:
    """The storage slot of ``mapping[key]`` for a mapping declared at ``slot``."""
    key_word = bytes.fromhex(key[2:].rjust(64, "0"))
    slot_word = slot.to_bytes(32, "big")
    return int.from_bytes(keccak(slot_word + key_word if vyper else key_word + slot_word), "big")


def balance_slot(backend: Backend, token_codec: Codec, token: str) -> tuple[int, bool]:
    """``(slot, vyper)`` of ``token``'s balance mapping."""
    candidates = [(slot, vyper) for slot in range(MAX_PROBED_SLOT) for vyper in (False, True)]
    keys = [mapping_slot(PROBE_ACCOUNT, slot, vyper) for slot, vyper in candidates]
    saved = [backend.storage_at(token, key) for key in keys]
    backend.set_storage([(token, key, _MARKER + i) for i, key in enumerate(keys)])
    raw = backend.call_many([(token, token_codec.encode_call("balanceOf", PROBE_ACCOUNT))])[0]
    backend.set_storage([(token, key, value) for key, value in zip(keys, saved)])
    found = None if isinstance(raw, RpcError) else token_codec.decode_output("balanceOf", raw)[0] - _MARKER
    if found is None or not 0 <= found < len(candidates):
        raise BalanceSlotNotFound(f"found no balance mapping of the token at {token} in slots 0–{MAX_PROBED_SLOT - 1}")
    return candidates[found]


def deal(backend: Backend, token_codec: Codec, token: str, grants: Sequence[tuple[str, int]]) -> None:
    """Add each ``(account, amount)`` to the account's ``token`` balance by writing its storage."""
    if not grants:
        return
    slot, vyper = balance_slot(backend, token_codec, token)
    accounts = list(dict.fromkeys(account for account, _ in grants))
    raw = backend.call_many([(token, token_codec.encode_call("balanceOf", a)) for a in accounts])
    balances = {a: token_codec.decode_output("balanceOf", r)[0] for a, r in zip(accounts, raw)}
    for account, amount in grants:
        balances[account] += amount
    backend.set_storage([(token, mapping_slot(a, slot, vyper), balances[a]) for a in accounts])
