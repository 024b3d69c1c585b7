"""sim.scenario: malformed scenario files are rejected up front, each problem named by its field path.

Plain pytest — no node, no ape fixtures. Every malformed file is the shipped ``scenarios/oct10.yaml``
with one thing broken, so each case shows exactly which path and message a user would see.
"""

import copy
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from sim.scenario import Scenario, ScenarioError, load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
OCT10 = SCENARIOS / "oct10.yaml"

Mutation = Callable[[Any], None]


def _keys(path: str) -> list[str | int]:
    """``"lending.reserves[1].oracle"`` -> ``["lending", "reserves", 1, "oracle"]`` (the problems' own notation)."""
    return [int(index) if index else name for index, name in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)]


def _parent(data: Any, path: str) -> tuple[Any, str | int]:
    *head, last = _keys(path)
    for key in head:
        data = data[key]
    return data, last


def put(path: str, value: Any) -> Mutation:
    """Set the value at ``path``; a new key, or one past the end of a list, adds it."""

    def mutate(data: Any) -> None:
        parent, last = _parent(data, path)
        if isinstance(parent, list) and last == len(parent):
            parent.append(copy.deepcopy(value))
        else:
            parent[last] = copy.deepcopy(value)

    return mutate


def drop(path: str) -> Mutation:
    """Delete the key (or list item) at ``path``."""

    def mutate(data: Any) -> None:
        parent, last = _parent(data, path)
        del parent[last]

    return mutate


def load_mutated(tmp_path: Path, *mutations: Mutation) -> Scenario:
    """Load oct10.yaml, apply ``mutations``, write the result under ``tmp_path`` and load that file."""
    data = yaml.safe_load(OCT10.read_text())
    data["calibration"] = str((OCT10.parent / data["calibration"]).resolve())  # the copy lives elsewhere
    for mutate in mutations:
        mutate(data)
    target = tmp_path / "scenario.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_scenario(target)


def problems_of(tmp_path: Path, *mutations: Mutation) -> list[tuple[str, str]]:
    with pytest.raises(ScenarioError) as caught:
        load_mutated(tmp_path, *mutations)
    return caught.value.problems


def assert_reported(problems: list[tuple[str, str]], path: str, fragment: str) -> None:
    messages = [message for where, message in problems if where == path]
    assert messages, f"no problem reported at {path!r}; got {problems}"
    assert any(fragment in message for message in messages), f"{fragment!r} not in {messages}"


BTC_RESERVE = {"asset": "BTC", "oracle": "external", "ltv_bps": 7500, "liquidation_threshold_bps": 8000, "liquidation_bonus_bps": 10500}

MALFORMED = [
    # ---- required fields, types, ranges, unknown keys
    pytest.param([drop("seed")], "seed", "Field required", id="missing-seed"),
    pytest.param([drop("lending.reserves[1].ltv_bps")], "lending.reserves[1].ltv_bps", "Field required", id="missing-nested-field"),
    pytest.param([put("lending", None)], "lending", "valid dictionary", id="section-null"),
    pytest.param([put("blocks", "many")], "blocks", "valid integer", id="blocks-string"),
    pytest.param([put("blocks", 1.5)], "blocks", "valid integer", id="blocks-fraction"),
    # `blocks: yes` / `blocks: true` is a YAML boolean; it must not silently become 1 block.
    pytest.param([put("blocks", True)], "blocks", "valid integer", id="blocks-boolean"),
    pytest.param([put("blocks", 0)], "blocks", "greater than 0 (got 0)", id="blocks-zero"),
    pytest.param([put("blocks", 2_000_000)], "blocks", "less than or equal to 1000000", id="blocks-too-many"),
    # ---- block space
    pytest.param([put("block_gas_limit", 0)], "block_gas_limit", "greater than 0 (got 0)", id="block-gas-limit-zero"),
    pytest.param([put("block_gas_limit", -30_000_000)], "block_gas_limit", "greater than 0", id="block-gas-limit-negative"),
    pytest.param([put("block_gas_limit", 1_000_000_001)], "block_gas_limit", "less than or equal to 1000000000", id="block-gas-limit-huge"),
    pytest.param([put("block_gas_limit", 3e7)], "block_gas_limit", "valid integer", id="block-gas-limit-float"),
    pytest.param([put("tx_gas_cap", 0)], "tx_gas_cap", "greater than 0 (got 0)", id="tx-gas-cap-zero"),
    pytest.param([put("tx_gas_cap", 2_000_000_000)], "tx_gas_cap", "less than or equal to 1000000000", id="tx-gas-cap-huge"),
    pytest.param(
        [put("block_gas_limit", 10_000_000)],  # the default cap, 16,777,216, no longer fits a block
        "tx_gas_cap",
        "must not exceed block_gas_limit (10,000,000), got 16,777,216",
        id="tx-gas-cap-above-block",
    ),
    pytest.param(
        [put("block_gas_limit", 2_000_000), put("tx_gas_cap", 2_000_001)],
        "tx_gas_cap",
        "must not exceed block_gas_limit (2,000,000), got 2,000,001",
        id="tx-gas-cap-one-above-block",
    ),
    pytest.param([put("block_time_s", -1)], "block_time_s", "greater than 0 (got -1)", id="block-time-negative"),
    pytest.param([drop("blocks"), put("blokcs", 300)], "blokcs", "Extra inputs are not permitted", id="typo-top-level"),
    pytest.param([put("lending.reserves[1].ltv", 7500)], "lending.reserves[1].ltv", "Extra inputs are not permitted", id="typo-nested"),
    # ---- assets
    pytest.param([put("assets.ETH.decimals", -1)], "assets.ETH.decimals", "greater than or equal to 0 (got -1)", id="decimals-negative"),
    pytest.param([put("assets.ETH.decimals", 37)], "assets.ETH.decimals", "less than or equal to 18 (got 37)", id="decimals-above-18"),
    pytest.param([put("assets.b-t", {"decimals": 18, "price_usd": 1.0})], "assets.b-t", "'b-t'", id="asset-symbol-invalid"),
    pytest.param([put("assets.USDC.stable", False)], "stablecoin", "must have stable: true", id="stablecoin-not-stable"),
    pytest.param([put("stablecoin", "DAI")], "stablecoin", "unknown asset 'DAI'", id="stablecoin-unknown"),
    pytest.param([put("assets.USDC.decimals", 24)], "assets.USDC.decimals", "less than or equal to 18", id="stablecoin-decimals"),
    # ---- lending
    pytest.param([put("lending.reserves[1].oracle", "chainlink")], "lending.reserves[1].oracle", "got 'chainlink'", id="reserve-oracle-kind"),
    pytest.param([put("lending.reserves[1].asset", "DOGE")], "lending.reserves[1].asset", "unknown asset 'DOGE'", id="reserve-unknown-asset"),
    pytest.param(
        [put("lending.reserves[1].ltv_bps", 9000)],
        "lending.reserves[1]",
        "ltv_bps (9000) must not exceed liquidation_threshold_bps (8000)",
        id="ltv-above-threshold",
    ),
    pytest.param(
        [put("lending.reserves[1].liquidation_threshold_bps", 9600)],
        "lending.reserves[1]",
        "must not exceed 100%",
        id="threshold-times-bonus",
    ),
    pytest.param(
        [put("lending.reserves[1].liquidation_bonus_bps", 9000)],
        "lending.reserves[1].liquidation_bonus_bps",
        "greater than or equal to 10000 (got 9000)",
        id="bonus-below-100pct",
    ),
    pytest.param([drop("lending.reserves[0]")], "lending.reserves", "the stablecoin 'USDC' must be a reserve", id="stablecoin-not-reserve"),
    pytest.param([put("lending.reserves", [])], "lending.reserves", "at least 1 item", id="reserves-empty"),
    pytest.param([put("lending.reserves[4]", BTC_RESERVE)], "lending.reserves[4].asset", "duplicate entry for 'BTC'", id="reserve-duplicate"),
    pytest.param(
        [drop("pools[1]"), put("lending.reserves[2].oracle", "pool_spot")],
        "lending.reserves[2].oracle",
        "'pool_spot' needs a pool for 'ETH'",
        id="pool-oracle-without-pool",
    ),
    # ---- perp
    pytest.param(
        [put("perp.markets[0].maintenance_margin_bps", 1000)],
        "perp.markets[0]",
        "maintenance_margin_bps (1000) must be below initial_margin_bps (1000)",
        id="maintenance-equals-initial",
    ),
    pytest.param(
        [put("perp.markets[0].maintenance_margin_bps", 1500)],
        "perp.markets[0]",
        "maintenance_margin_bps (1500) must be below initial_margin_bps (1000)",
        id="maintenance-above-initial",
    ),
    pytest.param([put("perp.markets[1].index_oracle", "chainlink")], "perp.markets[1].index_oracle", "got 'chainlink'", id="perp-oracle-kind"),
    pytest.param(
        [drop("pools[1]"), put("perp.markets[1].index_oracle", "pool_twap")],
        "perp.markets[1].index_oracle",
        "'pool_twap' needs a pool for 'ETH'",
        id="perp-pool-oracle-without-pool",
    ),
    # ---- agents
    pytest.param([put("agents.whales[0].count", 0)], "agents.whales[0].count", "greater than 0 (got 0)", id="population-count-zero"),
    pytest.param(
        [put("agents.whales[0].collateral_asset", "DOGE")],
        "agents.whales[0].collateral_asset",
        "unknown asset 'DOGE'",
        id="whale-collateral-unknown",
    ),
    pytest.param(
        [put("agents.whales[0].collateral_asset", "USDC")],
        "agents.whales[0].collateral_asset",
        "must be a non-stablecoin asset",
        id="whale-collateral-stablecoin",
    ),
    pytest.param(
        [put("agents.whales[0].target_health_factor", {"uniform": [1.0, 1.5]})],
        "agents.whales[0].target_health_factor",
        "must stay above 1 (lowest possible value 1.0)",
        id="whale-health-factor-low-bound",
    ),
    pytest.param(
        [put("agents.whales[0].target_health_factor", 0.9)],
        "agents.whales[0].target_health_factor",
        "must stay above 1 (lowest possible value 0.9)",
        id="whale-health-factor-constant",
    ),
    pytest.param(
        [put("agents.whales[0].capital_usd", {"uniform": [5, 1]})],
        "agents.whales[0].capital_usd",
        "low <= high",
        id="distribution-uniform-reversed",
    ),
    # The message should say which forms are accepted (a number, uniform or lognormal).
    pytest.param(
        [put("agents.whales[0].capital_usd", {"normal": 3})],
        "agents.whales[0].capital_usd",
        "lognormal",
        id="distribution-unknown-kind",
    ),
    pytest.param(
        [put("agents.whales[0].capital_usd", {"lognormal": [-1, 0.3]})],
        "agents.whales[0].capital_usd",
        "median > 0",
        id="distribution-lognormal-median",
    ),
    # ---- limits of the contracts, and rules between sections
    pytest.param([put("pools[2].fee_bps", 10_000)], "pools[2].fee_bps", "less than or equal to 9999", id="pool-fee-above-contract-max"),
    pytest.param([put("agents.noise[0].perp_leverage", 20)], "agents.noise[0].perp_leverage", "maximum leverage 10", id="leverage-above-market-max"),
    pytest.param([put("agents.whales[1].leverage", {"uniform": [4, 12]})], "agents.whales[1].leverage", "can reach 12", id="whale-leverage-draw-above-max"),
    pytest.param([put("assets.USDC.price_usd", 0.99)], "assets.USDC.price_usd", "must start at 1.0", id="stablecoin-not-at-one"),
    pytest.param([put("lending.max_oracle_age_s", 600)], "keeper.heartbeat_s", "stale between pushes", id="heartbeat-longer-than-oracle-age"),
    pytest.param([put("agents.arbitrageurs[0].pools", [])], "agents.arbitrageurs[0].pools", "at least 1 item", id="arbitrageur-without-pools"),
    pytest.param([put("perp.markets[0].funding", {"interval_s": 2**32})], "perp.markets[0].funding.interval_s", "less than 4294967296", id="funding-interval-overflows-uint32"),
    pytest.param([put("perp.markets[2].margin_price_source", "twap")], "perp.markets[2].margin_price_source", "'vamm', 'mark', 'index' or 'median'", id="perp-price-source"),
    pytest.param([put("perp.markets[2].mark_ema_s", -1)], "perp.markets[2].mark_ema_s", "greater than or equal to 0", id="perp-ema-negative"),
    pytest.param([put("perp.markets[2].liquidation", {"max_fraction": 0.005})], "perp.markets[2].liquidation.max_fraction", "greater than or equal to 0.01", id="perp-chunk-below-contract-min"),
    pytest.param([put("perp.markets[2].mark_ema_s", 0)], "perp.markets[2]", "mark_ema_s must be above 0", id="perp-median-without-ema"),
    pytest.param([put("perp.markets[2].liquidation", {"max_fraction": 1.5})], "perp.markets[2].liquidation.max_fraction", "less than or equal to 1", id="perp-chunk-above-all"),
    pytest.param([put("perp.markets[2].liquidation", {"cooldown_s": 2**32})], "perp.markets[2].liquidation.cooldown_s", "less than 4294967296", id="perp-cooldown-overflows-uint32"),
    pytest.param([put("perp.markets[2].liquidation", {"min_position_usd": -5})], "perp.markets[2].liquidation.min_position_usd", "greater than or equal to 0", id="perp-min-position-negative"),
    pytest.param([put("perp.markets[2].liquidation", {"max_fund_fee": 5})], "perp.markets[2].liquidation.max_fund_fee", "Extra inputs", id="perp-liquidation-unknown-field"),
    # ---- leveraged traders
    pytest.param([put("agents.traders[0].perp_markets", {"DOGE": 1.0})], "agents.traders[0].perp_markets.DOGE", "unknown asset 'DOGE'", id="trader-unknown-market"),
    pytest.param([put("agents.traders[0].perp_markets", {"USDC": 1.0})], "agents.traders[0].perp_markets.USDC", "stablecoin", id="trader-stablecoin-market"),
    pytest.param([put("agents.traders[0].perp_markets", {})], "agents.traders[0].perp_markets", "at least 1 item", id="trader-no-market"),
    pytest.param([put("agents.traders[0].perp_markets", {"BTC": 0})], "agents.traders[0].perp_markets.BTC", "greater than 0", id="trader-zero-weight"),
    pytest.param([put("agents.traders[0].leverage", {"uniform": [4, 12]})], "agents.traders[0].leverage", "above BTC's maximum leverage 10", id="trader-leverage-above-market"),
    pytest.param([put("agents.traders[0].leverage", {"uniform": [0.5, 2]})], "agents.traders[0].leverage", "at least 1", id="trader-leverage-below-one"),
    pytest.param([put("agents.traders[0].long_share", 1.5)], "agents.traders[0].long_share", "less than or equal to 1", id="trader-long-share"),
    pytest.param([put("agents.traders[2].entry_start_block", 295)], "agents.traders[2].entry_window_blocks", "entries would run to block 314, after the last block (300)", id="trader-entries-after-the-end"),
    # ---- the shock
    pytest.param([put("shock.crash.start_block", 300)], "shock.crash.start_block", "must be below blocks (300), got 300", id="crash-after-end"),
    pytest.param([put("shock.crash.size", {"DOGE": 0.1})], "shock.crash.size.DOGE", "unknown asset 'DOGE'", id="crash-unknown-asset"),
    pytest.param([put("shock.crash.size.BTC", 1.0)], "shock.crash.size.BTC", "less than 1 (got 1.0)", id="crash-total-loss"),
]


@pytest.mark.parametrize("mutations,path,fragment", MALFORMED)
def test_a_malformed_scenario_names_the_field(tmp_path, mutations, path, fragment):
    assert_reported(problems_of(tmp_path, *mutations), path, fragment)


@pytest.mark.parametrize(
    "value,path,fragment",
    [
        pytest.param({"uniform": [5, 1]}, "agents.whales[0].capital_usd", "low <= high", id="uniform-reversed"),
        pytest.param({"normal": 3}, "agents.whales[0].capital_usd", "lognormal", id="unknown-kind"),
        pytest.param({"uniform": [1, 2, 3]}, "agents.whales[0].capital_usd.uniform", "at most 2 items", id="uniform-three-bounds"),
        pytest.param({"lognormal": [-1, 0.3]}, "agents.whales[0].capital_usd", "median > 0", id="lognormal-median"),
        pytest.param("lots", "agents.whales[0].capital_usd", "expected a number", id="string"),
    ],
)
def test_a_bad_distribution_is_one_problem_not_one_per_union_branch(tmp_path, value, path, fragment):
    """A distribution is a number, ``{uniform: ...}`` or ``{lognormal: ...}``; a mistake in one form must
    not also be reported as a failure to match each of the other forms."""
    field = "agents.whales[0].capital_usd"
    problems = problems_of(tmp_path, put(field, value))
    about_field = [(where, message) for where, message in problems if where == field or where.startswith((field + ".", field + "["))]
    assert len(about_field) == 1, about_field
    assert about_field[0][0] == path
    assert fragment in about_field[0][1]


def _write(tmp_path: Path, text: str) -> Path:
    target = tmp_path / "scenario.yaml"
    target.write_text(text)
    return target


@pytest.mark.parametrize(
    "make,fragment",
    [
        pytest.param(lambda tmp: _write(tmp, "- name: oct10\n- seed: 1\n"), "expected a mapping at the top level, got list", id="top-level-list"),
        pytest.param(lambda tmp: _write(tmp, "just a string\n"), "expected a mapping at the top level, got str", id="top-level-scalar"),
        pytest.param(lambda tmp: _write(tmp, "name: [unclosed\nseed: 1\n"), "not valid YAML", id="invalid-yaml"),
        pytest.param(lambda tmp: _write(tmp, "name: a\n\tseed: 1\n"), "not valid YAML", id="tab-indent"),
        # An empty file is not "a NoneType at the top level" to the person who wrote it.
        pytest.param(lambda tmp: _write(tmp, "# nothing yet\n"), "empty", id="empty-file"),
        pytest.param(lambda tmp: tmp / "no-such-scenario.yaml", "cannot read the file", id="missing-file"),
        pytest.param(lambda tmp: tmp, "cannot read the file", id="directory"),
    ],
)
def test_an_unreadable_file_is_one_problem_without_a_path(tmp_path, make, fragment):
    target = make(tmp_path)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(target)
    error = caught.value
    assert error.source == str(target)
    assert len(error.problems) == 1
    path, message = error.problems[0]
    assert path == ""
    assert fragment in message


def test_invalid_yaml_gives_line_and_column(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, "name: oct10\nseed: [1\nblocks: 3\n"))
    (_, message), = caught.value.problems
    assert "line 2" in message and "column" in message


@pytest.mark.parametrize("name", ["oct10.yaml", "calm.yaml"])
def test_a_shipped_scenario_loads(name):
    path = SCENARIOS / name
    if not path.exists():
        pytest.skip(f"scenarios/{name} is not shipped")
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.blocks > 0
    assert scenario.stablecoin in scenario.assets


def test_block_space_defaults_and_a_cap_equal_to_the_block_are_accepted(tmp_path):
    defaults = load_mutated(tmp_path)
    assert (defaults.block_gas_limit, defaults.tx_gas_cap) == (30_000_000, 2**24)  # Ethereum's block, EIP-7825's cap
    equal = load_mutated(tmp_path, put("block_gas_limit", 5_000_000), put("tx_gas_cap", 5_000_000))
    assert (equal.block_gas_limit, equal.tx_gas_cap) == (5_000_000, 5_000_000)


def test_the_mutation_helper_alone_keeps_the_file_valid(tmp_path):
    assert load_mutated(tmp_path) == load_scenario(OCT10)


@pytest.mark.parametrize(
    "mutations,paths",
    [
        pytest.param(
            [drop("seed"), put("blocks", 0), put("blokcs", 300), put("agents.whales[0].count", 0), put("assets.ETH.decimals", 37)],
            {"seed", "blocks", "blokcs", "agents.whales[0].count", "assets.ETH.decimals"},
            id="field-problems",
        ),
        pytest.param(
            [put("assets.USDC.stable", False), put("shock.crash.start_block", 300), put("agents.whales[1].collateral_asset", "DOGE")],
            {"stablecoin", "shock.crash.start_block", "agents.whales[1].collateral_asset"},
            id="cross-field-problems",
        ),
    ],
)
def test_the_error_names_the_file_and_every_problem(tmp_path, mutations, paths):
    with pytest.raises(ScenarioError) as caught:
        load_mutated(tmp_path, *mutations)
    error = caught.value
    text = str(error)
    assert error.source == str(tmp_path / "scenario.yaml")
    assert str(tmp_path / "scenario.yaml") in text.splitlines()[0]
    assert paths <= {path for path, _ in error.problems}  # all reported at once, not just the first
    for path, message in error.problems:
        assert f"{path}: {message}" in text


def test_a_key_given_twice_is_refused(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text((SCENARIOS / "oct10.yaml").read_text() + "\nseed: 5\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert "the key 'seed' appears twice" in str(error.value)


# ---------------------------------------------------------------- numbers that would give silently wrong results


@pytest.mark.parametrize(
    "path,value,fragment",
    [
        pytest.param("assets.ALT.price_usd", 1e-12, "greater than or equal to 0.0001", id="price-below-the-oracle-s-decimals"),
        pytest.param("assets.ALT.price_usd", 1e10, "less than or equal to 1000000000", id="price-too-large"),
        pytest.param("assets.ALT.volatility_daily", 1000.0, "less than or equal to 1", id="volatility-1000"),
        pytest.param("assets.ALT.volatility_daily", float("nan"), "finite number", id="nan"),
        pytest.param("assets.ALT.volatility_daily", float("inf"), "finite number", id="inf"),
        pytest.param("assets.ALT.beta_to_btc", -50.0, "greater than or equal to -5", id="beta"),
        pytest.param("assets.ETH.decimals", 36, "less than or equal to 18", id="decimals-36"),
        pytest.param("pools[0].depth_usd", 1e15, "less than or equal to 1000000000000", id="pool-depth"),
        pytest.param("perp.insurance_fund_usd", float("inf"), "finite number", id="insurance-inf"),
        pytest.param("agents.whales[0].capital_usd", {"uniform": [1.0, float("nan")]}, "finite number", id="nan-in-a-distribution"),
        pytest.param("agents.whales[0].capital_usd", {"lognormal": [1e13, 0.3]}, "must stay at most 1e+12", id="capital"),
        pytest.param("shock.crash.size.ALT", 0.9999999, "the lowest price the 8-decimal oracles carry", id="crash-below-the-oracle"),
    ],
)
def test_a_number_outside_its_physical_range_is_refused_by_name(tmp_path, path, value, fragment):
    problems = problems_of(tmp_path, put(path, value))
    reported = [where for where, _ in problems]
    assert any(where == path or where.startswith(path + ".") for where in reported), problems
    assert any(fragment in message for _, message in problems), problems


def _oct10_text(old: str, new: str) -> str:
    """oct10's text with one edit, its targets file named by absolute path (the copy lives elsewhere)."""
    text = OCT10.read_text()
    assert old in text
    targets = "calibration: ../calibration/oct10_targets.yaml"
    assert targets in text
    return text.replace(old, new, 1).replace(targets, f"calibration: {(OCT10.parent.parent / 'calibration' / 'oct10_targets.yaml')}", 1)


def test_scientific_notation_is_a_number(tmp_path):
    scenario = load_scenario(_write(tmp_path, _oct10_text("price_usd: 2.0", "price_usd: 2e0")))
    assert scenario.assets["ALT"].price_usd == 2.0
    with pytest.raises(ScenarioError) as caught:  # read as a number, then refused as one
        load_scenario(_write(tmp_path, _oct10_text("price_usd: 2.0", "price_usd: 1e-12")))
    assert caught.value.problems == [("assets.ALT.price_usd", "Input should be greater than or equal to 0.0001 (got 1e-12)")]


def test_an_overflowing_number_is_not_infinity(tmp_path):
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_write(tmp_path, _oct10_text("price_usd: 2.0", "price_usd: 1e400")))
    assert caught.value.problems == [("assets.ALT.price_usd", "Input should be a finite number (got inf)")]


@pytest.mark.parametrize(
    "content,fragment",
    [
        pytest.param(bytes(range(256)) * 4, "not a UTF-8 text file", id="binary"),
        pytest.param("name: caf\u00e9\n".encode("latin-1"), "not a UTF-8 text file", id="latin-1"),
        pytest.param(("a: " + "[" * 5000 + "]" * 5000).encode(), "nested too deeply", id="deep-lists"),
        pytest.param("".join(" " * i + "k:\n" for i in range(1400)).encode(), "nested too deeply", id="deep-mappings"),
        pytest.param(b"name: x\n" * 200_000, "too large for a scenario file", id="huge"),
        pytest.param(b"\x00\x01\x02name: x\n", "not valid YAML", id="control-bytes"),
    ],
)
def test_a_file_that_is_not_a_scenario_is_one_problem(tmp_path, content, fragment):
    target = tmp_path / "scenario.yaml"
    target.write_bytes(content)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(target)
    (path, message), = caught.value.problems
    assert path == "" and fragment in message


def test_field_errors_and_unknown_assets_are_reported_together(tmp_path):
    problems = problems_of(tmp_path, put("assets.ALT.volatility_daily", -1.0), put("agents.whales[1].collateral_asset", "XYZ"))
    assert_reported(problems, "assets.ALT.volatility_daily", "greater than or equal to 0")
    assert_reported(problems, "agents.whales[1].collateral_asset", "unknown asset 'XYZ'")


@pytest.mark.parametrize(
    "mutations,fragment",
    [
        pytest.param([put("agents.whales[0].capital_usd", {"lognormal": [1_000_000, 1000]})], "sigma <= 3", id="lognormal-sigma"),
        pytest.param([put("shock.crash.duration_blocks", 10**400)], "less than or equal to 1000000", id="crash-duration"),
        pytest.param([put("pools[0].twap_window_s", 2**32 - 1)], "less than or equal to 86400", id="twap-window"),
        pytest.param([put("agents.noise[0].count", 100_000)], "at most 100,000", id="too-many-agents"),
        pytest.param([put("assets.BTC.decimals", 0)], "at least 1,000 are needed", id="pool-of-fractions-of-a-token"),
        pytest.param([put("assets.ALT.price_usd", 1e-4), put("pools[2].depth_usd", 1e12)], "do not fit a pool reserve",
                     id="pool-reserve-overflow"),
    ],
)
def test_a_scenario_the_contracts_could_not_hold_is_refused_up_front(tmp_path, mutations, fragment):
    problems = problems_of(tmp_path, *mutations)
    assert any(fragment in message for _, message in problems), problems


def test_a_random_walk_that_leaves_the_oracles_range_is_refused_before_the_run(tmp_path):
    problems = problems_of(tmp_path, put("blocks", 1_000_000), put("block_time_s", 3600), put("assets.BTC.volatility_daily", 1.0),
                           put("assets.ALT.volatility_daily", 1.0), put("assets.ALT.beta_to_btc", 5.0))
    assert any(where.endswith("volatility_daily") and "external price path reaches" in message for where, message in problems)


@pytest.mark.parametrize(
    "make,fragment",
    [
        pytest.param(lambda tmp: _write(tmp, "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8))),
            "aliases count each time", id="billion-laughs"),
        pytest.param(lambda tmp: _write(tmp, "name: x\n[1, 2]: 3\n"), "a key must be a plain value", id="list-as-key"),
        pytest.param(lambda tmp: Path("/dev/zero"), "not a regular file", id="dev-zero"),
    ],
)
def test_a_hostile_file_is_one_quick_problem(tmp_path, make, fragment):
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(make(tmp_path))
    (path, message), = caught.value.problems
    assert path == "" and fragment in message
    assert time.perf_counter() - started < 10  # not minutes, as expanding the aliases took


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match="not a regular file"):
        load_scenario(fifo)


def test_scientific_notation_with_a_leading_dot_is_a_number(tmp_path):
    assert load_scenario(_write(tmp_path, _oct10_text("price_usd: 2.0", "price_usd: .2e1"))).assets["ALT"].price_usd == 2.0
