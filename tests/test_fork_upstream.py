"""The upstream chain (sim/fork): real Uniswap V2 and Aave V3 bytecode deployed from a scenario on
a fresh anvil that the test starts on a free port, then used as a user of mainnet would."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from sim.chain import AnvilBackend
from sim.chain.abi import AbiError, encode_constructor
from sim.fork.npm_artifacts import LinkError, aave_error_names, load_npm_artifacts
from sim.fork.upstream import (
    MANIFEST_NAME,
    STATE_NAME,
    UPSTREAM_DEPLOYER,
    Driver,
    Upstream,
    anvil_node,
    build_to_dir,
    build_upstream,
    pair_address,
    read,
    upstream_artifacts,
)
from sim.protocol.deploy import SetupError
from sim.scenario import load_scenario, parse_scenario
from sim.units import to_usd_price, units_for_usd

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = load_scenario(ROOT / "scenarios" / "oct10.yaml")
MAX_UINT256 = 2**256 - 1
TRADER = "0x" + "71" * 20
LENDER = "0x" + "72" * 20
BORROWER = "0x" + "73" * 20


@pytest.fixture(scope="module")
def artifacts():
    return upstream_artifacts()


@pytest.fixture(scope="module")
def chain(artifacts):
    """(backend, upstream, driver) on a fresh node of the module's own."""
    with anvil_node() as uri:
        backend = AnvilBackend(uri)
        upstream = build_upstream(backend, artifacts, SCENARIO)
        backend.fund_gas([TRADER, LENDER, BORROWER])
        yield backend, upstream, Driver(backend, {n: a.codec for n, a in artifacts.items()})


def test_addresses_are_fixed_checksummed_and_every_contract_has_code(chain):
    backend, up, _ = chain
    assert up.chain_id == 1 and int(backend.request("eth_chainId"), 16) == 1
    assert up.deployer == UPSTREAM_DEPLOYER
    addresses = [*up.tokens.values(), *up.feeds.values(), up.uniswap_v2.factory, up.uniswap_v2.router, up.uniswap_v2.weth,
                 *up.uniswap_v2.pairs.values(), up.aave_v3.pool, up.aave_v3.pool_configurator, up.aave_v3.acl_manager,
                 up.aave_v3.oracle, up.aave_v3.data_provider, up.aave_v3.addresses_provider]
    addresses += [a for r in up.aave_v3.reserves.values() for a in (r.a_token, r.variable_debt_token, r.stable_debt_token)]
    codes = backend.batch([("eth_getCode", [a, "latest"]) for a in addresses])
    assert all(len(code) > 2 for code in codes)
    assert set(up.uniswap_v2.pairs) == {p.asset for p in SCENARIO.pools}
    assert set(up.aave_v3.reserves) == {r.asset for r in SCENARIO.lending.reserves}


def test_each_pair_holds_the_scenario_depth_at_the_start_price(chain, artifacts):
    backend, up, driver = chain
    stable = SCENARIO.stablecoin
    stable_decimals = SCENARIO.assets[stable].decimals
    for pool in SCENARIO.pools:
        asset = SCENARIO.assets[pool.asset]
        pair = up.uniswap_v2.pairs[pool.asset]
        (token0,) = driver.read("UniswapV2Pair", pair, "token0")
        reserve0, reserve1, _ = driver.read("UniswapV2Pair", pair, "getReserves")
        base_first = token0.lower() == up.tokens[pool.asset].lower()
        base, quote = (reserve0, reserve1) if base_first else (reserve1, reserve0)
        depth8 = int(pool.depth_usd) * 10**8
        assert base == units_for_usd(depth8, asset.decimals, to_usd_price(asset.price_usd))
        assert quote == units_for_usd(depth8, stable_decimals, to_usd_price(1.0))
        price = (quote / 10**stable_decimals) / (base / 10**asset.decimals)
        assert price == pytest.approx(asset.price_usd, rel=1e-9)
        (liquidity,) = driver.read("UniswapV2Pair", pair, "balanceOf", up.deployer)
        assert liquidity > 0
        assert pair == pair_address(up.uniswap_v2.factory, up.tokens[pool.asset], up.tokens[stable],
                                    artifacts["UniswapV2Pair"].bytecode)


def test_a_swap_through_the_real_router_pays_the_constant_product_less_0_3_percent(chain):
    backend, up, driver = chain
    usdc, eth = up.tokens["USDC"], up.tokens["ETH"]
    pair, router = up.uniswap_v2.pairs["ETH"], up.uniswap_v2.router
    amount_in = 10_000 * 10**6
    driver.mine("fund the trader", [
        (up.deployer, driver.call("SimToken", usdc, "mint", TRADER, amount_in)),
        (TRADER, driver.call("SimToken", usdc, "approve", router, MAX_UINT256)),
    ])
    (token0,) = driver.read("UniswapV2Pair", pair, "token0")
    r0, r1, _ = driver.read("UniswapV2Pair", pair, "getReserves")
    reserve_in, reserve_out = (r0, r1) if token0.lower() == usdc.lower() else (r1, r0)
    expected = amount_in * 997 * reserve_out // (reserve_in * 1000 + amount_in * 997)
    (quoted,) = driver.read("UniswapV2Router02", router, "getAmountsOut", amount_in, [usdc, eth])
    assert quoted[-1] == expected
    driver.mine("swap", [(TRADER, driver.call("UniswapV2Router02", router, "swapExactTokensForTokens", amount_in, expected,
                                              [usdc, eth], TRADER, 2**40))])
    assert driver.read("SimToken", eth, "balanceOf", TRADER) == (expected,)
    assert driver.read("SimToken", usdc, "balanceOf", TRADER) == (0,)


def test_aave_supply_and_borrow_on_the_real_pool(chain):
    backend, up, driver = chain
    aave = up.aave_v3
    usdc, eth = up.tokens["USDC"], up.tokens["ETH"]
    supplied, lent, borrowed = 10 * 10**18, 1_000_000 * 10**6, 20_000 * 10**6
    pool = aave.pool
    driver.mine("fund and supply", [
        (up.deployer, driver.call("SimToken", eth, "mint", BORROWER, supplied)),
        (up.deployer, driver.call("SimToken", usdc, "mint", LENDER, lent)),
        (LENDER, driver.call("SimToken", usdc, "approve", pool, MAX_UINT256)),
        (LENDER, driver.call("AavePool", pool, "supply", usdc, lent, LENDER, 0)),
        (BORROWER, driver.call("SimToken", eth, "approve", pool, MAX_UINT256)),
        (BORROWER, driver.call("AavePool", pool, "supply", eth, supplied, BORROWER, 0)),
        (BORROWER, driver.call("AavePool", pool, "borrow", usdc, borrowed, 2, 0, BORROWER)),  # 2: variable rate
    ])
    account = driver.read("AavePool", pool, "getUserAccountData", BORROWER)
    assert account.totalCollateralBase == 10 * 4_000 * 10**8
    assert account.totalDebtBase == 20_000 * 10**8
    assert account.currentLiquidationThreshold == 8_000 and account.ltv == 7_500
    assert account.healthFactor == 16 * 10**17  # 40,000 × 0.8 / 20,000
    assert driver.read("AToken", aave.reserves["ETH"].a_token, "balanceOf", BORROWER) == (supplied,)
    assert driver.read("VariableDebtToken", aave.reserves["USDC"].variable_debt_token, "balanceOf", BORROWER) == (borrowed,)
    assert driver.read("SimToken", usdc, "balanceOf", BORROWER) == (borrowed,)
    (price,) = driver.read("AaveOracle", aave.oracle, "getAssetPrice", eth)
    assert price == 4_000 * 10**8
    # Aave's own checks answer with its numeric errors, named here
    with pytest.raises(SetupError, match=r"Error\('26' = INVALID_AMOUNT\)"):
        driver.mine("borrow nothing", [(BORROWER, driver.call("AavePool", pool, "borrow", usdc, 0, 2, 0, BORROWER))])


def test_the_manifest_round_trips_with_the_agreed_names(chain, tmp_path):
    _, up, _ = chain
    data = json.loads(up.to_json())
    assert list(data) == ["chain_id", "deployer", "tokens", "feeds", "uniswap_v2", "aave_v3"]
    assert set(data["uniswap_v2"]) == {"factory", "router", "weth", "pairs"}
    assert set(data["aave_v3"]) == {"addresses_provider", "pool", "pool_configurator", "acl_manager", "oracle",
                                    "data_provider", "treasury", "reserves"}
    assert set(data["aave_v3"]["reserves"]["ETH"]) == {"a_token", "variable_debt_token", "stable_debt_token"}
    assert Upstream.from_json(up.to_json()) == up
    assert Upstream.from_json(_lower_addresses(data)) == up  # addresses come back checksummed
    up.save(tmp_path / MANIFEST_NAME)
    assert Upstream.load(tmp_path / MANIFEST_NAME) == up


def test_the_cli_path_writes_state_and_manifest_that_a_new_node_serves(artifacts, tmp_path):
    out = tmp_path / "upstream"
    up = build_to_dir(SCENARIO, out, artifacts)
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST_NAME, STATE_NAME])
    assert Upstream.load(out / MANIFEST_NAME) == up
    codecs = load_npm_artifacts()
    with anvil_node(out / STATE_NAME) as uri:
        backend = AnvilBackend(uri)
        reserves = read(backend, codecs["UniswapV2Pair"].codec, up.uniswap_v2.pairs["BTC"], "getReserves")
        assert reserves[0] > 0 and reserves[1] > 0
        (pool,) = read(backend, codecs["PoolAddressesProvider"].codec, up.aave_v3.addresses_provider, "getPool")
        assert pool.lower() == up.aave_v3.pool.lower()
        assert backend.request("anvil_getAutomine")  # handed back as a plain chain


def test_a_reserve_aave_refuses_names_the_step_and_the_error(artifacts):
    data = SCENARIO.model_dump()
    data["lending"]["reserves"][1]["liquidation_bonus_bps"] = 10_000  # ours: no bonus; Aave: must exceed 100%
    scenario = parse_scenario(data)
    with anvil_node() as uri:
        with pytest.raises(SetupError, match=r"configureReserveAsCollateral.*Error\('20' = INVALID_RESERVE_PARAMS\)"):
            build_upstream(AnvilBackend(uri), artifacts, scenario)


def test_library_linking_fills_every_placeholder_and_refuses_a_missing_library():
    npm = load_npm_artifacts()
    pool = npm["AavePool"]
    assert set(pool.libraries) == {"BorrowLogic", "BridgeLogic", "EModeLogic", "FlashLoanLogic", "LiquidationLogic",
                                   "PoolLogic", "SupplyLogic"}
    assert npm["PoolConfigurator"].libraries == ("ConfiguratorLogic",)
    assert npm["FlashLoanLogic"].libraries == ("BorrowLogic",)
    addresses = {name: "0x" + f"{i + 1:02x}" * 20 for i, name in enumerate(pool.libraries)}
    linked = pool.link(addresses)
    assert "__$" not in linked.bytecode and linked.links == ()
    for ref in pool.links:
        for offset in ref.offsets:
            assert linked.bytecode[2 + 2 * offset : 2 + 2 * offset + 40] == addresses[ref.library][2:]
    with pytest.raises(LinkError, match="no address given for library SupplyLogic"):
        pool.link({k: v for k, v in addresses.items() if k != "SupplyLogic"})
    with pytest.raises(LinkError, match="unlinked library placeholder"):  # a reference the artifact forgot
        replace(pool, links=pool.links[1:]).link(addresses)
    with pytest.raises(AbiError, match="unlinked library placeholder"):
        encode_constructor(pool.bytecode, pool.constructor_types, ("0x" + "00" * 20,))
    assert aave_error_names()["20"] == "INVALID_RESERVE_PARAMS"


def _lower_addresses(value):
    if isinstance(value, dict):
        return {k: _lower_addresses(v) for k, v in value.items()}
    return value.lower() if isinstance(value, str) and value.startswith("0x") else value
