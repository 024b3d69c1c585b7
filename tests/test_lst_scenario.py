"""Liquid staking tokens in a scenario (assets.X.lst, oracle lst_index): outside the chain an LST
is worth its rate times its underlying at every block; on chain the lending oracle and the perp
index read w × its pool's spot + (1 − w) × rate × the underlying's feed; bad references are named."""

import copy

import numpy as np
import pandas as pd
import pytest
from test_cascade_run import TINY

from sim.model import run_cascade
from sim.scenario import ScenarioError
from sim.scenario.loading import parse_scenario
from sim.scenario.prices import external_usd

ETH_USD, WBETH_USD, WEIGHT = 3_800.0, 4_066.0, 0.2


def with_lst(**changes) -> dict:
    s = copy.deepcopy(TINY)
    s["assets"]["ETH"] = {"decimals": 18, "price_usd": ETH_USD, "volatility_daily": 0.05}
    s["assets"]["WBETH"] = {"decimals": 18, "price_usd": WBETH_USD, "volatility_daily": 0.3,
                            "lst": {"underlying": "ETH", "spot_weight": WEIGHT}}
    s["pools"] += [{"asset": "ETH", "depth_usd": 5_000_000}, {"asset": "WBETH", "depth_usd": 300_000, "fee_bps": 5}]
    s["lending"]["reserves"] += [
        {"asset": "WBETH", "oracle": "lst_index", "ltv_bps": 7500, "liquidation_threshold_bps": 8000, "liquidation_bonus_bps": 10500},
        {"asset": "ETH", "oracle": "external", "ltv_bps": 8000, "liquidation_threshold_bps": 8300, "liquidation_bonus_bps": 10500},
    ]
    s["agents"]["arbitrageurs"] = [{"count": 1, "capital_usd": 2_000_000, "threshold": 0.001, "pools": ["WBETH", "ETH"],
                                    "perp_markets": []}]  # move the LST's pool, so that its spot is not its start
    s.update(changes)
    return s


def test_outside_the_chain_an_lst_follows_its_underlying_at_its_rate():
    scenario = parse_scenario(with_lst(), "lst")
    usd = external_usd(scenario, np.random.default_rng(3))
    symbols = list(scenario.assets)
    ratio = usd[:, symbols.index("WBETH")] / usd[:, symbols.index("ETH")]
    assert np.allclose(ratio, WBETH_USD / ETH_USD, rtol=1e-12)  # its own volatility is not its own
    assert usd[:, symbols.index("ETH")].std() > 0  # and the underlying does move


def test_the_lending_oracle_reads_the_collateral_index(tmp_path):
    result = run_cascade(parse_scenario(with_lst(), "lst"), tmp_path / "out", progress=False, backend="revm", report=False)
    rows = pd.read_parquet(tmp_path / "out" / "timeseries.parquet")
    wbeth, eth = rows[rows["asset"] == "WBETH"].set_index("block"), rows[rows["asset"] == "ETH"].set_index("block")
    rate = WBETH_USD / ETH_USD
    # the index from its rule, on the pool's spot and the ETH feed (ETH's own lending oracle) of each block
    expected = WEIGHT * wbeth["amm_price_usd"] + (1 - WEIGHT) * rate * eth["oracle_price_usd"]
    assert np.allclose(wbeth["oracle_price_usd"], expected, rtol=1e-7)
    assert wbeth["amm_price_usd"].nunique() > 1 and wbeth["oracle_price_usd"].nunique() > 1  # it moved, and the index with it
    assert result.summary["status"] == "completed"


@pytest.mark.parametrize("change, where, message", [
    (lambda s: s["assets"]["WBETH"]["lst"].update(underlying="SOL"), "assets.WBETH.lst.underlying", "'SOL' is not an asset"),
    (lambda s: s["assets"]["WBETH"]["lst"].update(underlying="USDC"), "assets.WBETH.lst.underlying", "no LST itself"),
    (lambda s: s["lending"]["reserves"][1].update(oracle="lst_index"), "lending.reserves[1].oracle", "'ALT' has no lst"),
])
def test_bad_references_are_named(change, where, message):
    data = with_lst()
    change(data)
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(data, "lst")
    assert any(path == where and message in text for path, text in raised.value.problems), raised.value.problems
