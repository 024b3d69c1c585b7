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
_AAVE = "@aave/core-v3/artifacts/contracts"

NPM_CONTRACTS: dict[str, str] = {
    # name in Protocol.codecs: artifact path under node_modules
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
    "AavePool": f"{_AAVE}/protocol/pool/Pool.sol/Pool.json",
    "PoolAddressesProvider": f"{_AAVE}/protocol/configuration/PoolAddressesProvider.sol/PoolAddressesProvider.json",
    "ACLManager": f"{_AAVE}/protocol/configuration/ACLManager.sol/ACLManager.json",
    "PoolConfigurator": f"{_AAVE}/protocol/pool/PoolConfigurator.sol/PoolConfigurator.json",
    "AaveOracle": f"{_AAVE}/misc/AaveOracle.sol/AaveOracle.json",
    "AaveProtocolDataProvider": f"{_AAVE}/misc/AaveProtocolDataProvider.sol/AaveProtocolDataProvider.json",
    "AToken": f"{_AAVE}/protocol/tokenization/AToken.sol/AToken.json",
    "VariableDebtToken": f"{_AAVE}/protocol/tokenization/VariableDebtToken.sol/VariableDebtToken.json",
    "StableDebtToken": f"{_AAVE}/protocol/tokenization/StableDebtToken.sol/StableDebtToken.json",
    "DefaultReserveInterestRateStrategy": f"{_AAVE}/protocol/pool/DefaultReserveInterestRateStrategy.sol/DefaultReserveInterestRateStrategy.json",
}


class NpmArtifactMissing(FileNotFoundError):
    """An npm package the fork experiments need is not installed (run ``make setup``)."""


def npm_artifact(name: str) -> dict[str, Any]:
    """The artifact JSON of ``name`` (a key of ``NPM_CONTRACTS``)."""
    path = NODE_MODULES / NPM_CONTRACTS[name]
    if not path.is_file():
        raise NpmArtifactMissing(f"{path} is missing: run `make setup` (it installs the npm packages in package.json)")
    return json.loads(path.read_text())


@lru_cache(maxsize=None)
def npm_codec(name: str) -> Codec:
    """The codec of ``name``'s ABI (a key of ``NPM_CONTRACTS``)."""
    return Codec(name, npm_artifact(name)["abi"])


def npm_codecs(names: tuple[str, ...] = tuple(NPM_CONTRACTS)) -> dict[str, Codec]:
    return {name: npm_codec(name) for name in names}
