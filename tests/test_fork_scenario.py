"""Fork venues in scenario files: every field that names a venue already on the chain is checked
up front (before any node starts), each problem named by its field path.

Plain pytest; the cases are oct10.yaml with one thing changed (see test_scenario_files)."""

import pytest
from test_scenario_files import assert_reported, drop, load_mutated, problems_of, put

ALT_ADDRESS = "0x" + "a1" * 20
USDC_ADDRESS = "0x" + "c0" * 20
PAIR = "0x" + "b2" * 20
ROUTER = "0x" + "d3" * 20
AAVE_POOL = "0x" + "e4" * 20

ALT_POOL = "pools[2]"  # oct10's ALT pool
WITH_ADDRESSES = [put("assets.ALT.address", ALT_ADDRESS), put("assets.USDC.address", USDC_ADDRESS)]
V2_ALT_POOL = [put(f"{ALT_POOL}.kind", "uniswap_v2"), put(f"{ALT_POOL}.pair", PAIR), put(f"{ALT_POOL}.router", ROUTER)]
AAVE = [put("lending.kind", "aave_v3"), put("lending.pool", AAVE_POOL)]
ALL_ADDRESSES = WITH_ADDRESSES + [put("assets.BTC.address", "0x" + "0b" * 20), put("assets.ETH.address", "0x" + "0e" * 20)]


def test_a_fork_scenario_loads(tmp_path):
    scenario = load_mutated(tmp_path, *ALL_ADDRESSES, *V2_ALT_POOL, *AAVE, put("lending.rules", "v3.3"))
    pool = scenario.pool_of("ALT")
    assert (pool.kind, pool.pair, pool.router) == ("uniswap_v2", PAIR, ROUTER)
    assert (scenario.lending.kind, scenario.lending.pool, scenario.lending.rules) == ("aave_v3", AAVE_POOL, "v3.3")
    assert scenario.assets["ALT"].address == ALT_ADDRESS


def test_a_uniswap_v2_pair_may_get_no_added_depth(tmp_path):
    scenario = load_mutated(tmp_path, *WITH_ADDRESSES, *V2_ALT_POOL, put(f"{ALT_POOL}.depth_usd", 0))
    assert scenario.pool_of("ALT").depth_usd == 0


MALFORMED = [
    pytest.param([put("assets.ALT.address", "0x1234")], "assets.ALT.address", "pattern", id="address-too-short"),
    pytest.param([put("assets.ALT.address", 12345)], "assets.ALT.address", "valid string", id="address-not-a-string"),
    pytest.param([put("assets.ALT.address", USDC_ADDRESS), put("assets.USDC.address", USDC_ADDRESS)],
                 "assets.ALT.address", "is also assets.USDC.address", id="address-twice"),
    pytest.param([put(f"{ALT_POOL}.kind", "uniswap_v3")], f"{ALT_POOL}.kind", "'builtin' or 'uniswap_v2'", id="pool-kind-unknown"),
    pytest.param([*WITH_ADDRESSES, put(f"{ALT_POOL}.kind", "uniswap_v2"), put(f"{ALT_POOL}.pair", PAIR)],
                 ALT_POOL, "kind uniswap_v2 needs router", id="v2-without-router"),
    pytest.param([*WITH_ADDRESSES, put(f"{ALT_POOL}.kind", "uniswap_v2")], ALT_POOL, "needs pair and router", id="v2-without-addresses"),
    pytest.param([put(f"{ALT_POOL}.pair", PAIR)], ALT_POOL, "pair is only for kind uniswap_v2", id="builtin-with-pair"),
    pytest.param([*WITH_ADDRESSES, *V2_ALT_POOL, put(f"{ALT_POOL}.fee_bps", 5)], ALT_POOL, "fee_bps must be 30", id="v2-fee"),
    pytest.param([put(f"{ALT_POOL}.depth_usd", 0)], ALT_POOL, "depth_usd must be above 0 for a builtin pool", id="builtin-no-depth"),
    pytest.param([*V2_ALT_POOL], f"{ALT_POOL}.kind", "assets.ALT needs address", id="v2-token-without-address"),
    pytest.param([put("assets.ALT.address", ALT_ADDRESS), *V2_ALT_POOL], f"{ALT_POOL}.kind", "assets.USDC needs address",
                 id="v2-stablecoin-without-address"),
    pytest.param([put("lending.kind", "aave_v3")], "lending", "needs pool", id="aave-without-pool"),
    pytest.param([put("lending.pool", AAVE_POOL)], "lending", "pool is only for kind aave_v3", id="builtin-with-aave-pool"),
    pytest.param([*ALL_ADDRESSES, *AAVE, put("lending.close_factor_bps", 4000)], "lending", "close_factor_bps is fixed by Aave",
                 id="aave-close-factor"),
    pytest.param([*ALL_ADDRESSES, *AAVE, put("lending.max_oracle_age_s", 3600)], "lending", "max_oracle_age_s is fixed by Aave",
                 id="aave-oracle-age"),
    pytest.param([*WITH_ADDRESSES, *AAVE], "lending.reserves[1].asset", "assets.BTC needs address", id="aave-reserve-without-address"),
    pytest.param([put("lending.rules", "v3.1")], "lending.rules", "'v3.0' or 'v3.3'", id="rules-unknown"),
    pytest.param([drop("lending.reserves"), *AAVE], "lending.reserves", "Field required", id="aave-without-reserves"),
]


@pytest.mark.parametrize("mutations, path, fragment", MALFORMED)
def test_bad_fork_fields_are_named(tmp_path, mutations, path, fragment):
    assert_reported(problems_of(tmp_path, *mutations), path, fragment)


def test_the_mainnet_example_is_a_valid_scenario():
    """scenarios/examples/mainnet-fork.yaml cannot run here (no mainnet RPC); it must at least load."""
    from pathlib import Path

    from sim.scenario import load_scenario

    scenario = load_scenario(Path(__file__).resolve().parent.parent / "scenarios" / "examples" / "mainnet-fork.yaml")
    assert scenario.lending.kind == "aave_v3" and scenario.lending.rules == "v3.3"
    assert scenario.pool_of("WETH").kind == "uniswap_v2"


def test_arbitrageurs_split_evenly_when_a_forked_pair_gets_no_added_depth(tmp_path):
    import numpy as np

    from sim.agents.arbitrageur import Arbitrageur
    from sim.agents.registry import build_agents

    scenario = load_mutated(tmp_path, *WITH_ADDRESSES, *V2_ALT_POOL, put(f"{ALT_POOL}.depth_usd", 0))
    agents = build_agents(scenario, np.random.default_rng(scenario.seed), "0x" + "01" * 20, "0x" + "02" * 20)
    arbs = [a for a in agents if isinstance(a, Arbitrageur) and "ALT" in a.pool_weights]  # those trading the forked pair
    assert arbs
    for arb in arbs:
        assert sorted(arb.pool_weights.values()) == [1 / len(arb.pool_weights)] * len(arb.pool_weights)


def test_a_mixed_case_address_must_be_its_checksum(tmp_path):
    good = "0x7674881D241b12c6F388D1C7aE7243413215e05E"  # fork-demo's ALT, EIP-55
    assert load_mutated(tmp_path, put("assets.ALT.address", good)).assets["ALT"].address == good
    assert load_mutated(tmp_path, put("assets.ALT.address", good.lower())).assets["ALT"].address == good.lower()
    typo = good[:-1] + "e"  # the last letter's case flipped
    assert_reported(problems_of(tmp_path, put("assets.ALT.address", typo)), "assets.ALT.address", "not a valid EIP-55")
