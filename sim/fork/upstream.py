"""An "upstream chain": a fresh anvil chain with the REAL Uniswap V2 and Aave V3 bytecode, built
from a scenario, that plays mainnet for fork experiments.

:func:`build_upstream` deploys, from a fixed deployer (so the same scenario gives the same
addresses on any fresh chain), by raw batched transactions through an :class:`AnvilBackend`:

1. one of our ``SimToken`` and one ``MockAggregator`` (8 decimals, at the asset's start price)
   per scenario asset; WETH9, ``UniswapV2Factory`` and ``UniswapV2Router02``; one pair per
   scenario pool (``factory.createPair(asset, stablecoin)``), seeded with ``depth_usd`` per side
   at the start price (minted to the deployer, sent to the pair, ``pair.mint``);
2. Aave V3's external libraries, ``PoolAddressesProvider``, the ACL (``setACLAdmin`` *before*
   the ``ACLManager`` is created: its constructor reads the admin), the Pool and
   PoolConfigurator implementations registered with ``setPoolImpl`` /
   ``setPoolConfiguratorImpl`` (the provider creates and initializes the proxies; the
   configurator's ``initialize`` reads the Pool from the provider, so the Pool goes first),
   ``AaveOracle`` over the MockAggregators (USD base: ``address(0)``, unit 1e8) and
   ``AaveProtocolDataProvider``;
3. the AToken / VariableDebtToken / StableDebtToken implementations (created for the Pool
   *proxy*, and initialized as placeholders as Aave's own deploy scripts do), one
   ``DefaultReserveInterestRateStrategy`` per reserve, ``initReserves``, then per reserve its
   collateral parameters, borrowing, liquidation protocol fee, reserve factor 0 and caps.

Every block is checked; a revert names its step, with Aave's numeric error string translated
(``Error('20') = INVALID_RESERVE_PARAMS``). The result is an :class:`Upstream`, written as the
manifest ``upstream.json``; the chain itself is saved with :func:`dump_state` and served again
with ``anvil --load-state`` (:func:`anvil_node`).

``python -m sim.fork.upstream --scenario FILE --out DIR [--serve]`` does all of it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import requests
from eth_utils import keccak, to_checksum_address

from sim.chain import GWEI, AnvilBackend, Call, MinedBlock, RpcError
from sim.chain.abi import Codec
from sim.chain.node import free_port
from sim.files import OutputDirError, check_output_dir, output_lock, replace_directory, staging_dir, write_atomic
from sim.fork.npm_artifacts import AAVE_LIBRARIES, NpmArtifact, aave_error_names
from sim.protocol.artifacts import Artifact
from sim.protocol.deploy import DEPLOY_GAS, SetupError, _Creations, check_block
from sim.scenario import Scenario, ScenarioError, load_scenario
from sim.units import BPS, RAY, USD_DECIMALS, to_units, to_usd_price, units_for_usd

UPSTREAM_CHAIN_ID = 1
MARKET_ID = "defi-cascade-sim upstream"
ZERO_ADDRESS = "0x" + "00" * 20
SETUP_GAS = DEPLOY_GAS  # every set-up transaction's limit: the set-up blocks are not limited
SETUP_LEAD_S = 3_600  # the set-up blocks end this long before the scenario's start
SETUP_BLOCK_S = 12
MAINNET_BLOCK_GAS_LIMIT = 30_000_000  # what the chain is left with for whoever drives it next
AAVE_BASE_CURRENCY_UNIT = 10**USD_DECIMALS  # AaveOracle's USD base: 1e8, as Chainlink's USD feeds
MANIFEST_NAME = "upstream.json"
STATE_NAME = "upstream-state.json"
OUTPUT_NAMES = frozenset({MANIFEST_NAME, STATE_NAME})
ANVIL_START_TIMEOUT_S = 30.0


def fixed_address(label: str) -> str:
    """A deterministic address (no key exists for it; the node impersonates it)."""
    return to_checksum_address(keccak(text=f"defi-cascade-sim:{label}")[12:])


UPSTREAM_DEPLOYER = fixed_address("upstream-deployer")
UPSTREAM_TREASURY = fixed_address("upstream-treasury")


# ---------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class AaveReserveTokens:
    a_token: str
    variable_debt_token: str
    stable_debt_token: str


@dataclass(frozen=True)
class UniswapV2:
    factory: str
    router: str
    weth: str
    pairs: dict[str, str] = field(default_factory=dict)  # asset symbol -> pair with the stablecoin


@dataclass(frozen=True)
class AaveV3:
    addresses_provider: str
    pool: str  # the proxy
    pool_configurator: str  # the proxy
    acl_manager: str
    oracle: str
    data_provider: str
    treasury: str
    reserves: dict[str, AaveReserveTokens] = field(default_factory=dict)


@dataclass(frozen=True)
class Upstream:
    """What lives on the upstream chain, as written to ``upstream.json`` (addresses checksummed)."""

    chain_id: int
    deployer: str
    tokens: dict[str, str]
    feeds: dict[str, str]
    uniswap_v2: UniswapV2
    aave_v3: AaveV3

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> "Upstream":
        """An :class:`Upstream` from the manifest's text (or its parsed dict); addresses checksummed."""
        raw = json.loads(data) if isinstance(data, (str, bytes)) else data
        cs = to_checksum_address
        uni, aave = raw["uniswap_v2"], raw["aave_v3"]
        return cls(
            chain_id=int(raw["chain_id"]),
            deployer=cs(raw["deployer"]),
            tokens={s: cs(a) for s, a in raw["tokens"].items()},
            feeds={s: cs(a) for s, a in raw["feeds"].items()},
            uniswap_v2=UniswapV2(cs(uni["factory"]), cs(uni["router"]), cs(uni["weth"]),
                                 {s: cs(a) for s, a in uni["pairs"].items()}),
            aave_v3=AaveV3(
                **{k: cs(aave[k]) for k in ("addresses_provider", "pool", "pool_configurator", "acl_manager", "oracle",
                                            "data_provider", "treasury")},
                reserves={s: AaveReserveTokens(*(cs(r[k]) for k in ("a_token", "variable_debt_token", "stable_debt_token")))
                          for s, r in aave["reserves"].items()},
            ),
        )

    def save(self, path: Path) -> None:
        write_atomic(Path(path), self.to_json().encode())

    @classmethod
    def load(cls, path: Path) -> "Upstream":
        return cls.from_json(Path(path).read_text())


# ---------------------------------------------------------------- artifacts


def upstream_artifacts() -> dict[str, Artifact]:
    """Our compiled contracts (through Ape; compiles if needed) and the npm ones, by name."""
    from sim.fork.npm_artifacts import load_npm_artifacts
    from sim.protocol.artifacts import load_artifacts

    return {**load_artifacts(), **load_npm_artifacts()}


def _linked(artifacts: Mapping[str, Artifact], name: str, libraries: Mapping[str, str]) -> Artifact:
    artifact = artifacts[name]
    return artifact.link(libraries) if isinstance(artifact, NpmArtifact) and artifact.links else artifact


# ---------------------------------------------------------------- building


def aave_error(reason: str) -> str:
    """``reason`` with each of Aave's numeric revert strings named: ``Error('20')`` ->
    ``Error('20' = INVALID_RESERVE_PARAMS)``."""
    names = aave_error_names()
    return re.sub(r"Error\('(\d+)'\)", lambda m: f"Error('{m.group(1)}' = {names.get(m.group(1), 'unknown Aave error')})", reason)


def pair_address(factory: str, token_a: str, token_b: str, pair_init_code: str) -> str:
    """The UniswapV2Pair that ``factory.createPair(token_a, token_b)`` creates (CREATE2: the salt
    is keccak(token0, token1) of the sorted tokens, the init code the pair's creation code)."""
    token0, token1 = sorted((token_a, token_b), key=lambda a: int(a, 16))
    salt = keccak(bytes.fromhex(token0[2:]) + bytes.fromhex(token1[2:]))
    code = bytes.fromhex(pair_init_code[2:] if pair_init_code.startswith("0x") else pair_init_code)
    return to_checksum_address(keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + keccak(code))[12:])


def rate_to_ray(bps_per_year: int) -> int:
    """A yearly rate in basis points as Aave's RAY (1e27 = 100%)."""
    return bps_per_year * (RAY // BPS)


class Driver:
    """Transactions and reads on a chain behind an :class:`AnvilBackend`, by contract name: each
    block mined at the next timestamp (``SETUP_BLOCK_S`` apart, after the chain's head by
    default) and checked, a revert raising :class:`SetupError` that names the step, with Aave's
    numeric errors named."""

    def __init__(self, backend: AnvilBackend, codecs: Mapping[str, Codec], timestamp_s: int | None = None):
        self.backend = backend
        self.codecs = dict(codecs)
        self.timestamp_s = backend.head()[1] + SETUP_BLOCK_S if timestamp_s is None else timestamp_s

    def call(self, contract: str, to: str, fn: str, *args: Any, gas: int = SETUP_GAS, value: int = 0) -> Call:
        data = self.codecs[contract].encode_call(fn, *args)
        return Call(to=to, data=data, action=f"{contract}.{fn}", args=args, gas=gas, value=value, contract=contract)

    def mine(self, stage: str, orders: Sequence[tuple[str, Call]]) -> MinedBlock:
        """One block of ``(sender, call)``, executed in the order given."""
        block = self.backend.execute([(sender, call, GWEI) for sender, call in orders], self.timestamp_s)
        self.timestamp_s = block.timestamp_s + SETUP_BLOCK_S
        try:
            check_block(self.backend, block, stage, self.codecs.values())
        except SetupError as err:
            raise SetupError(aave_error(str(err))) from None
        return block

    def read(self, contract: str, to: str, fn: str, *args: Any) -> tuple[Any, ...]:
        return read(self.backend, self.codecs[contract], to, fn, *args)


class _SetupBlocks:
    """The deployer's set-up transactions: creations with addresses known up front
    (:class:`_Creations`) and calls, in one nonce sequence, mined block by block by a :class:`Driver`."""

    def __init__(self, driver: Driver, artifacts: Mapping[str, Artifact], deployer: str):
        self.driver = driver
        self.artifacts = dict(artifacts)
        self.deployer = deployer
        self.creations = _Creations(self.artifacts, deployer, driver.backend.nonce_of(deployer))
        self._sent = 0

    def create(self, name: str, *args: Any, artifact: Artifact | None = None) -> str:
        if artifact is not None:
            self.artifacts[name] = artifact  # the linked one
        return to_checksum_address(self.creations.create(name, *args))

    def call(self, contract: str, to: str, fn: str, *args: Any) -> None:
        self.creations.call(self.driver.call(contract, to, fn, *args))

    def mine(self, stage: str) -> None:
        calls = self.creations.calls[self._sent :]
        self._sent = len(self.creations.calls)
        self.driver.mine(stage, [(self.deployer, c) for c in calls])

    def read(self, contract: str, to: str, fn: str, *args: Any) -> tuple[Any, ...]:
        return self.driver.read(contract, to, fn, *args)


def read(backend: AnvilBackend, codec: Codec, to: str, fn: str, *args: Any) -> tuple[Any, ...]:
    """One static call, decoded; :class:`RpcError` (with Aave's error named) when it reverts."""
    (result,) = backend.call_many([(to, codec.encode_call(fn, *args))])
    if isinstance(result, RpcError):
        raise RpcError(f"{codec.name}.{fn}", aave_error(str(result.error)))
    return codec.decode_output(fn, result)


def build_upstream(
    backend: AnvilBackend,
    artifacts: Mapping[str, Artifact],
    scenario: Scenario,
    *,
    deployer: str = UPSTREAM_DEPLOYER,
    treasury: str = UPSTREAM_TREASURY,
    timestamp_s: int | None = None,
) -> Upstream:
    """Deploy the scenario's tokens, feeds, Uniswap V2 pairs and Aave V3 market on the chain
    behind ``backend`` (a fresh one gives the same addresses every time).

    ``artifacts``: ``SimToken`` and ``MockAggregator`` (ours) and the npm contracts
    (:func:`~sim.fork.npm_artifacts.load_npm_artifacts`; linked here); :func:`upstream_artifacts`
    gives both. The set-up blocks are mined from ``timestamp_s`` on (default: an hour before the
    scenario's start, or just after the chain's head if that is later). The backend is left in
    control (automine off); :func:`release_control` hands the node back."""
    backend.take_control()
    backend.fund_gas([deployer, treasury])
    _, head_s = backend.head()
    start_s = scenario.start_timestamp_s - SETUP_LEAD_S if timestamp_s is None else timestamp_s
    codecs = {name: a.codec for name, a in artifacts.items()}
    driver = Driver(backend, codecs, max(start_s, head_s + 1))
    setup = _SetupBlocks(driver, artifacts, to_checksum_address(deployer))
    deployer = setup.deployer
    tokens, feeds, uniswap = _deploy_tokens_and_uniswap(setup, scenario)
    aave = _deploy_aave(setup, scenario, tokens, feeds, to_checksum_address(treasury))
    return Upstream(UPSTREAM_CHAIN_ID, deployer, tokens, feeds, uniswap, aave)


def _deploy_tokens_and_uniswap(setup: _SetupBlocks, scenario: Scenario) -> tuple[dict[str, str], dict[str, str], UniswapV2]:
    deployer = setup.deployer
    tokens = {s: setup.create("SimToken", f"{s} (sim)", s, a.decimals) for s, a in scenario.assets.items()}
    prices = {s: max(to_usd_price(a.price_usd), 1) for s, a in scenario.assets.items()}  # as sim.scenario.prices
    feeds = {s: setup.create("MockAggregator", USD_DECIMALS, f"{s} / USD", prices[s]) for s in scenario.assets}
    weth = setup.create("WETH9")
    factory = setup.create("UniswapV2Factory", deployer)  # feeToSetter: no protocol fee is ever switched on
    router = setup.create("UniswapV2Router02", factory, weth)
    stable = scenario.stablecoin
    stable_decimals = scenario.assets[stable].decimals
    pairs = {}
    for pool in scenario.pools:
        asset = pool.asset
        pair = pair_address(factory, tokens[asset], tokens[stable], setup.artifacts["UniswapV2Pair"].bytecode)
        depth8 = to_units(pool.depth_usd, USD_DECIMALS, "floor")
        amounts = {
            asset: units_for_usd(depth8, scenario.assets[asset].decimals, prices[asset]),
            stable: units_for_usd(depth8, stable_decimals, prices[stable]),
        }
        setup.call("UniswapV2Factory", factory, "createPair", tokens[asset], tokens[stable])
        for symbol, amount in amounts.items():
            setup.call("SimToken", tokens[symbol], "mint", deployer, amount)
            setup.call("SimToken", tokens[symbol], "transfer", pair, amount)
        setup.call("UniswapV2Pair", pair, "mint", deployer)
        pairs[asset] = pair
    setup.mine("deploying tokens, price feeds and Uniswap V2")
    for asset, pair in pairs.items():
        (created,) = setup.read("UniswapV2Factory", factory, "getPair", tokens[asset], tokens[stable])
        if to_checksum_address(created) != pair:
            raise SetupError(f"the {asset}/{stable} pair is at {created}, not at {pair} (a pair init code other than the factory's?)")
    return tokens, feeds, UniswapV2(factory, router, weth, pairs)


def _deploy_aave(
    setup: _SetupBlocks, scenario: Scenario, tokens: dict[str, str], feeds: dict[str, str], treasury: str
) -> AaveV3:
    deployer = setup.deployer
    libraries: dict[str, str] = {}
    for name in AAVE_LIBRARIES:  # each after those it links (FlashLoanLogic -> BorrowLogic)
        libraries[name] = setup.create(name, artifact=_linked(setup.artifacts, name, libraries))
    provider = setup.create("PoolAddressesProvider", MARKET_ID, deployer)
    setup.call("PoolAddressesProvider", provider, "setACLAdmin", deployer)  # the ACLManager's constructor reads it
    acl = setup.create("ACLManager", provider)
    setup.call("PoolAddressesProvider", provider, "setACLManager", acl)
    setup.call("ACLManager", acl, "addPoolAdmin", deployer)
    setup.call("ACLManager", acl, "addEmergencyAdmin", deployer)
    pool_impl = setup.create("AavePool", provider, artifact=_linked(setup.artifacts, "AavePool", libraries))
    setup.call("PoolAddressesProvider", provider, "setPoolImpl", pool_impl)  # creates and initializes the proxy
    configurator_impl = setup.create("PoolConfigurator", artifact=_linked(setup.artifacts, "PoolConfigurator", libraries))
    setup.call("PoolAddressesProvider", provider, "setPoolConfiguratorImpl", configurator_impl)  # reads getPool()
    symbols = list(scenario.assets)
    oracle = setup.create("AaveOracle", provider, [tokens[s] for s in symbols], [feeds[s] for s in symbols],
                          ZERO_ADDRESS, ZERO_ADDRESS, AAVE_BASE_CURRENCY_UNIT)
    setup.call("PoolAddressesProvider", provider, "setPriceOracle", oracle)
    data_provider = setup.create("AaveProtocolDataProvider", provider)
    setup.call("PoolAddressesProvider", provider, "setPoolDataProvider", data_provider)
    setup.mine("deploying the Aave V3 libraries, addresses provider, ACL, pool, configurator and oracle")

    (pool,) = setup.read("PoolAddressesProvider", provider, "getPool")
    (configurator,) = setup.read("PoolAddressesProvider", provider, "getPoolConfigurator")
    pool, configurator = to_checksum_address(pool), to_checksum_address(configurator)
    _init_reserves(setup, scenario, tokens, provider, pool, configurator, treasury)
    setup.mine("listing and configuring the Aave V3 reserves")

    reserves = {}
    for reserve in scenario.lending.reserves:
        found = setup.read("AaveProtocolDataProvider", data_provider, "getReserveTokensAddresses", tokens[reserve.asset])
        a_token, stable_debt, variable_debt = (to_checksum_address(a) for a in found)
        reserves[reserve.asset] = AaveReserveTokens(a_token, variable_debt, stable_debt)
    return AaveV3(provider, pool, configurator, acl, oracle, data_provider, treasury, reserves)


def _init_reserves(
    setup: _SetupBlocks, scenario: Scenario, tokens: dict[str, str], provider: str, pool: str, configurator: str,
    treasury: str,
) -> None:
    """Token implementations, rate strategies, ``initReserves`` and each reserve's parameters."""
    a_token = setup.create("AToken", pool)
    variable_debt = setup.create("VariableDebtToken", pool)
    stable_debt = setup.create("StableDebtToken", pool)
    # Aave's deploy scripts initialize the implementations themselves with placeholders, so that
    # nobody else can; the reserves get proxies of them.
    setup.call("AToken", a_token, "initialize", pool, ZERO_ADDRESS, ZERO_ADDRESS, ZERO_ADDRESS, 0, "ATOKEN_IMPL", "ATOKEN_IMPL", b"")
    for name, impl in (("VariableDebtToken", variable_debt), ("StableDebtToken", stable_debt)):
        label = f"{name.replace('Token', '_TOKEN').upper()}_IMPL"
        setup.call(name, impl, "initialize", pool, ZERO_ADDRESS, ZERO_ADDRESS, 0, label, label, b"")
    inputs = []
    for reserve in scenario.lending.reserves:
        rates = reserve.interest
        strategy = setup.create(
            "DefaultReserveInterestRateStrategy", provider,
            rate_to_ray(rates.optimal_utilization_bps), rate_to_ray(rates.base_rate_bps),
            rate_to_ray(rates.slope1_bps), rate_to_ray(rates.slope2_bps),
            0, 0, 0, 0, 0,  # stable borrowing: slopes, base offset, excess offset, optimal ratio (never enabled)
        )
        symbol = reserve.asset
        inputs.append((
            a_token, stable_debt, variable_debt, scenario.assets[symbol].decimals, strategy, tokens[symbol], treasury,
            ZERO_ADDRESS, f"Aave Upstream {symbol}", f"a{symbol}", f"Aave Upstream Variable Debt {symbol}",
            f"variableDebt{symbol}", f"Aave Upstream Stable Debt {symbol}", f"stableDebt{symbol}", b"",
        ))
    setup.call("PoolConfigurator", configurator, "initReserves", inputs)
    for reserve in scenario.lending.reserves:
        asset = tokens[reserve.asset]
        lt = reserve.liquidation_threshold_bps
        # Aave: a reserve that is not collateral has threshold 0 and bonus 0 (a bonus of 100%, our
        # LendingPool's "none", is refused as INVALID_RESERVE_PARAMS); collateral needs a bonus > 100%.
        bonus = reserve.liquidation_bonus_bps if lt else 0
        setup.call("PoolConfigurator", configurator, "configureReserveAsCollateral", asset, reserve.ltv_bps, lt, bonus)
        setup.call("PoolConfigurator", configurator, "setReserveBorrowing", asset, reserve.borrowing_enabled)
        setup.call("PoolConfigurator", configurator, "setLiquidationProtocolFee", asset, reserve.liquidation_protocol_fee_bps)
        setup.call("PoolConfigurator", configurator, "setReserveFactor", asset, 0)
        if reserve.supply_cap:  # Aave's caps are whole tokens
            setup.call("PoolConfigurator", configurator, "setSupplyCap", asset, max(to_units(reserve.supply_cap, 0, "floor"), 1))
        if reserve.borrow_cap:
            setup.call("PoolConfigurator", configurator, "setBorrowCap", asset, max(to_units(reserve.borrow_cap, 0, "floor"), 1))


def release_control(backend: AnvilBackend, block_gas_limit: int = MAINNET_BLOCK_GAS_LIMIT) -> None:
    """Hand the node back as a plain chain: automine on, no sender impersonated, mainnet's block
    gas limit (what :meth:`AnvilBackend.take_control` checks and changes)."""
    backend.batch([
        ("evm_setBlockGasLimit", [hex(block_gas_limit)]),
        ("anvil_autoImpersonateAccount", [False]),
        ("evm_setAutomine", [True]),
    ])


# ---------------------------------------------------------------- the node


def anvil_binary() -> str:
    """The anvil on PATH (the venv's Python puts .tools/bin there) or the project's own."""
    found = shutil.which("anvil")
    if found:
        return found
    local = Path(__file__).resolve().parents[2] / ".tools" / "bin" / "anvil"
    if local.exists():
        return str(local)
    raise FileNotFoundError("no anvil on PATH nor at .tools/bin/anvil: run tools/setup.sh")


@contextmanager
def anvil_node(
    load_state: Path | None = None,
    *,
    port: int | None = None,
    chain_id: int = UPSTREAM_CHAIN_ID,
    extra_args: tuple[str, ...] = (),
    timeout_s: float = ANVIL_START_TIMEOUT_S,
) -> Iterator[str]:
    """Start ``anvil --chain-id 1 --port <free port>`` (loading ``load_state`` if given), wait until
    it answers, yield its URI; always stop it afterwards."""
    if load_state is not None and not Path(load_state).is_file():
        raise FileNotFoundError(f"no state file {load_state}")
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise OSError(f"port {port} is in use on 127.0.0.1: choose another --port, or none for a free one")
    uri = f"http://127.0.0.1:{port}"
    command = [anvil_binary(), "--chain-id", str(chain_id), "--port", str(port), "--host", "127.0.0.1", *extra_args]
    if load_state is not None:
        command += ["--load-state", str(load_state)]
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            _wait_until_answering(process, uri, log, timeout_s)
            yield uri
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def port_is_free(port: int) -> bool:
    """True when nothing listens on ``port`` of 127.0.0.1 (a node started there would be the one answering)."""
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_until_answering(process: subprocess.Popen, uri: str, log: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"anvil exited with {process.returncode}: {log.read().decode(errors='replace')[-2000:]}")
        try:
            if requests.post(uri, json=body, timeout=2).ok and process.poll() is None:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"anvil did not answer at {uri} within {timeout_s:.0f} s")
        time.sleep(0.05)


def dump_state(uri: str, path: Path) -> None:
    """The node's whole state (``anvil_dumpState``), as the JSON that ``anvil --load-state`` reads,
    written atomically (a temporary file renamed over ``path``)."""
    raw = bytes.fromhex(AnvilBackend(uri).request("anvil_dumpState")[2:])
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    write_atomic(Path(path), raw)


# ---------------------------------------------------------------- the command line


def build_to_dir(scenario: Scenario, out: Path, artifacts: Mapping[str, Artifact] | None = None,
                 overwrite: bool = False) -> Upstream:
    """Build a fresh upstream on a node of its own and write ``out/upstream-state.json`` and
    ``out/upstream.json``: both or neither (written to a staging directory, then renamed)."""
    out = Path(out)
    check_output_dir(out, OUTPUT_NAMES, overwrite)
    artifacts = upstream_artifacts() if artifacts is None else artifacts
    with output_lock(out):
        staged = staging_dir(out)
        try:
            with anvil_node() as uri:
                backend = AnvilBackend(uri)
                upstream = build_upstream(backend, artifacts, scenario)
                release_control(backend)
                dump_state(uri, staged / STATE_NAME)
            upstream.save(staged / MANIFEST_NAME)
            replace_directory(staged, out)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
    return upstream


def describe(upstream: Upstream) -> str:
    lines = [f"chain id {upstream.chain_id}, deployer {upstream.deployer}"]
    lines += [f"  token {s:<6} {a}   feed {upstream.feeds[s]}" for s, a in upstream.tokens.items()]
    uni = upstream.uniswap_v2
    lines += [f"  Uniswap V2 factory {uni.factory}", f"             router  {uni.router}", f"             WETH    {uni.weth}"]
    lines += [f"             pair {s:<6} {a}" for s, a in uni.pairs.items()]
    aave = upstream.aave_v3
    lines += [f"  Aave V3 pool {aave.pool}", f"          configurator {aave.pool_configurator}",
              f"          addresses provider {aave.addresses_provider}", f"          oracle {aave.oracle}",
              f"          data provider {aave.data_provider}", f"          treasury {aave.treasury}"]
    lines += [f"          a{s:<6} {r.a_token}" for s, r in aave.reserves.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.fork.upstream", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", required=True, type=Path, help="scenario YAML file")
    parser.add_argument("--out", required=True, type=Path, help=f"directory for {STATE_NAME} and {MANIFEST_NAME}")
    parser.add_argument("--serve", action="store_true", help="then serve the chain (loaded from the state) until interrupted")
    parser.add_argument("--port", type=int, default=None, help="the port --serve listens on (default: a free one)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out even when it holds other files")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so that the node this process started is always stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        scenario = load_scenario(args.scenario)  # before any node starts
    except (ScenarioError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.port is not None and not port_is_free(args.port):
        print(f"error: --port {args.port} is in use on 127.0.0.1: choose another, or none for a free one", file=sys.stderr)
        return 2
    try:
        upstream = build_to_dir(scenario, args.out, overwrite=args.overwrite)
    except OutputDirError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (SetupError, RpcError) as err:
        print(f"error: building the upstream chain failed: {err}", file=sys.stderr)
        return 1
    print(describe(upstream))
    print(f"wrote {args.out / STATE_NAME} and {args.out / MANIFEST_NAME}")
    if args.serve:
        with anvil_node(args.out / STATE_NAME, port=args.port) as uri:
            print(f"serving the upstream chain at {uri} (Ctrl-C stops it)", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
