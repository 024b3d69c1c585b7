"""The ABIs of the real protocols a run can drive on a forked chain, from their npm packages.

Uniswap V2 (``@uniswap/v2-core`` 1.0.1, ``@uniswap/v2-periphery``) and Aave V3 (``@aave/core-v3``
1.19.3, which is Aave v3.0.2) ship their compiled contracts on npm; ``tools/setup.sh`` installs
them into ``node_modules``. Aave's core is BUSL-1.1: the project uses these artifacts only as fork
and test targets and copies none of their source.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from sim.chain.abi import Codec

NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"

# name -> path under node_modules of a waffle build file (Uniswap's format: abi, bytecode)
UNISWAP = {
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
}

AAVE_ARTIFACTS = "@aave/core-v3/artifacts/contracts"
# name -> Hardhat artifact under AAVE_ARTIFACTS, without ".json" (abi, bytecode, linkReferences)
AAVE = {
    "AavePool": "protocol/pool/Pool.sol/Pool",
    "PoolAddressesProvider": "protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider",
    "ACLManager": "protocol/configuration/ACLManager.sol/ACLManager",
    "PoolConfigurator": "protocol/pool/PoolConfigurator.sol/PoolConfigurator",
    "AaveOracle": "misc/AaveOracle.sol/AaveOracle",
    "AaveProtocolDataProvider": "misc/AaveProtocolDataProvider.sol/AaveProtocolDataProvider",
    "AToken": "protocol/tokenization/AToken.sol/AToken",
    "VariableDebtToken": "protocol/tokenization/VariableDebtToken.sol/VariableDebtToken",
    "StableDebtToken": "protocol/tokenization/StableDebtToken.sol/StableDebtToken",
    "DefaultReserveInterestRateStrategy":
        "protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy",
}

NPM_CONTRACTS: dict[str, str] = {**UNISWAP, **{name: f"{AAVE_ARTIFACTS}/{path}.json" for name, path in AAVE.items()}}
"""Every npm contract a run may call, by its name in ``Protocol.codecs``: path under node_modules."""


class NpmArtifactMissing(FileNotFoundError):
    """An npm package the fork experiments need is not installed (run ``make setup``)."""


def read_artifact(path: Path) -> dict[str, Any]:
    """An npm artifact's JSON; :class:`NpmArtifactMissing` when its package is not installed."""
    if not path.is_file():
        raise NpmArtifactMissing(f"{path} is missing: run `make setup` (it installs the npm packages in package.json)")
    return json.loads(path.read_text())


def npm_artifact(name: str) -> dict[str, Any]:
    """The artifact JSON of ``name`` (a key of ``NPM_CONTRACTS``)."""
    return read_artifact(NODE_MODULES / NPM_CONTRACTS[name])


@lru_cache(maxsize=None)
def npm_codec(name: str) -> Codec:
    """The codec of ``name``'s ABI (a key of ``NPM_CONTRACTS``)."""
    return Codec(name, npm_artifact(name)["abi"])


def npm_codecs(names: tuple[str, ...] = tuple(NPM_CONTRACTS)) -> dict[str, Codec]:
    return {name: npm_codec(name) for name in names}
