"""The protocol layer: the compiled contracts, their deployment, the one place calls are encoded
(:class:`Protocol`), the batched reads that build a :class:`Snapshot`, and
:class:`ProtocolSession`, the door through which the model reaches the chain.

Imports the chain layer and the scenario; nothing from agents, record, report or model."""

from sim.chain import Call, MinedBlock, Order, SentTx
from sim.protocol.artifacts import CONTRACTS, Artifact, load_artifacts
from sim.protocol.blockspace import GasCapExceeded, Packed, pack
from sim.protocol.calls import MarketInfo, PoolInfo, Protocol, Token
from sim.protocol.deploy import SetupError
from sim.protocol.gas import gas_limit, perp_liquidation_gas
from sim.protocol.session import (
    BACKENDS,
    DEFAULT_NETWORK,
    LONG_RUN_BLOCKS,
    BackendError,
    ProtocolSession,
    choose_backend,
    network_problem,
    open_session,
    scenario_network_problem,
)
from sim.protocol.state import MarketSnap, PerpPos, ReserveSnap, Snapshot, lp_symbol

__all__ = [
    "Artifact",
    "BACKENDS",
    "BackendError",
    "CONTRACTS",
    "Call",
    "DEFAULT_NETWORK",
    "GasCapExceeded",
    "LONG_RUN_BLOCKS",
    "MarketInfo",
    "MarketSnap",
    "MinedBlock",
    "Packed",
    "Order",
    "PerpPos",
    "PoolInfo",
    "Protocol",
    "ProtocolSession",
    "ReserveSnap",
    "SentTx",
    "SetupError",
    "Snapshot",
    "Token",
    "choose_backend",
    "gas_limit",
    "load_artifacts",
    "lp_symbol",
    "network_problem",
    "open_session",
    "pack",
    "scenario_network_problem",
    "perp_liquidation_gas",
]
