"""The order of transactions in a block, expressed as gas bids.

The backend executes a block by falling gas price, then in arrival order; one sender's
transactions stay in nonce order. Every rule here picks bids so that this order is exactly the
one the model means."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from sim.protocol import Call, Order

SETUP_GAS_PRICE_WEI = 10**9


def interleave(calls_by_sender: list[tuple[str, list[Call]]]) -> list[Order]:
    """Round-robin over senders with the lists aligned at their ends (every sender's last call
    in the last round). Every call bids a wei less than the one before it, so the node executes
    them in exactly this order (it orders a block by gas price; one sender's calls stay in nonce
    order, and a later round never outbids an earlier one).

    Set-up lists end with the sliced position opens, so longs and shorts alternate."""
    longest = max((len(calls) for _, calls in calls_by_sender), default=0)
    senders = len(calls_by_sender)
    orders = []
    for round_ in range(longest):
        for rank, (sender, calls) in enumerate(calls_by_sender):
            index = len(calls) - longest + round_
            if index >= 0:  # a unique, falling bid per (round, sender): the node's order is this order
                orders.append((sender, calls[index], SETUP_GAS_PRICE_WEI + (longest - round_) * senders - rank))
    return orders


def spread_populations(agents: Sequence[Any]) -> list[Any]:
    """``agents`` reordered so that every population is spread evenly through the list: the j-th
    of n members goes at (j + ½) / n of the way (ties keep the populations' order). A population
    is an ``agent_id`` without its last part (members are ``<kind>-<entry>-<index>``).

    The set-up block opens every position in rounds (:func:`interleave`); listed population by
    population, a round would run all of a market's whale longs before its market makers'
    shorts and push the vAMM far from the index, so that the last whales of a thousand would
    open at a price the median mark calls a loss. Spread, longs and shorts alternate."""
    members: dict[str, list[Any]] = {}
    for agent in agents:
        members.setdefault(agent.agent_id.rsplit("-", 1)[0], []).append(agent)
    keyed = [((j + 0.5) / len(group), order, agent) for order, group in enumerate(members.values()) for j, agent in enumerate(group)]
    return [agent for _, _, agent in sorted(keyed, key=lambda item: (item[0], item[1]))]


def in_sequence(calls_by_sender: list[tuple[str, list[Call]]]) -> list[Order]:
    """Every sender's calls one after the other, all at the set-up bid (arrival order decides)."""
    return [(sender, call, SETUP_GAS_PRICE_WEI) for sender, calls in calls_by_sender for call in calls]


def agent_bid(gas_price_wei: int, rank: int, agents: int) -> int:
    """An agent's bid in a block: its own gas price, ties broken by its place ``rank`` in the
    block's seeded order of ``agents`` agents (earlier bids a wei more)."""
    return gas_price_wei + (agents - rank)


def seeded_order(rng: np.random.Generator, agents: int) -> Sequence[int]:
    """The order agents decide in this block: a permutation from the model's generator."""
    return rng.permutation(agents)
