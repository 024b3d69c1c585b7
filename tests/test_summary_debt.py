"""The summary's lending debt and the lending pool's bad debt as a share of it
(sim/record/metrics.py): the figures a sweep's probability that bad debt exceeds 1% of debt is
taken from."""

import math

import pandas as pd

from sim.record.metrics import fund_figures, lending_debt_figures
from sim.record.summary import BadDebtUsd


def timeseries(debts: list[tuple[float, float]], deficits: list[tuple[float, float]], perp_bad_debt: float) -> pd.DataFrame:
    """Two assets per block: (USDC, ALT) debt and deficit, one perp bad debt for the exchange."""
    rows = []
    for block, ((usdc, alt), (usdc_deficit, alt_deficit)) in enumerate(zip(debts, deficits)):
        for asset, debt, deficit in (("USDC", usdc, usdc_deficit), ("ALT", alt, alt_deficit)):
            rows.append({"block": block, "asset": asset, "lending_debt_usd": debt, "lending_deficit_usd": deficit,
                         "insurance_fund_usd": 100.0, "perp_bad_debt_usd": perp_bad_debt if block == len(debts) - 1 else 0.0,
                         "lending_underwater_usd": 40.0 * block})
    return pd.DataFrame(rows)


def test_the_debt_is_every_reserves_at_the_first_block_and_the_lending_deficit_a_share_of_it():
    frame = timeseries([(900.0, 100.0), (1_100.0, 150.0), (700.0, 0.0)], [(0, 0), (0, 0), (12.0, 3.0)], perp_bad_debt=5.0)
    _, bad_debt = fund_figures(frame)
    debt, share = lending_debt_figures(frame, bad_debt)
    assert (debt.start, debt.max) == (1_000.0, 1_250.0)
    assert bad_debt.total == 20.0 and share == 15.0 / 1_000.0  # the perp's uncovered 5 is no share of lending debt
    assert bad_debt.lending_underwater == 80.0  # the last block's, outside the total


def test_no_debt_gives_no_share():
    frame = timeseries([(0.0, 0.0)], [(0, 0)], perp_bad_debt=7.0)
    debt, share = lending_debt_figures(frame, BadDebtUsd(0.0, 7.0, 7.0))
    assert debt.start == 0.0 and share is None
    missing = frame.assign(lending_debt_usd=math.nan)
    assert lending_debt_figures(missing, BadDebtUsd(0.0, 7.0, 7.0)) == (None, None)


def test_loans_worth_more_than_their_collateral_are_counted_under_water_at_external_prices():
    from agent_fixtures import ALT, USD8, USDC, addr, make_protocol, make_snapshot

    from sim.record.recorder import underwater_usd8

    protocol = make_protocol()
    external = {"USDC": USD8, "ALT": 2 * USD8}
    positions = {
        addr(1): {"ALT": (1_000 * ALT, 0), "USDC": (0, 2_500 * USDC)},  # $2,000 against $2,500: $500 under water
        addr(2): {"ALT": (1_000 * ALT, 0), "USDC": (0, 1_500 * USDC)},  # healthy: counts nothing, offsets nothing
        addr(3): {"USDC": (10_000 * USDC, 0)},  # a lender
        addr(4): {"ALT": (0, 0), "USDC": (0, 30 * USDC)},  # nothing left to seize: $30
    }
    assert underwater_usd8(protocol, make_snapshot(protocol, lending_positions=positions), external) == 530 * USD8
