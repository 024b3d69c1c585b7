"""The same liquidations on our LendingPool and on the real Aave V3 pool (sim/fork/differential.py):
every difference is a documented one, and Aave's close factor is what its v3.0.2 code says."""

import csv
import io
from pathlib import Path

import pytest

from sim.fork.differential import (
    CASES,
    COLUMNS,
    MAX_UINT256,
    QUANTITIES,
    Row,
    _position,
    differential,
    differential_scenario,
    explain,
    to_csv,
)
from sim.fork.upstream import upstream_artifacts
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = differential_scenario(load_scenario(ROOT / "scenarios" / "oct10.yaml"))


@pytest.fixture(scope="module")
def artifacts():
    return upstream_artifacts()


@pytest.fixture(scope="module")
def rows(artifacts):
    return differential(SCENARIO, artifacts)


def value(rows, case, quantity, which):
    (row,) = [r for r in rows if r.case.startswith(case) and r.quantity == quantity]
    return getattr(row, which)


def test_every_case_and_quantity_is_equal_or_carries_its_documented_reason(rows):
    assert [(r.case, r.quantity) for r in rows] == [(c.name, q) for c in CASES for q in QUANTITIES]
    unexplained = [r for r in rows if not r.equal and not r.note]
    assert not unexplained
    assert all(r.note == "" for r in rows if r.equal)


def test_at_hf_exactly_0_95_aave_repays_all_of_the_debt_and_so_do_we(rows):
    debt = _position(SCENARIO, "ETH", 9_500).debt_units
    for which in ("aave_v3", "builtin"):
        assert value(rows, "b_", "hf_before", which) == 95 * 10**16
        assert value(rows, "b_", "debt_repaid", which) == debt
        assert value(rows, "b_", "hf_after", which) == MAX_UINT256  # nothing left owed


def test_between_0_95_and_1_half_of_the_debt_and_below_all_of_it(rows):
    for which in ("aave_v3", "builtin"):
        assert value(rows, "a_", "debt_repaid", which) == _position(SCENARIO, "ETH", 9_800).debt_units // 2
        assert value(rows, "c_", "debt_repaid", which) == _position(SCENARIO, "ETH", 9_200).debt_units


def test_a_capped_liquidation_takes_all_the_collateral_for_less_than_the_debt(rows):
    capped = _position(SCENARIO, "ETH", None)
    for which in ("aave_v3", "builtin"):
        assert value(rows, "d_", "collateral_seized", which) == capped.collateral_units
        assert 0 < value(rows, "d_", "debt_repaid", which) < capped.debt_units
    assert value(rows, "d_", "hf_after", "aave_v3") == 0  # v3.0.2 leaves the bad debt
    assert value(rows, "d_", "hf_after", "builtin") == MAX_UINT256  # ours writes it off (v3.3 deficit)


def test_the_protocol_fee_reaches_the_treasury_in_both(rows):
    for which in ("aave_v3", "builtin"):
        assert value(rows, "e_", "fee_to_treasury", which) > 0
        assert all(value(rows, case, "fee_to_treasury", which) == 0 for case in ("a_", "b_", "c_", "d_"))


def test_an_unexpected_difference_gets_no_note_and_the_csv_has_the_agreed_columns():
    assert explain("collateral_seized", 10, 9) != ""  # ours 1 wei above: documented
    assert explain("collateral_seized", 9, 10) == ""  # ours below Aave's: not a documented rounding
    assert explain("debt_repaid", 12, 10) == ""  # 2 wei: more than rounding
    assert explain("hf_after", MAX_UINT256, 0) != ""
    assert explain("hf_after", 0, MAX_UINT256) == ""
    text = to_csv([Row("x", "debt_repaid", 1, 1), Row("x", "hf_after", MAX_UINT256, 0, "why")])
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert tuple(parsed[0]) == COLUMNS
    assert parsed[0]["equal"] == "true" and parsed[1]["equal"] == "false" and parsed[1]["note"] == "why"
    assert int(parsed[1]["builtin"]) == MAX_UINT256
