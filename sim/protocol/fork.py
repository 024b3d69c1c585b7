"""Venues that already live on the chain a run forks: checked, and resolved from their addresses.

A scenario names existing tokens (``assets.X.address``), Uniswap V2 pairs and routers
(``pools[i].pair``/``router``) and an Aave V3 Pool (``lending.pool``). Before the run deploys
anything, :func:`resolve_fork_venues` asks the chain whether each address is what the scenario
says it is and raises :class:`ForkVenueError` naming every field that is not: no code there, a
pool that is not a V2 pair of the asset and the stablecoin, an Aave reserve not listed, or risk
parameters that differ from the scenario's. From the Pool it reads the rest of the Aave market
(addresses provider, oracle, ACL manager and admin, each reserve's aToken and debt token).
"""

from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from sim.chain import Backend, RpcError
from sim.chain.abi import Codec
from sim.protocol.calls import AaveReserve, AaveV3Info
from sim.protocol.deploy import SetupError
from sim.scenario import Scenario

ZERO_ADDRESS = "0x" + "00" * 20


class ForkVenueError(SetupError):
    """Scenario addresses that are not what the scenario says; ``problems`` are ``(field path,
    message)`` pairs. Raised before the run deploys or writes anything."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        lines = "\n  ".join(f"{path}: {message}" for path, message in problems)
        super().__init__(f"the scenario's venues on the forked chain:\n  {lines}")


# Aave V3's ReserveConfigurationMap bit layout: (first bit, width) of each field the scenario sets.
AAVE_CONFIGURATION_BITS = {
    "ltv_bps": (0, 16),
    "liquidation_threshold_bps": (16, 16),
    "liquidation_bonus_bps": (32, 16),
    "decimals": (48, 8),
    "active": (56, 1),
    "frozen": (57, 1),
    "borrowing_enabled": (58, 1),
    "paused": (60, 1),
    "liquidation_protocol_fee_bps": (152, 16),
}


def aave_configuration(data: int) -> dict[str, int]:
    """The fields of an Aave V3 reserve configuration bitmap (``getConfiguration(asset).data``)."""
    return {name: (data >> first) & ((1 << width) - 1) for name, (first, width) in AAVE_CONFIGURATION_BITS.items()}


class _Reader:
    """Static calls against the forked chain, collecting problems instead of raising."""

    def __init__(self, backend: Backend, codecs: dict[str, Codec]):
        self.backend = backend
        self.codecs = codecs
        self.problems: list[tuple[str, str]] = []

    def has_code(self, path: str, address: str, what: str) -> bool:
        code = self.backend.code_at(address)
        if code in ("", "0x"):
            self.problems.append((path, f"no contract at {address} on the forked chain (expected {what}; is --network a fork of the chain it lives on?)"))
            return False
        return True

    def read(self, contract: str, to: str, fn: str, *args: Any) -> Any:
        """The decoded output, or None when the call reverts or returns nothing decodable."""
        codec = self.codecs[contract]
        raw = self.backend.call_many([(to, codec.encode_call(fn, *args))])[0]
        if isinstance(raw, RpcError) or raw in ("0x", ""):
            return None
        try:
            return codec.decode_output(fn, raw)
        except Exception:  # noqa: BLE001 - a contract of another kind answers garbage
            return None


def resolve_fork_venues(backend: Backend, codecs: dict[str, Codec], scenario: Scenario) -> AaveV3Info | None:
    """Check every address the scenario names on the chain; the Aave market when lending is
    ``aave_v3``. Raises :class:`ForkVenueError` listing every problem found."""
    reader = _Reader(backend, codecs)
    _check_tokens(reader, scenario)
    _check_pairs(reader, scenario)
    aave = _resolve_aave(reader, scenario) if scenario.lending.kind == "aave_v3" else None
    if reader.problems:
        raise ForkVenueError(reader.problems)
    return aave


def _check_tokens(reader: _Reader, s: Scenario) -> None:
    for symbol, asset in s.assets.items():
        path = f"assets.{symbol}.address"
        if asset.address is None or not reader.has_code(path, asset.address, f"the {symbol} token"):
            continue
        decimals = reader.read("SimToken", asset.address, "decimals")
        if decimals is None:
            reader.problems.append((path, f"{asset.address} is not an ERC-20 token (no decimals())"))
        elif decimals[0] != asset.decimals:
            reader.problems.append((f"assets.{symbol}.decimals", f"the token at {asset.address} has {decimals[0]} decimals, "
                                    f"the scenario says {asset.decimals}"))


def _check_pairs(reader: _Reader, s: Scenario) -> None:
    for i, pool in enumerate(s.pools):
        if pool.kind != "uniswap_v2":
            continue
        path = f"pools[{i}]"
        pair_ok = reader.has_code(f"{path}.pair", pool.pair, "a Uniswap V2 pair")
        router_ok = reader.has_code(f"{path}.router", pool.router, "a Uniswap V2 router")
        if not pair_ok:
            continue
        token0 = reader.read("UniswapV2Pair", pool.pair, "token0")
        token1 = reader.read("UniswapV2Pair", pool.pair, "token1")
        reserves = reader.read("UniswapV2Pair", pool.pair, "getReserves")
        factory = reader.read("UniswapV2Pair", pool.pair, "factory")
        if None in (token0, token1, reserves, factory):
            reader.problems.append((f"{path}.pair", f"{pool.pair} is not a Uniswap V2 pair (no token0/token1/getReserves/factory)"))
            continue
        expected = {s.assets[pool.asset].address, s.assets[s.stablecoin].address}
        held = {token0[0], token1[0]}
        if None not in expected and {a.lower() for a in held} != {a.lower() for a in expected}:
            reader.problems.append((f"{path}.pair", f"the pair at {pool.pair} trades {sorted(held)}, not {pool.asset} and "
                                    f"{s.stablecoin} ({sorted(expected)})"))
        if router_ok:
            router_factory = reader.read("UniswapV2Router02", pool.router, "factory")
            router_weth = reader.read("UniswapV2Router02", pool.router, "WETH")
            if router_factory is None or router_weth is None:
                reader.problems.append((f"{path}.router", f"{pool.router} is not a Uniswap V2 router (no factory() and WETH())"))
            elif router_factory[0].lower() != factory[0].lower():
                reader.problems.append((f"{path}.router", f"the router's factory {router_factory[0]} is not the pair's "
                                        f"({factory[0]}): it would route through another pair"))


def _resolve_aave(reader: _Reader, s: Scenario) -> AaveV3Info | None:
    pool = s.lending.pool
    if not reader.has_code("lending.pool", pool, "an Aave V3 Pool"):
        return None
    provider = reader.read("AavePool", pool, "ADDRESSES_PROVIDER")
    if provider is None:
        reader.problems.append(("lending.pool", f"{pool} is not an Aave V3 Pool (no ADDRESSES_PROVIDER())"))
        return None
    provider = provider[0]
    oracle, acl_manager, acl_admin = (reader.read("PoolAddressesProvider", provider, fn) for fn in
                                      ("getPriceOracle", "getACLManager", "getACLAdmin"))
    if None in (oracle, acl_manager, acl_admin):
        reader.problems.append(("lending.pool", f"the addresses provider {provider} of {pool} answers no oracle or ACL manager"))
        return None
    reserves = {}
    for i, reserve in enumerate(s.lending.reserves):
        listed = _aave_reserve(reader, s, i, pool)
        if listed is not None:
            reserves[reserve.asset] = listed
    # the on-chain thresholds equal the scenario's once the checks pass
    collateral = frozenset(r.asset for r in s.lending.reserves if r.liquidation_threshold_bps > 0)
    return AaveV3Info(pool=to_checksum_address(pool), addresses_provider=to_checksum_address(provider),
                      oracle=to_checksum_address(oracle[0]), acl_manager=to_checksum_address(acl_manager[0]),
                      acl_admin=to_checksum_address(acl_admin[0]), reserves=reserves, collateral=collateral)


def _aave_reserve(reader: _Reader, s: Scenario, i: int, pool: str) -> AaveReserve | None:
    """One scenario reserve on the Aave pool: listed, active, with the scenario's risk parameters."""
    reserve = s.lending.reserves[i]
    path = f"lending.reserves[{i}]"
    token = s.assets[reserve.asset].address
    data = reader.read("AavePool", pool, "getReserveData", token)
    if data is None or data[0].aTokenAddress == ZERO_ADDRESS:
        reader.problems.append((f"{path}.asset", f"{reserve.asset} ({token}) is not a reserve of the Aave pool {pool}"))
        return None
    config = aave_configuration(data[0].configuration.data)
    for flag, wanted_value, state in (("active", 1, "not active"), ("frozen", 0, "frozen"), ("paused", 0, "paused")):
        if config[flag] != wanted_value:
            reader.problems.append((f"{path}.asset", f"the Aave reserve of {reserve.asset} is {state}: nobody can supply or borrow it"))
    wanted = {"ltv_bps": reserve.ltv_bps, "liquidation_threshold_bps": reserve.liquidation_threshold_bps,
              "liquidation_bonus_bps": reserve.liquidation_bonus_bps, "borrowing_enabled": int(reserve.borrowing_enabled),
              "liquidation_protocol_fee_bps": reserve.liquidation_protocol_fee_bps}
    if reserve.liquidation_threshold_bps == 0:
        del wanted["liquidation_bonus_bps"]  # Aave stores 0 for a reserve that is not collateral
    for name, value in wanted.items():
        if config[name] != value:
            reader.problems.append((f"{path}.{name}", f"the Aave reserve of {reserve.asset} has {config[name]} on chain, "
                                    f"the scenario says {value}"))
    return AaveReserve(a_token=to_checksum_address(data[0].aTokenAddress),
                       variable_debt_token=to_checksum_address(data[0].variableDebtTokenAddress))
