"""Block space: which of a block's orders fit its gas limit, chosen before anything is sent.

The node takes pending transactions by falling gas price, then by arrival, one sender's in nonce
order (a sender's next transaction becomes eligible once the one before it is in). :func:`pack`
walks the orders in that order and keeps each one while the sum of the kept gas limits stays
within the block's gas limit; one that does not fit is left out, and so is every later order of
its sender (their nonces would follow a transaction that is not there). The walk goes on after a
left-out order: a smaller one further down may still fit, as a block builder would take it.

This is stricter than anvil, which counts the gas the block has *used* so far plus the next
transaction's limit: everything kept here fits there too, so a block never leaves a sent
transaction pending (:meth:`sim.chain.anvil.AnvilBackend.mine` raises if it did).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from sim.chain import Order
from sim.chain.txpool import check_bids_do_not_rise, execution_order


class GasCapExceeded(ValueError):
    """A call carries more gas than one transaction may (the scenario's ``tx_gas_cap``): the
    action's gas limit or the scenario is wrong, not the market."""


@dataclass(frozen=True)
class Packed:
    """A block's orders split in two, each in the order given: ``included`` (to send) and
    ``left_out`` (not sent in this block, which was full; the session keeps them in its mempool for the next). ``gas`` is the sum of the included gas limits."""

    included: list[Order]
    left_out: list[Order]
    gas: int


def check_tx_gas(orders: Sequence[Order], tx_gas_cap: int) -> None:
    """Raise :class:`GasCapExceeded` naming the first call whose gas limit is above ``tx_gas_cap``."""
    for sender, call, _ in orders:
        if call.gas > tx_gas_cap:
            what = f"{call.contract}.{call.action}" if call.contract else call.action
            raise GasCapExceeded(
                f"{what} from {sender} carries a gas limit of {call.gas:,}, above the per-transaction cap "
                f"tx_gas_cap = {tx_gas_cap:,}: lower the action's limit (sim/protocol/gas.py) or raise the scenario's tx_gas_cap"
            )


def pack(orders: Sequence[Order], block_gas_limit: int, tx_gas_cap: int) -> Packed:
    """The orders that fit a block of ``block_gas_limit`` gas, chosen in the node's order (see the
    module docstring); every call must carry at most ``tx_gas_cap`` gas (:func:`check_tx_gas`) and
    no sender's bids may rise along its orders
    (:func:`~sim.chain.txpool.check_bids_do_not_rise`)."""
    check_tx_gas(orders, tx_gas_cap)
    check_bids_do_not_rise(orders)
    gas = 0

    def fits(index: int) -> bool:
        nonlocal gas
        limit = orders[index][1].gas
        if gas + limit > block_gas_limit:
            return False
        gas += limit
        return True

    kept = set(execution_order(orders, fits))
    included = [order for index, order in enumerate(orders) if index in kept]
    left_out = [order for index, order in enumerate(orders) if index not in kept]
    return Packed(included, left_out, gas)
