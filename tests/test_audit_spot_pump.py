"""Attack (a), the spot-oracle pump, against its closed form: on a constant-product pool of depth Y
a side, raising the price m-fold costs Y(√m − 1) and lets the attacker borrow LTV × Y(m − √m);
it pays from √m = 1 / LTV, i.e. from a capital of Y(1 / LTV − 1). The least paying capital the
audit's search finds on the simulator must be within 5% of it (fees and the borrow margin aside)."""

import copy
import math

import pytest
from test_cascade_run import TINY

from sim.audit.attacks import ATTACKS
from sim.audit.probe import probe
from sim.audit.search import least_paying_capital
from sim.protocol import load_artifacts
from sim.scenario.loading import parse_scenario

DEPTH_USD = 1_000_000  # a side
LTV_BPS = 6_000


def pump_target() -> dict:
    """A thin ALT pool read by the lending oracle, plenty of stablecoin to borrow, nobody else."""
    s = copy.deepcopy(TINY)
    s.update(blocks=3, shock={"random_walk": False})
    s["pools"][0].update(depth_usd=DEPTH_USD, fee_bps=30)
    s["lending"]["reserves"][0]["passive_supply_usd"] = 50_000_000
    s["lending"]["reserves"][1].update(oracle="pool_spot", ltv_bps=LTV_BPS)
    s["agents"] = {}
    return s


@pytest.fixture(scope="module")
def artifacts():
    return load_artifacts()


def test_the_least_paying_capital_matches_the_closed_form(tmp_path, artifacts):
    base = parse_scenario(pump_target(), "pump target")
    attack = ATTACKS["spot_pump"]
    assert attack.problem(base, "ALT") is None
    runs = iter(range(1000))

    def evaluate(capital):
        scenario = attack.with_attacker(base, "ALT", capital, start_block=1)
        return probe(scenario, capital, tmp_path / f"probe-{next(runs)}", artifacts)

    search = least_paying_capital(evaluate, max_capital_usd=4 * DEPTH_USD)
    closed_form = DEPTH_USD * (BPS_UNIT / LTV_BPS - 1)
    assert search.min_capital_usd == pytest.approx(closed_form, rel=0.05)
    best = search.best
    assert best.pays and best.protocol_loss_usd > best.attacker_pnl_usd > 0  # the venue loses more than the attacker wins
    # below the line the pump loses what the price impact costs
    losing = [p for p in search.probes if p.capital_usd < 0.9 * closed_form]
    assert losing and all(p.attacker_pnl_usd < 0 for p in losing)


BPS_UNIT = 10_000


def test_closed_form_profit_grows_past_the_line():
    """The rule itself: profit Y(√m − 1)(LTV·√m − 1) is negative below √m = 1/LTV and positive above."""
    ltv = LTV_BPS / BPS_UNIT
    profit = lambda m: DEPTH_USD * (math.sqrt(m) - 1) * (ltv * math.sqrt(m) - 1)
    line = 1 / ltv**2
    assert profit(line * 0.9) < 0 < profit(line * 1.1)
