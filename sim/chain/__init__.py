"""The chain layer: the backend seam and its two implementations (an anvil node, an in-process
revm), the ABI codec, the node launcher, and the journal/replay of state-changing requests.

Imports nothing from the layers above it (protocol, agents, record, report, model)."""

from sim.chain.anvil import AnvilBackend
from sim.chain.backend import (
    DEFAULT_TX_GAS,
    GWEI,
    Backend,
    Call,
    MinedBlock,
    Order,
    RpcError,
    SentTx,
    create_address,
)
from sim.chain.revm import RevmBackend

__all__ = [
    "AnvilBackend",
    "Backend",
    "Call",
    "DEFAULT_TX_GAS",
    "GWEI",
    "MinedBlock",
    "Order",
    "RevmBackend",
    "RpcError",
    "SentTx",
    "create_address",
]
