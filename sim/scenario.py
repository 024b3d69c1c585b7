"""Scenario files: YAML validated up front into typed, frozen objects.

Everything a run needs is here — assets, pools, lending reserves, perp markets, agent
populations and the external price shock — and :func:`load_scenario` either returns a
:class:`Scenario` or raises :class:`ScenarioError` listing every problem by field path
(``agents.whales[0].count: Input should be greater than 0 (got 0)``), before anything runs.

Units: USD amounts are human numbers (``depth_usd: 2_000_000``); parameters the contracts take in
basis points keep ``_bps``; fractions are plain numbers in [0, 1]; times are seconds (``_s``) or
blocks (``_blocks``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, model_validator

Bps = Annotated[int, Field(ge=0, le=10_000)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegativeFloat = Annotated[float, Field(ge=0.0)]
Symbol = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]{0,11}$")]
Uint32 = Annotated[int, Field(ge=0, lt=2**32)]  # what the contracts store these in

OracleKind = Literal["external", "pool_spot", "pool_twap"]


class ScenarioError(ValueError):
    """A scenario file that cannot be run; ``problems`` are ``(field path, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        lines = [f"{path}: {message}" if path else message for path, message in problems]
        super().__init__(f"invalid scenario {source}:\n  " + "\n  ".join(lines))


class _Strict(BaseModel):
    # strict: ``blocks: true`` or ``blocks: "300"`` is an error, not 1 or 300
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# ---------------------------------------------------------------- distributions


class Uniform(_Strict):
    uniform: Annotated[list[float], Field(min_length=2, max_length=2)]

    @model_validator(mode="after")
    def _ordered(self) -> "Uniform":
        low, high = self.uniform
        if low > high:
            raise ValueError(f"uniform bounds must be [low, high] with low <= high, got [{low}, {high}]")
        return self


class LogNormal(_Strict):
    """Median and the standard deviation of the logarithm."""

    lognormal: Annotated[list[float], Field(min_length=2, max_length=2)]

    @model_validator(mode="after")
    def _positive(self) -> "LogNormal":
        median, sigma = self.lognormal
        if median <= 0 or sigma < 0:
            raise ValueError(f"lognormal needs median > 0 and sigma >= 0, got [{median}, {sigma}]")
        return self


def _distribution_kind(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "number"
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in ("uniform", "lognormal") else None
    if isinstance(value, (Uniform, LogNormal)):
        return "uniform" if isinstance(value, Uniform) else "lognormal"
    return None


Distribution = Annotated[
    Union[Annotated[float, Tag("number")], Annotated[Uniform, Tag("uniform")], Annotated[LogNormal, Tag("lognormal")]],
    Discriminator(
        _distribution_kind,
        custom_error_type="distribution",
        custom_error_message="expected a number, {uniform: [low, high]} or {lognormal: [median, sigma]}",
    ),
]
"""A constant, ``{uniform: [low, high]}`` or ``{lognormal: [median, sigma]}``; each agent draws
its own value from the model's generator."""


def bounds(dist: Distribution) -> tuple[float, float]:
    """The smallest and largest value a distribution can give (lognormal: (0, inf))."""
    if isinstance(dist, Uniform):
        return dist.uniform
    if isinstance(dist, LogNormal):
        return (0.0, float("inf"))
    return (float(dist), float(dist))


# ---------------------------------------------------------------- market structure


class Asset(_Strict):
    decimals: Annotated[int, Field(ge=0, le=36)]
    price_usd: PositiveFloat
    volatility_daily: NonNegativeFloat = 0.0
    beta_to_btc: float = 0.0
    stable: bool = False


class Pool(_Strict):
    """A constant-product pool of ``asset`` against the scenario's stablecoin."""

    asset: Symbol
    depth_usd: PositiveFloat  # USD value of each side at the starting price
    fee_bps: Annotated[int, Field(ge=0, le=9_999)] = 30  # the pool's MAX_FEE_BPS
    twap_window_s: Annotated[int, Field(gt=0, lt=2**32)] = 600
    twap_capacity: Annotated[int, Field(ge=2, le=65_535)] = 64
    market_maker_share: Fraction = 0.0  # part of the depth the market makers provide


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
    supply_cap: NonNegativeFloat = 0.0  # token units; 0 = no cap
    borrow_cap: NonNegativeFloat = 0.0
    interest: InterestModel = InterestModel()
    passive_supply_usd: NonNegativeFloat = 0.0  # supplied at the start by a passive lender

    @model_validator(mode="after")
    def _listing_rule(self) -> "Reserve":
        if self.ltv_bps > self.liquidation_threshold_bps:
            raise ValueError(f"ltv_bps ({self.ltv_bps}) must not exceed liquidation_threshold_bps ({self.liquidation_threshold_bps})")
        if self.liquidation_threshold_bps * self.liquidation_bonus_bps > 10_000 * 10_000:
            raise ValueError("liquidation_threshold_bps × liquidation_bonus_bps must not exceed 100%")
        return self


class Lending(_Strict):
    close_factor_bps: Annotated[int, Field(gt=0, le=10_000)] = 5_000
    full_liquidation_health_factor: Annotated[float, Field(ge=0.0, le=1.0)] = 0.95
    max_oracle_age_s: Annotated[int, Field(ge=0)] = 0
    reserves: Annotated[list[Reserve], Field(min_length=1)]


class Funding(_Strict):
    interval_s: Annotated[int, Field(gt=0, lt=2**32)] = 3_600
    factor: NonNegativeFloat = 1.0
    max_rate_per_interval: Fraction = 0.0075


class PerpMarket(_Strict):
    asset: Symbol
    depth_usd: PositiveFloat  # virtual quote reserve; the virtual base is depth / price
    index_oracle: OracleKind = "external"
    margin_price_source: Literal["mark", "index"] = "mark"
    initial_margin_bps: Annotated[int, Field(gt=0, le=10_000)]
    maintenance_margin_bps: Annotated[int, Field(gt=0, le=10_000)]
    liquidation_fee_bps: Bps = 100
    trading_fee_bps: Bps = 5
    funding: Funding = Funding()

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
        return self


class Perp(_Strict):
    insurance_fund_usd: NonNegativeFloat = 0.0
    adl_enabled: bool = True
    markets: Annotated[list[PerpMarket], Field(min_length=1)]


# ---------------------------------------------------------------- agents


class _Population(_Strict):
    count: Annotated[int, Field(gt=0, le=100_000)]
    capital_usd: Distribution
    latency_blocks: Annotated[int, Field(ge=0, le=1_000)] = 0
    gas_price_gwei: Distribution = 1.0  # the bid orders transactions within a block


class Whales(_Population):
    """Supply altcoin collateral, borrow the stablecoin close to the line, go long on perps."""

    collateral_asset: Symbol
    perp_market: Symbol
    target_health_factor: Distribution
    leverage: Distribution
    spare_fraction: Fraction = 0.1  # share of the borrowed stablecoin kept for top-ups
    topup_health_factor: Annotated[float, Field(gt=0.0)] = 1.03
    topup_margin_ratio: Fraction = 0.08


class MarketMakers(_Population):
    """Pool liquidity and spot inventory financed by borrowing; perp shorts keep them neutral."""

    asset: Symbol
    perp_market: Symbol
    stable_share: Fraction = 0.3  # part of the capital held in the stablecoin rather than the asset
    collateral_share: Fraction = 0.5  # part of the altcoin capital supplied to lending
    stable_reserve_share: Fraction = 0.0  # part of its stablecoins kept in the wallet for re-hedging
    target_health_factor: Distribution = 2.0
    hedge_leverage: Distribution = 3.0
    rehedge_interval_blocks: Annotated[int, Field(gt=0)] = 10
    rehedge_threshold: Fraction = 0.1  # re-hedge when |delta| exceeds this share of the inventory
    volatility_window_blocks: Annotated[int, Field(ge=2)] = 10
    withdraw_volatility: NonNegativeFloat = 0.02  # per-block stdev of pool log returns


class Liquidators(_Population):
    """Find unhealthy lending accounts and perp positions; sell seized collateral at once."""

    max_slippage: Fraction = 0.05


class Arbitrageurs(_Population):
    """Trade the pools toward the external price and the perp mark toward the index."""

    threshold: Fraction = 0.005
    gap_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.5  # share of a price gap one arbitrageur closes per block
    max_trade_fraction: Fraction = 0.5  # most of its stablecoin capital in one trade
    refill_delay_blocks: Annotated[int, Field(ge=0)] = 25
    perp_leverage: Annotated[float, Field(gt=0.0)] = 2.0
    pools: Annotated[list[Symbol], Field(min_length=1)] | None = None  # pools it trades (default: all), capital split by depth
    perp_markets: list[Symbol] | None = None  # perp markets it trades (default: all; [] for none)


class Noise(_Population):
    trade_probability: Fraction = 0.1
    trade_fraction: Fraction = 0.05
    perp_leverage: Annotated[float, Field(gt=0.0)] = 3.0


class Keeper(_Strict):
    """Pushes external prices into the feeds (heartbeat and deviation), updates TWAPs, settles funding."""

    heartbeat_s: Annotated[int, Field(gt=0)] = 3_600
    deviation_bps: Annotated[int, Field(ge=0, le=10_000)] = 50
    gas_price_gwei: Annotated[float, Field(ge=0.0)] = 50.0


class Agents(_Strict):
    whales: list[Whales] = []
    market_makers: list[MarketMakers] = []
    liquidators: list[Liquidators] = []
    arbitrageurs: list[Arbitrageurs] = []
    noise: list[Noise] = []


# ---------------------------------------------------------------- the shock


class Crash(_Strict):
    start_block: Annotated[int, Field(ge=0)]
    duration_blocks: Annotated[int, Field(gt=0)]
    size: dict[Symbol, Annotated[float, Field(ge=0.0, lt=1.0)]]  # fraction of the price lost
    recovery: Fraction = 0.0  # share of the loss regained over recovery_blocks after the crash
    recovery_blocks: Annotated[int, Field(ge=0)] = 0


class Shock(_Strict):
    random_walk: bool = True
    crash: Crash | None = None


class Scenario(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=80)]
    seed: Annotated[int, Field(ge=0, lt=2**63)]
    blocks: Annotated[int, Field(gt=0, le=1_000_000)]
    block_time_s: Annotated[int, Field(gt=0, le=3_600)] = 12
    start_timestamp_s: Annotated[int, Field(gt=0, lt=2**40)] = 2_000_000_000
    stablecoin: Symbol
    assets: Annotated[dict[Symbol, Asset], Field(min_length=2)]
    pools: list[Pool] = []
    lending: Lending
    perp: Perp
    keeper: Keeper = Keeper()
    agents: Agents
    shock: Shock = Shock()

    def pool_of(self, symbol: str) -> Pool | None:
        return next((p for p in self.pools if p.asset == symbol), None)

    def reserve_of(self, symbol: str) -> Reserve | None:
        return next((r for r in self.lending.reserves if r.asset == symbol), None)

    def market_of(self, symbol: str) -> PerpMarket | None:
        return next((m for m in self.perp.markets if m.asset == symbol), None)

    @property
    def volatile_assets(self) -> list[str]:
        return [symbol for symbol in self.assets if symbol != self.stablecoin]


# ---------------------------------------------------------------- cross-field checks


def _reference_problems(s: Scenario) -> list[tuple[str, str]]:
    """Problems one field cannot see alone: references between sections, oracle sources."""
    problems: list[tuple[str, str]] = []
    known = sorted(s.assets)

    def need_asset(path: str, symbol: str, volatile: bool = True) -> bool:
        if symbol not in s.assets:
            problems.append((path, f"unknown asset {symbol!r}; expected one of {known}"))
            return False
        if volatile and symbol == s.stablecoin:
            problems.append((path, f"must be a non-stablecoin asset, got the stablecoin {symbol!r}"))
            return False
        return True

    if s.stablecoin not in s.assets:
        problems.append(("stablecoin", f"unknown asset {s.stablecoin!r}; expected one of {known}"))
    elif not s.assets[s.stablecoin].stable:
        problems.append(("stablecoin", f"asset {s.stablecoin!r} must have stable: true"))
    elif s.assets[s.stablecoin].decimals > 18:
        problems.append(("stablecoin", "the stablecoin must have at most 18 decimals (perp collateral)"))
    elif s.assets[s.stablecoin].price_usd != 1.0:
        problems.append((f"assets.{s.stablecoin}.price_usd", "the scenario's stablecoin must start at 1.0 (it is the unit of account)"))
    if s.lending.max_oracle_age_s and s.keeper.heartbeat_s >= s.lending.max_oracle_age_s:
        problems.append(("keeper.heartbeat_s", f"must be below lending.max_oracle_age_s ({s.lending.max_oracle_age_s}), "
                         f"got {s.keeper.heartbeat_s}: quiet feeds would go stale between pushes"))

    def unique(path: str, symbols: list[str]) -> None:
        seen: set[str] = set()
        for i, symbol in enumerate(symbols):
            if symbol in seen:
                problems.append((f"{path}[{i}].asset", f"duplicate entry for {symbol!r}"))
            seen.add(symbol)

    for i, pool in enumerate(s.pools):
        need_asset(f"pools[{i}].asset", pool.asset)
    unique("pools", [p.asset for p in s.pools])
    for i, reserve in enumerate(s.lending.reserves):
        path = f"lending.reserves[{i}]"
        if need_asset(f"{path}.asset", reserve.asset, volatile=False) and reserve.oracle != "external":
            if s.pool_of(reserve.asset) is None:
                problems.append((f"{path}.oracle", f"{reserve.oracle!r} needs a pool for {reserve.asset!r} in pools"))
    unique("lending.reserves", [r.asset for r in s.lending.reserves])
    if s.stablecoin in s.assets and s.reserve_of(s.stablecoin) is None:
        problems.append(("lending.reserves", f"the stablecoin {s.stablecoin!r} must be a reserve (it is what agents borrow)"))
    for i, market in enumerate(s.perp.markets):
        path = f"perp.markets[{i}]"
        if need_asset(f"{path}.asset", market.asset) and market.index_oracle != "external":
            if s.pool_of(market.asset) is None:
                problems.append((f"{path}.index_oracle", f"{market.index_oracle!r} needs a pool for {market.asset!r} in pools"))
    unique("perp.markets", [m.asset for m in s.perp.markets])

    for i, whales in enumerate(s.agents.whales):
        path = f"agents.whales[{i}]"
        if need_asset(f"{path}.collateral_asset", whales.collateral_asset):
            reserve = s.reserve_of(whales.collateral_asset)
            if reserve is None or reserve.liquidation_threshold_bps == 0:
                problems.append((f"{path}.collateral_asset", f"{whales.collateral_asset!r} is not collateral in lending.reserves"))
        if need_asset(f"{path}.perp_market", whales.perp_market) and s.market_of(whales.perp_market) is None:
            problems.append((f"{path}.perp_market", f"no perp market for {whales.perp_market!r}"))
        if s.pool_of(whales.collateral_asset) is None and whales.collateral_asset in s.assets:
            problems.append((f"{path}.collateral_asset", f"no pool for {whales.collateral_asset!r}: its collateral could not be sold"))
        low_hf, _ = bounds(whales.target_health_factor)
        if low_hf <= 1.0:
            problems.append((f"{path}.target_health_factor", f"must stay above 1 (lowest possible value {low_hf})"))
        low_lev, _ = bounds(whales.leverage)
        if low_lev < 1.0:
            problems.append((f"{path}.leverage", f"must be at least 1 (lowest possible value {low_lev})"))
    for i, mms in enumerate(s.agents.market_makers):
        path = f"agents.market_makers[{i}]"
        if need_asset(f"{path}.asset", mms.asset):
            if s.pool_of(mms.asset) is None:
                problems.append((f"{path}.asset", f"no pool for {mms.asset!r} to make a market in"))
            reserve = s.reserve_of(mms.asset)
            if mms.collateral_share > 0 and (reserve is None or reserve.liquidation_threshold_bps == 0):
                problems.append((f"{path}.collateral_share", f"{mms.asset!r} is not collateral in lending.reserves"))
        if need_asset(f"{path}.perp_market", mms.perp_market) and s.market_of(mms.perp_market) is None:
            problems.append((f"{path}.perp_market", f"no perp market for {mms.perp_market!r}"))
        if bounds(mms.target_health_factor)[0] <= 1.0:
            problems.append((f"{path}.target_health_factor", "must stay above 1"))
        if bounds(mms.hedge_leverage)[0] < 1.0:
            problems.append((f"{path}.hedge_leverage", "must be at least 1"))
    for i, arbs in enumerate(s.agents.arbitrageurs):
        for j, symbol in enumerate(arbs.pools or []):
            if need_asset(f"agents.arbitrageurs[{i}].pools[{j}]", symbol) and s.pool_of(symbol) is None:
                problems.append((f"agents.arbitrageurs[{i}].pools[{j}]", f"no pool for {symbol!r}"))
        for j, symbol in enumerate(arbs.perp_markets or []):
            if need_asset(f"agents.arbitrageurs[{i}].perp_markets[{j}]", symbol) and s.market_of(symbol) is None:
                problems.append((f"agents.arbitrageurs[{i}].perp_markets[{j}]", f"no perp market for {symbol!r}"))
    problems.extend(_leverage_problems(s))
    for section in ("whales", "market_makers", "liquidators", "arbitrageurs", "noise"):
        for i, population in enumerate(getattr(s.agents, section)):
            for name in ("capital_usd", "gas_price_gwei"):
                if bounds(getattr(population, name))[0] < 0:
                    problems.append((f"agents.{section}[{i}].{name}", "must not be negative"))

    crash = s.shock.crash
    if crash is not None:
        for symbol in crash.size:
            need_asset(f"shock.crash.size.{symbol}", symbol, volatile=False)
        if crash.start_block >= s.blocks:
            problems.append(("shock.crash.start_block", f"must be below blocks ({s.blocks}), got {crash.start_block}"))
    return problems


def _leverage_problems(s: Scenario) -> list[tuple[str, str]]:
    """Every leverage an agent may use must be within 1 / initial margin of the markets it trades."""
    problems: list[tuple[str, str]] = []

    def check(path: str, highest: float, markets: list[str]) -> None:
        for symbol in markets:
            market = s.market_of(symbol)
            if market is None:
                continue
            limit = 10_000 / market.initial_margin_bps
            if highest > limit:
                problems.append((path, f"can reach {highest}, above {symbol}'s maximum leverage {limit:g} "
                                       f"(1 / initial_margin_bps {market.initial_margin_bps})"))
                return

    every_market = [m.asset for m in s.perp.markets]
    for i, pop in enumerate(s.agents.whales):
        check(f"agents.whales[{i}].leverage", bounds(pop.leverage)[1], [pop.perp_market])
    for i, pop in enumerate(s.agents.market_makers):
        check(f"agents.market_makers[{i}].hedge_leverage", bounds(pop.hedge_leverage)[1], [pop.perp_market])
    for i, pop in enumerate(s.agents.arbitrageurs):
        markets = every_market if pop.perp_markets is None else pop.perp_markets
        check(f"agents.arbitrageurs[{i}].perp_leverage", pop.perp_leverage, markets)
    for i, pop in enumerate(s.agents.noise):
        check(f"agents.noise[{i}].perp_leverage", pop.perp_leverage, every_market)
    return problems


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping (safe_load keeps the last)."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {key!r} appears twice in one mapping", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


# ---------------------------------------------------------------- loading


def _path_of(loc: tuple[Any, ...]) -> str:
    path = ""
    previous: Any = None
    for part in loc:
        tag_after_distribution = previous in _DISTRIBUTION_FIELDS and part in ("number", "uniform", "lognormal")
        previous = part
        if tag_after_distribution or part == "[key]":
            continue  # the distribution's branch tag and pydantic's key marker add nothing for the reader
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


_DISTRIBUTION_FIELDS = {"capital_usd", "target_health_factor", "leverage", "hedge_leverage", "gas_price_gwei"}


def _validation_problems(error: ValidationError) -> list[tuple[str, str]]:
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False):
        path = _path_of(tuple(item["loc"]))
        got = item.get("input")
        shown = "" if isinstance(got, (dict, list)) or item["type"] == "missing" else f" (got {got!r})"
        message = item["msg"].removeprefix("Value error, ") + shown
        problems.setdefault(path, message)  # a union reports once per branch: keep the first
    return list(problems.items())


def parse_scenario(data: Any, source: str = "<scenario>") -> Scenario:
    """Validate already-parsed YAML/JSON data into a :class:`Scenario`."""
    if data is None:
        raise ScenarioError(source, [("", "the file is empty; expected a scenario mapping (name, seed, blocks, …)")])
    if not isinstance(data, dict):
        raise ScenarioError(source, [("", f"expected a mapping at the top level, got {type(data).__name__}")])
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(source, _validation_problems(error)) from None
    problems = _reference_problems(scenario)
    if problems:
        raise ScenarioError(source, problems)
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a YAML scenario file; :class:`ScenarioError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ScenarioError(str(path), [("", f"cannot read the file: {error.strerror}")]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise ScenarioError(str(path), [("", f"not valid YAML: {error}")]) from None
    return parse_scenario(data, str(path))
