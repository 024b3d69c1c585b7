"""The compiled contracts the simulator deploys: name, codec and creation code of each."""

from __future__ import annotations

from dataclasses import dataclass

from sim.chain.abi import Codec, constructor_types

CONTRACTS = (
    "SimToken",
    "ConstantProductPool",
    "MockAggregator",
    "PoolSpotAggregator",
    "PoolTwapAggregator",
    "LstIndexAggregator",
    "LendingPool",
    "PerpExchange",
    "RiskLens",
    "StateLens",
)


@dataclass(frozen=True)
class Artifact:
    name: str
    codec: Codec
    bytecode: str
    constructor_types: tuple[str, ...]


def load_artifacts() -> dict[str, Artifact]:
    """Compiled contracts from the Ape project (compiling them if needed)."""
    from ape import project  # lazy: importing ape takes seconds

    artifacts = {}
    for name in CONTRACTS:
        contract_type = getattr(project, name).contract_type
        abi = [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in contract_type.abi]
        bytecode = contract_type.deployment_bytecode.bytecode
        artifacts[name] = Artifact(name, Codec(name, abi), bytecode, constructor_types(abi))
    return artifacts
