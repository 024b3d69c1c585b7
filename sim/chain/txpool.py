"""The order in which a node takes a block's pending transactions, shared by the block builders.

anvil (automine off) executes its pending pool by falling gas price, then by arrival; one
sender's transactions stay in nonce order: a sender's next transaction becomes eligible only once
the one before it is in. :func:`execution_order` walks orders the same way; the in-process backend
(:mod:`sim.chain.revm`) executes a block in this order, and the protocol layer's block space
(:func:`sim.protocol.blockspace.pack`) decides what fits with it, so both backends include the same
transactions in the same order.

One case anvil does not treat this way: a sender's later transaction that bids *more* than the one
before it is dropped from the block (neither mined nor left pending). The simulator never sends
one — an agent bids the same for all its calls of a block, and set-up bids fall — and
:func:`check_bids_do_not_rise` refuses it, so the backends cannot part there.
"""

from __future__ import annotations

import heapq
from typing import Callable, Sequence

from sim.chain.backend import Order


class RisingBidError(ValueError):
    """A sender's later transaction bids more than its earlier one in the same block (anvil drops it)."""


def check_bids_do_not_rise(orders: Sequence[Order]) -> None:
    """Raise :class:`RisingBidError` naming the first sender whose bids rise along its orders."""
    last: dict[str, int] = {}
    for sender, call, bid in orders:
        if bid > last.get(sender, bid):
            raise RisingBidError(f"{sender}'s {call.action} bids {bid:,} wei, more than its earlier transaction of the "
                                 f"block ({last[sender]:,}): anvil would drop it; a sender's bids must not rise within a block")
        last[sender] = bid


def execution_order(orders: Sequence[Order], admit: Callable[[int], bool] | None = None) -> list[int]:
    """The indices of ``orders`` in the order the node executes them.

    ``admit`` (optional) is asked about each order in that order; one it refuses is skipped, and
    so is every later order of its sender (their nonces would follow a transaction that is not
    there). The walk goes on after a refusal: a later order of another sender may still be taken."""
    by_sender: dict[str, list[int]] = {}
    for index, (sender, _, _) in enumerate(orders):
        by_sender.setdefault(sender, []).append(index)
    # the eligible set: each sender's next order, best bid first, then the earliest arrival
    ready = [(-orders[queue[0]][2], queue[0], sender, 0) for sender, queue in by_sender.items()]
    heapq.heapify(ready)
    taken: list[int] = []
    while ready:
        _, index, sender, position = heapq.heappop(ready)
        if admit is not None and not admit(index):
            continue  # skipped, and with it every later order of this sender
        taken.append(index)
        queue = by_sender[sender]
        if position + 1 < len(queue):
            following = queue[position + 1]
            heapq.heappush(ready, (-orders[following][2], following, sender, position + 1))
    return taken
