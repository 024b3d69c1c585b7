"""The scenario schema: typed, frozen objects for everything a run needs — assets, pools,
lending reserves, perp markets, agent populations and the external price shock.

:mod:`sim.scenario.loading` reads YAML into these, and :mod:`sim.scenario.checks` adds the
problems one field cannot see alone. Each population section knows its own cross-references
(``reference_problems``) and the leverage it may use (``leverage_bounds``), so the checks never
list the populations: :attr:`Agents.model_fields` is the one list of them.

Units: USD amounts are human numbers (``depth_usd: 2_000_000``); parameters the contracts take in
basis points keep ``_bps``; fractions are plain numbers in [0, 1]; times are seconds (``_s``) or
blocks (``_blocks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Iterator, Literal

from pydantic import AfterValidator, Field, model_validator

from sim.scenario.base import (  # noqa: F401 - the bounds and the error belong to the schema's vocabulary
    MAX_AGENTS,
    MAX_BETA,
    MAX_BLOCKS,
    MAX_DECIMALS,
    MAX_GAS,
    MAX_PRICE_USD,
    MAX_USD,
    MAX_VOLATILITY_DAILY,
    MIN_CRASHED_PRICE_USD,
    MIN_PRICE_USD,
    Address,
    Bps,
    Fraction,
    OptionalUsdAmount,
    OracleKind,
    ScenarioError,
    Symbol,
    TokenAmount,
    Uint32,
    UsdAmount,
    _Strict,
)
from sim.scenario.expectations import Expectation, parse_expectation
from sim.scenario.distributions import Distribution, LogNormal, Uniform, bounds, typical_high  # noqa: F401

if TYPE_CHECKING:
    from sim.scenario.checks import Checks

# ---------------------------------------------------------------- market structure


class LiquidStaking(_Strict):
    """A liquid staking token (wBETH-, BNSOL-like): outside the chain it is worth what it redeems
    for, ``rate`` × its underlying's price, with rate = its ``price_usd`` / the underlying's; a
    reserve or market with oracle ``lst_index`` reads w × its pool's spot + (1 − w) × rate ×
    the underlying's feed (w = ``spot_weight``: 0.2 for wBETH, 0.3 for BNSOL)."""

    underlying: Symbol
    spot_weight: Fraction = 0.2


class Asset(_Strict):
    decimals: Annotated[int, Field(ge=0, le=MAX_DECIMALS)]
    price_usd: Annotated[float, Field(ge=MIN_PRICE_USD, le=MAX_PRICE_USD)]
    volatility_daily: Annotated[float, Field(ge=0.0, le=MAX_VOLATILITY_DAILY)] = 0.0
    beta_to_btc: Annotated[float, Field(ge=-MAX_BETA, le=MAX_BETA)] = 0.0
    stable: bool = False
    # A token that already lives on the chain the run forks (README, "Fork experiments"): the run
    # deploys none and funds agents by writing their balances; None: the run deploys a SimToken.
    address: Address | None = None
    lst: LiquidStaking | None = None  # a liquid staking token of ``lst.underlying``


UNISWAP_V2_FEE_BPS = 30


class Pool(_Strict):
    """A constant-product pool of ``asset`` against the scenario's stablecoin: our own
    ConstantProductPool (``builtin``, deployed by the run) or a Uniswap V2 pair that already lives
    on the forked chain, traded through a V2 router (``uniswap_v2``)."""

    asset: Symbol
    kind: Literal["builtin", "uniswap_v2"] = "builtin"
    pair: Address | None = None  # uniswap_v2: the pair of asset and stablecoin
    router: Address | None = None  # uniswap_v2: a UniswapV2Router02 of the pair's factory
    # USD value of each side at the starting price that the run's liquidity providers deposit
    # (a uniswap_v2 pair keeps the liquidity it already has on top; there it may be 0)
    depth_usd: OptionalUsdAmount
    fee_bps: Annotated[int, Field(ge=0, le=9_999)] = 30  # the pool's MAX_FEE_BPS; a V2 pair's is 30
    twap_window_s: Annotated[int, Field(gt=0, le=86_400)] = 600  # the set-up warms it up block by block
    twap_capacity: Annotated[int, Field(ge=2, le=65_535)] = 64
    market_maker_share: Fraction = 0.0  # part of the depth the market makers provide

    @model_validator(mode="after")
    def _kind_fields(self) -> "Pool":
        if self.kind == "builtin":
            for name in ("pair", "router"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} is only for kind uniswap_v2 (a builtin pool is deployed by the run)")
            if self.depth_usd <= 0:
                raise ValueError("depth_usd must be above 0 for a builtin pool (the run deploys it empty)")
        else:
            missing = [name for name in ("pair", "router") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"kind uniswap_v2 needs {' and '.join(missing)} (the pair's and a V2 router's addresses)")
            if self.fee_bps != UNISWAP_V2_FEE_BPS:
                raise ValueError(f"fee_bps must be {UNISWAP_V2_FEE_BPS} for a uniswap_v2 pair (V2's fixed fee), got {self.fee_bps}")
        return self


class InterestModel(_Strict):
    base_rate_bps: Uint32 = 0
    slope1_bps: Uint32 = 400
    slope2_bps: Uint32 = 6_000
    optimal_utilization_bps: Annotated[int, Field(gt=0, lt=10_000)] = 8_000


class Reserve(_Strict):
    asset: Symbol
    oracle: OracleKind = "external"
    ltv_bps: Bps
    liquidation_threshold_bps: Bps
    liquidation_bonus_bps: Annotated[int, Field(ge=10_000, le=20_000)]
    borrowing_enabled: bool = True
    liquidation_protocol_fee_bps: Bps = 0
    supply_cap: TokenAmount = 0.0  # token units; 0 = no cap
    borrow_cap: TokenAmount = 0.0
    interest: InterestModel = InterestModel()
    passive_supply_usd: OptionalUsdAmount = 0.0  # supplied at the start by a passive lender

    @model_validator(mode="after")
    def _listing_rule(self) -> "Reserve":
        if self.ltv_bps > self.liquidation_threshold_bps:
            raise ValueError(f"ltv_bps ({self.ltv_bps}) must not exceed liquidation_threshold_bps ({self.liquidation_threshold_bps})")
        if self.liquidation_threshold_bps * self.liquidation_bonus_bps > 10_000 * 10_000:
            raise ValueError("liquidation_threshold_bps × liquidation_bonus_bps must not exceed 100%")
        return self


AAVE_CLOSE_FACTOR_BPS = 5_000  # Aave V3's DEFAULT_LIQUIDATION_CLOSE_FACTOR
AAVE_FULL_LIQUIDATION_HEALTH_FACTOR = 0.95  # Aave V3's CLOSE_FACTOR_HF_THRESHOLD


class Lending(_Strict):
    """The lending venue: our LendingPool (``builtin``, deployed by the run) or an Aave V3 Pool
    that already lives on the forked chain (``aave_v3``), under Aave v3.0–3.2 or v3.3 liquidation
    rules (``rules``: what LendingPool applies, or which rules the Aave pool's version has)."""

    kind: Literal["builtin", "aave_v3"] = "builtin"
    pool: Address | None = None  # aave_v3: the Pool (its proxy); the rest is read from the chain
    rules: Literal["v3.0", "v3.3"] = "v3.0"
    close_factor_bps: Annotated[int, Field(gt=0, le=10_000)] = 5_000
    full_liquidation_health_factor: Annotated[float, Field(ge=0.0, le=1.0)] = 0.95
    max_oracle_age_s: Annotated[int, Field(ge=0, lt=2**32)] = 0
    reserves: Annotated[list[Reserve], Field(min_length=1)]

    @model_validator(mode="after")
    def _kind_fields(self) -> "Lending":
        if self.kind == "builtin":
            if self.pool is not None:
                raise ValueError("pool is only for kind aave_v3 (the builtin LendingPool is deployed by the run)")
            return self
        if self.pool is None:
            raise ValueError("kind aave_v3 needs pool: the address of the Aave V3 Pool (proxy) on the forked chain")
        fixed = {"close_factor_bps": AAVE_CLOSE_FACTOR_BPS, "full_liquidation_health_factor": AAVE_FULL_LIQUIDATION_HEALTH_FACTOR,
                 "max_oracle_age_s": 0}
        for name, value in fixed.items():
            if getattr(self, name) != value:
                raise ValueError(f"{name} is fixed by Aave V3 ({value}); remove it or set it to {value}")
        return self


class Funding(_Strict):
    interval_s: Annotated[int, Field(gt=0, lt=2**32)] = 3_600
    factor: Annotated[float, Field(ge=0.0, le=100.0)] = 1.0
    max_rate_per_interval: Fraction = 0.0075


class Liquidation(_Strict):
    """How a market liquidates: the minimum position, chunks for large positions, and the fee the
    insurance fund pays the liquidator of a bankrupt position."""

    min_position_usd: OptionalUsdAmount = 0.0  # least open notional a position may keep
    partial_above_usd: OptionalUsdAmount | None = None  # above this notional, chunks (None: never)
    max_fraction: Annotated[float, Field(ge=0.01, le=1.0)] = 0.2  # largest chunk, share of the size
    cooldown_s: Annotated[int, Field(ge=0, lt=2**32)] = 30  # between two chunks of one position
    max_fund_fee_usd: OptionalUsdAmount = 0.0  # most the fund pays a bankrupt position's liquidator


class PerpMarket(_Strict):
    asset: Symbol
    depth_usd: UsdAmount  # virtual quote reserve; the virtual base is depth / price
    index_oracle: OracleKind = "external"
    # What margin checks, liquidations and ADL scores read: the vAMM price ("mark" is its old
    # name), the index, or the median of index × (1 + funding rate), index + EMA(vAMM − index), vAMM.
    margin_price_source: Literal["vamm", "mark", "index", "median"] = "vamm"
    mark_ema_s: Annotated[int, Field(ge=0, lt=2**32)] = 150  # the median mark's EMA time constant
    initial_margin_bps: Annotated[int, Field(gt=0, le=10_000)]
    maintenance_margin_bps: Annotated[int, Field(gt=0, le=10_000)]
    liquidation_fee_bps: Bps = 100
    trading_fee_bps: Bps = 5
    funding: Funding = Funding()
    liquidation: Liquidation = Liquidation()

    @model_validator(mode="after")
    def _margins(self) -> "PerpMarket":
        if not self.maintenance_margin_bps < self.initial_margin_bps:
            raise ValueError(
                f"maintenance_margin_bps ({self.maintenance_margin_bps}) must be below initial_margin_bps ({self.initial_margin_bps})"
            )
        if not self.trading_fee_bps < self.maintenance_margin_bps:
            raise ValueError(
                f"trading_fee_bps ({self.trading_fee_bps}) must be below maintenance_margin_bps ({self.maintenance_margin_bps})"
            )
        if self.margin_price_source == "median" and self.mark_ema_s == 0:
            raise ValueError("mark_ema_s must be above 0 with margin_price_source median (0 would make one block's push the EMA)")
        return self


class Perp(_Strict):
    insurance_fund_usd: OptionalUsdAmount = 0.0
    adl_enabled: bool = True
    markets: Annotated[list[PerpMarket], Field(min_length=1)]


# ---------------------------------------------------------------- agents


class _Population(_Strict):
    count: Annotated[int, Field(gt=0, le=100_000)]
    capital_usd: Distribution
    latency_blocks: Annotated[int, Field(ge=0, le=1_000)] = 0
    gas_price_gwei: Distribution = 1.0  # the bid orders transactions within a block

    def reference_problems(self, scenario: "Scenario", path: str, checks: "Checks") -> None:
        """Add to ``checks`` what is wrong between this population (at ``path``) and the rest."""

    def leverage_bounds(self, scenario: "Scenario") -> list[tuple[str, float, list[str]]]:
        """``(field, highest value, markets)`` for every perp leverage the population may use."""
        return []


class Whales(_Population):
    """Supply altcoin collateral, borrow the stablecoin close to the line, go long on perps."""

    collateral_asset: Symbol
    perp_market: Symbol
    target_health_factor: Distribution
    leverage: Distribution
    spare_fraction: Fraction = 0.1  # share of the borrowed stablecoin kept for top-ups
    topup_health_factor: Annotated[float, Field(gt=0.0, le=100.0)] = 1.03
    topup_margin_ratio: Fraction = 0.08

    def reference_problems(self, scenario: "Scenario", path: str, checks: "Checks") -> None:
        s = scenario
        if checks.need_asset(f"{path}.collateral_asset", self.collateral_asset):
            reserve = s.reserve_of(self.collateral_asset)
            if reserve is None or reserve.liquidation_threshold_bps == 0:
                checks.add(f"{path}.collateral_asset", f"{self.collateral_asset!r} is not collateral in lending.reserves")
        if checks.need_asset(f"{path}.perp_market", self.perp_market) and s.market_of(self.perp_market) is None:
            checks.add(f"{path}.perp_market", f"no perp market for {self.perp_market!r}")
        if s.pool_of(self.collateral_asset) is None and self.collateral_asset in s.assets:
            checks.add(f"{path}.collateral_asset", f"no pool for {self.collateral_asset!r}: its collateral could not be sold")
        low_hf, _ = bounds(self.target_health_factor)
        if low_hf <= 1.0:
            checks.add(f"{path}.target_health_factor", f"must stay above 1 (lowest possible value {low_hf})")
        low_lev, _ = bounds(self.leverage)
        if low_lev < 1.0:
            checks.add(f"{path}.leverage", f"must be at least 1 (lowest possible value {low_lev})")

    def leverage_bounds(self, scenario: "Scenario") -> list[tuple[str, float, list[str]]]:
        return [("leverage", bounds(self.leverage)[1], [self.perp_market])]


class MarketMakers(_Population):
    """Pool liquidity and spot inventory financed by borrowing; perp shorts keep them neutral."""

    asset: Symbol
    perp_market: Symbol
    stable_share: Fraction = 0.3  # part of the capital held in the stablecoin rather than the asset
    collateral_share: Fraction = 0.5  # part of the altcoin capital supplied to lending
    stable_reserve_share: Fraction = 0.0  # part of its stablecoins kept in the wallet for re-hedging
    target_health_factor: Distribution = 2.0
    hedge_leverage: Distribution = 3.0
    rehedge_interval_blocks: Annotated[int, Field(gt=0, le=1_000_000)] = 10
    rehedge_threshold: Fraction = 0.1  # re-hedge when |delta| exceeds this share of the inventory
    volatility_window_blocks: Annotated[int, Field(ge=2, le=1_000)] = 10
    withdraw_volatility: Annotated[float, Field(ge=0.0, le=10.0)] = 0.02  # per-block stdev of pool log returns

    def reference_problems(self, scenario: "Scenario", path: str, checks: "Checks") -> None:
        s = scenario
        if checks.need_asset(f"{path}.asset", self.asset):
            if s.pool_of(self.asset) is None:
                checks.add(f"{path}.asset", f"no pool for {self.asset!r} to make a market in")
            reserve = s.reserve_of(self.asset)
            if self.collateral_share > 0 and (reserve is None or reserve.liquidation_threshold_bps == 0):
                checks.add(f"{path}.collateral_share", f"{self.asset!r} is not collateral in lending.reserves")
        if checks.need_asset(f"{path}.perp_market", self.perp_market) and s.market_of(self.perp_market) is None:
            checks.add(f"{path}.perp_market", f"no perp market for {self.perp_market!r}")
        if bounds(self.target_health_factor)[0] <= 1.0:
            checks.add(f"{path}.target_health_factor", "must stay above 1")
        if bounds(self.hedge_leverage)[0] < 1.0:
            checks.add(f"{path}.hedge_leverage", "must be at least 1")

    def leverage_bounds(self, scenario: "Scenario") -> list[tuple[str, float, list[str]]]:
        return [("hedge_leverage", bounds(self.hedge_leverage)[1], [self.perp_market])]


class Liquidators(_Population):
    """Find unhealthy lending accounts and perp positions; sell seized collateral at once (or, with
    ``receive_a_token``, keep it supplied in the lending venue: nothing to sell, no idle cash needed);
    with ``require_profit``, only the liquidations that pay after slippage and gas."""

    max_slippage: Fraction = 0.05
    receive_a_token: bool = False
    # liquidate only when it pays: a loan's seized collateral, sold into its pool, must return more
    # than the repayment plus gas; a perp position's fee must be above the gas
    require_profit: bool = False
    # the longest list of opposite positions one perp liquidation offers for ADL: each costs 100,000
    # gas (sim/protocol/gas.py; 160 keep a liquidation under 2**24), and a list too short for a
    # large bankrupt position leaves the rest to the vAMM and the fund (bad debt); a scenario's
    # lower tx_gas_cap shortens the list to what fits
    max_adl_counterparties: Annotated[int, Field(ge=0, le=160)] = 8


class Arbitrageurs(_Population):
    """Trade the pools toward the external price and the perp mark toward the index."""

    threshold: Fraction = 0.005
    gap_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5  # share of a price gap one arbitrageur closes per block
    max_trade_fraction: Fraction = 0.5  # most of its stablecoin capital in one trade
    refill_delay_blocks: Annotated[int, Field(ge=0, le=1_000_000)] = 25
    perp_leverage: Annotated[float, Field(gt=0.0, le=1_000.0)] = 2.0
    pools: Annotated[list[Symbol], Field(min_length=1)] | None = None  # pools it trades (default: all), capital split by depth
    perp_markets: list[Symbol] | None = None  # perp markets it trades (default: all; [] for none)

    def reference_problems(self, scenario: "Scenario", path: str, checks: "Checks") -> None:
        for j, symbol in enumerate(self.pools or []):
            if checks.need_asset(f"{path}.pools[{j}]", symbol) and scenario.pool_of(symbol) is None:
                checks.add(f"{path}.pools[{j}]", f"no pool for {symbol!r}")
        for j, symbol in enumerate(self.perp_markets or []):
            if checks.need_asset(f"{path}.perp_markets[{j}]", symbol) and scenario.market_of(symbol) is None:
                checks.add(f"{path}.perp_markets[{j}]", f"no perp market for {symbol!r}")

    def leverage_bounds(self, scenario: "Scenario") -> list[tuple[str, float, list[str]]]:
        markets = [m.asset for m in scenario.perp.markets] if self.perp_markets is None else self.perp_markets
        return [("perp_leverage", self.perp_leverage, markets)]


class Noise(_Population):
    trade_probability: Fraction = 0.1
    trade_fraction: Fraction = 0.05
    perp_leverage: Annotated[float, Field(gt=0.0, le=1_000.0)] = 3.0

    def leverage_bounds(self, scenario: "Scenario") -> list[tuple[str, float, list[str]]]:
        return [("perp_leverage", self.perp_leverage, [m.asset for m in scenario.perp.markets])]


class Traders(_Population):
    """Leveraged perp traders: each opens one position with all its capital at a drawn
    ``leverage``, long with probability ``long_share``, on a market drawn by the weights of
    ``perp_markets``, at a block drawn uniformly from the ``entry_window_blocks`` blocks that start
    at ``entry_start_block``; then holds it."""

    perp_markets: Annotated[dict[Symbol, Annotated[float, Field(gt=0.0, le=1e6)]], Field(min_length=1)]
    leverage: Distribution
    long_share: Fraction = 0.5
    entry_start_block: Annotated[int, Field(ge=1, le=MAX_BLOCKS)] = 1
    entry_window_blocks: Annotated[int, Field(ge=1, le=MAX_BLOCKS)] = 1

    def reference_problems(self, scenario: "Scenario", path: str, checks: "Checks") -> None:
        for symbol in self.perp_markets:
            if checks.need_asset(f"{path}.perp_markets.{symbol}", symbol) and scenario.market_of(symbol) is None:
                checks.add(f"{path}.perp_markets.{symbol}", f"no perp market for {symbol!r}")
        if bounds(self.leverage)[0] < 1.0:
            checks.add(f"{path}.leverage", f"must be at least 1 (lowest possible value {bounds(self.leverage)[0]})")
        last = self.entry_start_block + self.entry_window_blocks - 1
        if last > scenario.blocks:
            checks.add(f"{path}.entry_window_blocks", f"entries would run to block {last}, after the last block ({scenario.blocks})")

    def leverage_bounds(self, scenario: "Scenario") -> list[tuple[str, float, list[str]]]:
        return [("leverage", bounds(self.leverage)[1], list(self.perp_markets))]


class Keeper(_Strict):
    """Pushes external prices into the feeds (heartbeat and deviation), updates TWAPs, settles funding."""

    heartbeat_s: Annotated[int, Field(gt=0, lt=2**32)] = 3_600
    deviation_bps: Annotated[int, Field(ge=0, le=10_000)] = 50
    gas_price_gwei: Annotated[float, Field(ge=0.0, le=1e6)] = 50.0


class Attackers(_Population):
    """An attacker running one strategy against the venues from ``start_block`` (``ape run audit``
    finds the least capital that makes it pay; sim/agents/ has one file per strategy):

    - ``spot_pump``: buy ``asset`` in its pool, supply it, borrow the stablecoin at the pumped
      price in the same block, walk away;
    - ``twap_hold``: pump the pool and hold the price for ``hold_blocks`` against arbitrage, then
      borrow against the averaged price;
    - ``mark_push``: short ``asset``'s perp to push its vAMM, liquidate the longs, close the short;
    - ``short_dump``: short ``asset``'s perp, sell ``asset`` into its pool, close after ``hold_blocks``;
    - ``depeg``: dump the liquid staking token ``asset`` on its pool, liquidate the borrowers its
      collateral index leaves under water, buy it back."""

    strategy: Literal["spot_pump", "twap_hold", "mark_push", "short_dump", "depeg"]
    asset: Symbol
    start_block: Annotated[int, Field(ge=1, le=MAX_BLOCKS)] = 1
    hold_blocks: Annotated[int, Field(ge=1, le=MAX_BLOCKS)] = 10
    leverage: Annotated[float, Field(ge=1.0, le=100.0)] = 5.0

    def reference_problems(self, scenario: "Scenario", path: str, checks: "Checks") -> None:
        s = scenario
        if checks.need_asset(f"{path}.asset", self.asset):
            if self.strategy != "mark_push" and s.pool_of(self.asset) is None:
                checks.add(f"{path}.asset", f"no pool for {self.asset!r} to trade it in")
            reserve = s.reserve_of(self.asset)
            if self.strategy in ("spot_pump", "twap_hold") and (reserve is None or reserve.ltv_bps == 0):
                checks.add(f"{path}.asset", f"{self.asset!r} cannot be borrowed against in lending.reserves (ltv_bps 0)")
            if self.strategy == "mark_push" and s.market_of(self.asset) is None:
                checks.add(f"{path}.asset", f"no perp market for {self.asset!r} to push")
        if self.start_block > s.blocks:
            checks.add(f"{path}.start_block", f"must be at most blocks ({s.blocks}), got {self.start_block}")


class Agents(_Strict):
    whales: list[Whales] = []
    market_makers: list[MarketMakers] = []
    liquidators: list[Liquidators] = []
    arbitrageurs: list[Arbitrageurs] = []
    noise: list[Noise] = []
    traders: list[Traders] = []
    attackers: list[Attackers] = []


# ---------------------------------------------------------------- the shock


class Crash(_Strict):
    start_block: Annotated[int, Field(ge=0, le=MAX_BLOCKS)]
    duration_blocks: Annotated[int, Field(gt=0, le=MAX_BLOCKS)]
    size: dict[Symbol, Annotated[float, Field(ge=0.0, lt=1.0)]]  # fraction of the price lost
    recovery: Fraction = 0.0  # share of the loss regained over recovery_blocks after the crash
    recovery_blocks: Annotated[int, Field(ge=0, le=MAX_BLOCKS)] = 0


class Shock(_Strict):
    random_walk: bool = True
    crash: Crash | None = None


def _calibration_file(path: str) -> str:
    """The targets file as an absolute path (a relative one is the working directory's; a scenario
    file's own is resolved against its folder by :func:`~sim.scenario.loading.load_scenario`), which
    must exist: what it holds is checked by :mod:`sim.calibration.targets` before any run."""
    from pathlib import Path

    resolved = Path(path).expanduser().resolve()
    if not resolved.is_file():
        raise ValueError(f"no calibration targets file at {resolved}" + ("" if not resolved.exists() else " (not a file)"))
    return str(resolved)


def _expectation(text: str) -> str:
    parse_expectation(text)  # ValueError: pydantic names the item (expect[0])
    return text


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    seed: Annotated[int, Field(ge=0, lt=2**63)]
    blocks: Annotated[int, Field(gt=0, le=MAX_BLOCKS)]
    block_time_s: Annotated[int, Field(gt=0, le=3_600)] = 12
    start_timestamp_s: Annotated[int, Field(gt=0, lt=2**40)] = 2_000_000_000
    # Block space of every simulated block: the sum of the gas limits of a block's transactions
    # stays within block_gas_limit (the rest wait for a later block), and no transaction may carry
    # more than tx_gas_cap (EIP-7825's 2**24). Set-up blocks are not limited.
    block_gas_limit: Annotated[int, Field(gt=0, le=MAX_GAS)] = 30_000_000
    tx_gas_cap: Annotated[int, Field(gt=0, le=MAX_GAS)] = 16_777_216
    stablecoin: Symbol
    assets: Annotated[dict[Symbol, Asset], Field(min_length=2)]
    pools: list[Pool] = []
    lending: Lending
    perp: Perp
    keeper: Keeper = Keeper()
    agents: Agents
    shock: Shock = Shock()
    # Assertions on the run's summary figures (sim/scenario/expectations.py): a run whose
    # expectations fail exits 1 (its outputs written, with expect.json saying which).
    expect: list[Annotated[str, AfterValidator(_expectation)]] = []
    # Calibration targets (calibration/oct10_targets.yaml): every run writes calibration.json, its
    # figures scored against them. Relative to the scenario file's folder; held as an absolute path.
    calibration: Annotated[str, Field(min_length=1), AfterValidator(_calibration_file)] | None = None

    def expectations(self) -> list[Expectation]:
        return [parse_expectation(text) for text in self.expect]

    def pool_of(self, symbol: str) -> Pool | None:
        return next((p for p in self.pools if p.asset == symbol), None)

    def reserve_of(self, symbol: str) -> Reserve | None:
        return next((r for r in self.lending.reserves if r.asset == symbol), None)

    def market_of(self, symbol: str) -> PerpMarket | None:
        return next((m for m in self.perp.markets if m.asset == symbol), None)

    @property
    def volatile_assets(self) -> list[str]:
        return [symbol for symbol in self.assets if symbol != self.stablecoin]

    def populations(self) -> Iterator[tuple[str, int, _Population]]:
        """``(section, index, population)`` for every agent population, in the schema's order."""
        for section in Agents.model_fields:
            for i, population in enumerate(getattr(self.agents, section)):
                yield section, i, population
