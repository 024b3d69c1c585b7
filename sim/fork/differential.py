"""The same liquidations on our LendingPool and on the real Aave V3 pool, side by side.

Both pools live on one upstream chain (:mod:`sim.fork.upstream`), read the same MockAggregator
feeds and hold the same tokens and parameters (the scenario's reserves, with zero interest rates
so that every index stays at 1 RAY and the comparison is exact). For each case, one borrower
opens the same position in both pools, the collateral's feed is set so that the health factor
is the case's, and one liquidator liquidates it in each pool in turn (``debtToCover`` = max:
as much as each pool's rules allow, collateral sent to the liquidator, not aTokens):

(a) HF 0.98, between 0.95 and 1: the 50% close factor;
(b) HF exactly 0.95: Aave repays 100% (its close factor is 50% only *above* 0.95);
(c) HF 0.92: 100%;
(d) HF below liquidation threshold × bonus: the collateral does not cover debt × bonus, all of it
    is seized and the debt repaid is what it buys at the bonus;
(e) HF 0.90 on a collateral with a liquidation protocol fee (10% of the bonus by default).

Quantities (token amounts in native units, health factors in WAD, 2**256 − 1 for no debt):
``debt_repaid`` (the debt asset the liquidator paid), ``collateral_seized`` (the collateral it
received), ``fee_to_treasury`` (Aave: the treasury's aToken balance; ours: its supply claim,
``getUserReserve(treasury, asset)``), ``hf_before``, ``hf_after``. A row that differs carries its
documented explanation; a difference without one has an empty note (the tests refuse it).

``python -m sim.fork.differential [--scenario FILE] [--out FILE.csv]`` runs it on a node of its own.

Written against the LendingPool liquidation API of Aave's signature:
``liquidationCall(collateral, debt, user, debtToCover, receiveAToken)``, full liquidation at
HF ≤ 0.95, the protocol fee credited to the treasury as a supply claim.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from eth_utils import to_checksum_address

from sim.chain import AnvilBackend, Call, create_address
from sim.chain.abi import encode_constructor
from sim.files import write_atomic
from sim.fork.upstream import Driver, Upstream, anvil_node, build_upstream, fixed_address, upstream_artifacts
from sim.protocol.artifacts import Artifact
from sim.protocol.calls import AAVE_VARIABLE_RATE, Protocol, Token
from sim.protocol.deploy import DEPLOY_GAS, SetupError, lending_configuration_calls
from sim.scenario import Scenario, load_scenario, parse_scenario
from sim.units import BPS, USD_DECIMALS, WAD, to_usd_price

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SCENARIO = ROOT / "scenarios" / "oct10.yaml"
DEFAULT_OUT = ROOT / "bench" / "aave_v3_differential.csv"
MAX_UINT256 = 2**256 - 1
FEE_BPS = 1_000  # case (e): the treasury's share of the liquidation bonus
QUANTITIES = ("debt_repaid", "collateral_seized", "fee_to_treasury", "hf_before", "hf_after")
COLUMNS = ("case", "quantity", "builtin", "aave_v3", "equal", "note")
BORROWER = fixed_address("differential-borrower")
LENDER = fixed_address("differential-lender")
LIQUIDATOR = fixed_address("differential-liquidator")


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    fee_collateral: bool  # on the collateral with the protocol fee (case e)
    health_factor_bps: int | None  # None: capped (below threshold × bonus, see _capped_hf_bps)


CASES = (
    Case("a_close_factor_50", "HF 0.98 (between 0.95 and 1): half the debt", False, 9_800),
    Case("b_hf_exactly_0.95", "HF exactly 0.95: all of the debt", False, 9_500),
    Case("c_hf_below_0.95", "HF 0.92: all of the debt", False, 9_200),
    Case("d_collateral_capped", "HF below threshold × bonus: all the collateral, for less than the debt", False, None),
    Case("e_protocol_fee", f"HF 0.90, {FEE_BPS / 100:g}% of the bonus to the treasury", True, 9_000),
)


@dataclass(frozen=True)
class Row:
    case: str
    quantity: str
    builtin: int
    aave_v3: int
    note: str = ""

    @property
    def equal(self) -> bool:
        return self.builtin == self.aave_v3


# ---------------------------------------------------------------- why a row may differ


@dataclass(frozen=True)
class Explanation:
    """A documented difference: it applies to ``quantity`` when ``holds(builtin, aave_v3)``."""

    quantity: str
    holds: Callable[[int, int], bool]
    text: str


def _ours_above_by_one(builtin: int, aave: int) -> bool:
    return 0 < builtin - aave <= 1


def _hf_close(builtin: int, aave: int) -> bool:
    return builtin != MAX_UINT256 and aave != MAX_UINT256 and abs(builtin - aave) <= WAD // 10**9


EXPLANATIONS = (
    Explanation(
        "collateral_seized", _ours_above_by_one,
        "Aave rounds the collateral's worth of the debt down, then applies the bonus with percentMul "
        "(half-up); ours is one mulDiv of debt × prices × bonus rounded down: 1 wei more to the "
        "liquidator, against the user",
    ),
    Explanation(
        "debt_repaid", _ours_above_by_one,
        "collateral-capped: Aave's debt for all the collateral is its worth percentDiv(bonus), half-up; "
        "ours rounds it up, against the liquidator (never less than the collateral is worth at the bonus)",
    ),
    Explanation(
        "fee_to_treasury", _ours_above_by_one,
        "Aave: bonus = seized − percentDiv(seized, bonus) and fee = percentMul(bonus, fee), both half-up, "
        "on its own seized amount; ours rounds the fee up (the treasury is never short-changed), on a "
        "seized amount rounded once",
    ),
    Explanation(
        "hf_before", _hf_close,
        "Aave's health factor is percentMul/wadDiv half-up; ours rounds down (against the user)",
    ),
    Explanation(
        "hf_after", _hf_close,
        "follows the 1-wei differences above; Aave's health factor is half-up, ours rounded down",
    ),
    Explanation(
        "hf_after", lambda builtin, aave: builtin == MAX_UINT256 and aave == 0,
        "no collateral left: our LendingPool writes the remaining debt off into the reserve's deficit "
        "(Aave v3.3), so the account owes nothing; Aave v3.0.2 leaves the bad debt on it (HF 0)",
    ),
)


def explain(quantity: str, builtin: int, aave: int) -> str:
    """The documented reason ``builtin`` and ``aave`` differ, or "" (none: an unexplained difference)."""
    if builtin == aave:
        return ""
    return next((e.text for e in EXPLANATIONS if e.quantity == quantity and e.holds(builtin, aave)), "")


# ---------------------------------------------------------------- set-up


def differential_scenario(base: Scenario, collateral: str = "ETH", fee_collateral: str = "BTC",
                          fee_bps: int = FEE_BPS) -> Scenario:
    """``base`` with every reserve's interest rates at zero, no protocol fee on ``collateral`` and
    ``fee_bps`` on ``fee_collateral``."""
    data = base.model_dump()
    reserves = {r["asset"]: r for r in data["lending"]["reserves"]}
    for symbol in (collateral, fee_collateral):
        if symbol not in reserves or reserves[symbol]["liquidation_threshold_bps"] == 0:
            raise ValueError(f"{symbol!r} is not a collateral reserve of scenario {base.name!r}")
    if not reserves.get(base.stablecoin, {}).get("borrowing_enabled"):
        raise ValueError(f"the stablecoin {base.stablecoin!r} is not a borrowable reserve of scenario {base.name!r}")
    for reserve in reserves.values():
        reserve["interest"].update(base_rate_bps=0, slope1_bps=0, slope2_bps=0)
    reserves[collateral]["liquidation_protocol_fee_bps"] = 0
    reserves[fee_collateral]["liquidation_protocol_fee_bps"] = fee_bps
    return parse_scenario(data, f"{base.name} (differential)")


def deploy_builtin_lending(driver: Driver, artifacts: Mapping[str, Artifact], upstream: Upstream, scenario: Scenario) -> str:
    """Our LendingPool on the upstream chain: the same tokens, the same feeds (for every reserve),
    the scenario's parameters, Aave's treasury. Returns its address."""
    deployer = upstream.deployer
    lending = artifacts["LendingPool"]
    address = to_checksum_address(create_address(deployer, driver.backend.nonce_of(deployer)))
    creation = Call(to=None, data=encode_constructor(lending.bytecode, lending.constructor_types, ()),
                    action="deploy LendingPool", gas=DEPLOY_GAS)
    protocol = Protocol(
        codecs=dict(driver.codecs), stablecoin=scenario.stablecoin, deployer=deployer,
        tokens={s: Token(s, a, scenario.assets[s].decimals) for s, a in upstream.tokens.items()},
        lending=address, lending_oracles=dict(upstream.feeds),
    )
    calls = [creation, *lending_configuration_calls(scenario, protocol),
             driver.call("LendingPool", address, "setTreasury", upstream.aave_v3.treasury)]
    driver.mine("deploying and configuring our LendingPool", [(deployer, c) for c in calls])
    return address


# ---------------------------------------------------------------- the cases


@dataclass(frozen=True)
class _Position:
    collateral: str  # symbol
    collateral_units: int
    debt_units: int
    crash_price8: int
    health_factor_wad: int


def _capped_hf_bps(threshold_bps: int, bonus_bps: int) -> int:
    """A health factor at which the collateral is worth less than debt × bonus
    (HF < threshold × bonus), 0.05 below that line."""
    return threshold_bps * bonus_bps // BPS - 500


def _position(scenario: Scenario, symbol: str, health_factor_bps: int | None) -> _Position:
    """One whole token of ``symbol`` as collateral, a debt of the stablecoin near 80% of the
    borrowing power, and the price at which the health factor is exactly ``health_factor_bps``:
    HF = price × threshold / debt, so price = HF × debt / threshold; the debt is a whole number
    of dollars that makes that price exact in 8 decimals."""
    reserve = scenario.reserve_of(symbol)
    asset, stable = scenario.assets[symbol], scenario.assets[scenario.stablecoin]
    if to_usd_price(stable.price_usd) != 10**USD_DECIMALS:
        raise ValueError(f"the differential needs the stablecoin at $1 (got {stable.price_usd})")
    threshold = reserve.liquidation_threshold_bps
    hf_bps = _capped_hf_bps(threshold, reserve.liquidation_bonus_bps) if health_factor_bps is None else health_factor_bps
    step = threshold // math.gcd(threshold, hf_bps * 10**USD_DECIMALS)  # debt multiple that keeps the price exact
    borrowing_power = int(asset.price_usd * reserve.ltv_bps / BPS * 0.8)
    debt_usd = borrowing_power // step * step
    if debt_usd == 0:
        raise ValueError(f"one {symbol} is worth too little for the differential's positions")
    crash_price8 = hf_bps * debt_usd * 10**USD_DECIMALS // threshold
    return _Position(symbol, 10**asset.decimals, debt_usd * 10**stable.decimals, crash_price8, hf_bps * WAD // BPS)


class _Pools:
    """The two pools and the calls and reads each case makes of them."""

    def __init__(self, driver: Driver, upstream: Upstream, lending: str, stablecoin: str):
        self.driver, self.up, self.lending, self.stable = driver, upstream, lending, stablecoin

    def token(self, symbol: str) -> str:
        return self.up.tokens[symbol]

    def open(self, p: _Position) -> list[tuple[str, Call]]:
        d, up, aave = self.driver, self.up, self.up.aave_v3.pool
        stable, collateral = self.token(self.stable), self.token(p.collateral)
        orders = [
            (up.deployer, d.call("SimToken", collateral, "mint", BORROWER, 2 * p.collateral_units)),
            (up.deployer, d.call("SimToken", stable, "mint", LENDER, 4 * p.debt_units)),
            (up.deployer, d.call("SimToken", stable, "mint", LIQUIDATOR, 2 * p.debt_units)),
        ]
        for pool in (aave, self.lending):
            orders += [(account, d.call("SimToken", token, "approve", pool, MAX_UINT256))
                       for account, token in ((LENDER, stable), (BORROWER, collateral), (LIQUIDATOR, stable))]
        orders += [
            (LENDER, d.call("AavePool", aave, "supply", stable, 2 * p.debt_units, LENDER, 0)),
            (LENDER, d.call("LendingPool", self.lending, "supply", stable, 2 * p.debt_units, LENDER)),
            (BORROWER, d.call("AavePool", aave, "supply", collateral, p.collateral_units, BORROWER, 0)),
            (BORROWER, d.call("LendingPool", self.lending, "supply", collateral, p.collateral_units, BORROWER)),
            (BORROWER, d.call("AavePool", aave, "borrow", stable, p.debt_units, AAVE_VARIABLE_RATE, 0, BORROWER)),
            (BORROWER, d.call("LendingPool", self.lending, "borrow", stable, p.debt_units)),
        ]
        return orders

    def liquidation(self, which: str, p: _Position) -> Call:
        contract, pool = ("AavePool", self.up.aave_v3.pool) if which == "aave_v3" else ("LendingPool", self.lending)
        return self.driver.call(contract, pool, "liquidationCall", self.token(p.collateral), self.token(self.stable),
                                BORROWER, MAX_UINT256, False)

    def health_factor(self, which: str) -> int:
        if which == "aave_v3":
            return self.driver.read("AavePool", self.up.aave_v3.pool, "getUserAccountData", BORROWER).healthFactor
        return self.driver.read("LendingPool", self.lending, "healthFactorOf", BORROWER)[0]

    def treasury_claim(self, which: str, symbol: str) -> int:
        treasury = self.up.aave_v3.treasury
        if which == "aave_v3":
            a_token = self.up.aave_v3.reserves[symbol].a_token
            return self.driver.read("AToken", a_token, "balanceOf", treasury)[0]
        return self.driver.read("LendingPool", self.lending, "getUserReserve", treasury, self.token(symbol)).collateral

    def balance(self, symbol: str, account: str) -> int:
        return self.driver.read("SimToken", self.token(symbol), "balanceOf", account)[0]


def _run_case(pools: _Pools, case: Case, p: _Position) -> list[Row]:
    d, deployer = pools.driver, pools.up.deployer
    d.mine(f"{case.name}: opening the positions", pools.open(p))
    d.mine(f"{case.name}: the collateral's price", [
        (deployer, d.call("MockAggregator", pools.up.feeds[p.collateral], "setAnswer", p.crash_price8))])
    measured: dict[str, dict[str, int]] = {}
    for which in ("aave_v3", "builtin"):  # one after the other: the liquidator's balances tell each apart
        before_debt, before_collateral = pools.balance(pools.stable, LIQUIDATOR), pools.balance(p.collateral, LIQUIDATOR)
        before_fee, hf_before = pools.treasury_claim(which, p.collateral), pools.health_factor(which)
        d.mine(f"{case.name}: liquidation on {which}", [(LIQUIDATOR, pools.liquidation(which, p))])
        measured[which] = {
            "debt_repaid": before_debt - pools.balance(pools.stable, LIQUIDATOR),
            "collateral_seized": pools.balance(p.collateral, LIQUIDATOR) - before_collateral,
            "fee_to_treasury": pools.treasury_claim(which, p.collateral) - before_fee,
            "hf_before": hf_before,
            "hf_after": pools.health_factor(which),
        }
    ours, aave = measured["builtin"], measured["aave_v3"]
    if aave["hf_before"] != p.health_factor_wad:  # the positions are built so that Aave's is exact
        raise RuntimeError(f"{case.name}: Aave's health factor is {aave['hf_before']}, not the case's {p.health_factor_wad}")
    return [Row(case.name, q, ours[q], aave[q], explain(q, ours[q], aave[q])) for q in QUANTITIES]


def run_differential(
    backend: AnvilBackend,
    artifacts: Mapping[str, Artifact],
    upstream: Upstream,
    scenario: Scenario,
    lending: str,
    *,
    collateral: str = "ETH",
    fee_collateral: str = "BTC",
    cases: Sequence[Case] = CASES,
) -> list[Row]:
    """Every case on both pools of an upstream chain built from ``scenario`` (a
    :func:`differential_scenario`) with our LendingPool at ``lending``; each case starts from the
    same chain state (``evm_snapshot`` / ``evm_revert``)."""
    driver = Driver(backend, {n: a.codec for n, a in artifacts.items()})
    backend.fund_gas([BORROWER, LENDER, LIQUIDATOR])
    pools = _Pools(driver, upstream, lending, scenario.stablecoin)
    rows: list[Row] = []
    for case in cases:
        position = _position(scenario, fee_collateral if case.fee_collateral else collateral, case.health_factor_bps)
        snapshot = backend.snapshot()
        try:
            rows += _run_case(pools, case, position)
        finally:
            backend.revert(snapshot)
    return rows


def differential(scenario: Scenario | None = None, artifacts: Mapping[str, Artifact] | None = None) -> list[Row]:
    """Build an upstream chain from (the differential version of) ``scenario`` (default oct10) on
    a node of its own, deploy our LendingPool beside Aave, and run every case."""
    scenario = differential_scenario(load_scenario(DEFAULT_SCENARIO) if scenario is None else scenario)
    artifacts = upstream_artifacts() if artifacts is None else artifacts
    with anvil_node() as uri:
        backend = AnvilBackend(uri)
        upstream = build_upstream(backend, artifacts, scenario)
        driver = Driver(backend, {n: a.codec for n, a in artifacts.items()})
        lending = deploy_builtin_lending(driver, artifacts, upstream, scenario)
        return run_differential(backend, artifacts, upstream, scenario, lending)


def to_csv(rows: Sequence[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow((row.case, row.quantity, row.builtin, row.aave_v3, str(row.equal).lower(), row.note))
    return out.getvalue()


def write_csv(rows: Sequence[Row], path: Path) -> None:
    write_atomic(Path(path), to_csv(rows).encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.fork.differential", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO, help="scenario YAML (default: oct10)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"CSV to write (default: {DEFAULT_OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    try:
        rows = differential(load_scenario(args.scenario))
    except (SetupError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    write_csv(rows, args.out)
    sys.stdout.write(to_csv(rows))
    unexplained = [r for r in rows if not r.equal and not r.note]
    if unexplained:
        print(f"error: {len(unexplained)} difference(s) without an explanation", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
