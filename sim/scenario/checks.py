"""Problems one field cannot see alone: references between sections, oracle sources, leverage
against the markets' margins. Each population checks its own references
(``reference_problems``); the checks here loop over every population without naming them."""

from __future__ import annotations

import numpy as np

from sim.scenario.prices import external_usd
from sim.scenario.schema import MAX_AGENTS, MAX_PRICE_USD, MAX_USD, MIN_CRASHED_PRICE_USD, Scenario, bounds, typical_high

UINT112 = 2**112 - 1  # what a V2 pool stores its reserves in
MIN_POOL_UNITS = 1_000  # a pool side of fewer native units cannot price anything


class Checks:
    """The problems found so far, as ``(field path, message)`` pairs, and the asset look-up
    every reference check shares."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.problems: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def need_asset(self, path: str, symbol: str, volatile: bool = True) -> bool:
        """True when ``symbol`` is a known asset (a non-stablecoin one when ``volatile``)."""
        s = self.scenario
        if symbol not in s.assets:
            self.add(path, f"unknown asset {symbol!r}; expected one of {sorted(s.assets)}")
            return False
        if volatile and symbol == s.stablecoin:
            self.add(path, f"must be a non-stablecoin asset, got the stablecoin {symbol!r}")
            return False
        return True

    def unique(self, path: str, symbols: list[str]) -> None:
        seen: set[str] = set()
        for i, symbol in enumerate(symbols):
            if symbol in seen:
                self.add(f"{path}[{i}].asset", f"duplicate entry for {symbol!r}")
            seen.add(symbol)


def reference_problems(s: Scenario) -> list[tuple[str, str]]:
    """Every cross-field problem of ``s``, in a fixed order."""
    checks = Checks(s)
    if s.tx_gas_cap > s.block_gas_limit:
        checks.add("tx_gas_cap", f"must not exceed block_gas_limit ({s.block_gas_limit:,}), got {s.tx_gas_cap:,}: "
                   "a transaction at the cap could never be mined")
    _stablecoin_problems(s, checks)
    _venue_problems(s, checks)
    _fork_problems(s, checks)
    for section, i, population in s.populations():
        population.reference_problems(s, f"agents.{section}[{i}]", checks)
    _leverage_problems(s, checks)
    for section, i, population in s.populations():
        for name, highest in (("capital_usd", MAX_USD), ("gas_price_gwei", 1e6)):
            if bounds(getattr(population, name))[0] < 0:
                checks.add(f"agents.{section}[{i}].{name}", "must not be negative")
            elif typical_high(getattr(population, name)) > highest:
                checks.add(f"agents.{section}[{i}].{name}", f"must stay at most {highest:g} "
                           f"(largest value, or a lognormal's median: {typical_high(getattr(population, name)):g})")
    agents = sum(population.count for _, _, population in s.populations())
    if agents > MAX_AGENTS:
        checks.add("agents", f"{agents:,} agents in all; at most {MAX_AGENTS:,}")
    _crash_problems(s, checks)
    _pool_size_problems(s, checks)
    if not checks.problems:  # the path needs every other field sound
        _price_path_problems(s, checks)
    return checks.problems


def _pool_size_problems(s: Scenario, checks: Checks) -> None:
    """Each pool's starting reserves, in native units, must fit the pool and price something."""
    if s.stablecoin not in s.assets:
        return
    quote_decimals = s.assets[s.stablecoin].decimals
    for i, pool in enumerate(s.pools):
        if pool.asset not in s.assets:
            continue
        asset = s.assets[pool.asset]
        if pool.depth_usd == 0:  # a uniswap_v2 pair with nothing added: it has its own reserves
            continue
        base_units = pool.depth_usd / asset.price_usd * 10**asset.decimals
        quote_units = pool.depth_usd * 10**quote_decimals
        if base_units < MIN_POOL_UNITS:
            checks.add(f"pools[{i}].depth_usd", f"holds {base_units:.3g} native units of {pool.asset} "
                       f"(decimals {asset.decimals}, price ${asset.price_usd:g}); at least {MIN_POOL_UNITS:,} are needed")
        if max(base_units, quote_units) > UINT112:
            checks.add(f"pools[{i}].depth_usd", f"{max(base_units, quote_units):.3g} native units do not fit a pool reserve (uint112)")


def _price_path_problems(s: Scenario, checks: Checks) -> None:
    """The external path the run will draw (the same generator, seeded the same) must stay where
    the oracles can carry it: a long, volatile random walk can leave any range."""
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowing walk is what this reports
        usd = external_usd(s, np.random.default_rng(s.seed))
    for j, symbol in enumerate(s.assets):
        column = usd[:, j]
        outside = np.flatnonzero(~np.isfinite(column) | (column < MIN_CRASHED_PRICE_USD) | (column > MAX_PRICE_USD * 1_000))
        if outside.size:
            block = int(outside[0])
            checks.add(f"assets.{symbol}.volatility_daily", f"the external price path reaches ${column[block]:.3g} at block "
                       f"{block}, outside ${MIN_CRASHED_PRICE_USD:g} – ${MAX_PRICE_USD * 1_000:g}: lower volatility_daily or "
                       "beta_to_btc, or run fewer blocks")


def _crash_problems(s: Scenario, checks: Checks) -> None:
    crash = s.shock.crash
    if crash is None:
        return
    for symbol, size in crash.size.items():
        lst = s.assets[symbol].lst if symbol in s.assets else None
        if lst is not None and size > 0:
            checks.add(f"shock.crash.size.{symbol}", f"{symbol} is a liquid staking token: outside the chain it follows "
                                                     f"{lst.underlying}; crash {lst.underlying}, or dump {symbol} on its pool")
            continue
        if checks.need_asset(f"shock.crash.size.{symbol}", symbol, volatile=False):
            lowest = s.assets[symbol].price_usd * (1.0 - size)
            if lowest < MIN_CRASHED_PRICE_USD:
                checks.add(f"shock.crash.size.{symbol}", f"takes {symbol} to ${lowest:.3g}, below "
                           f"${MIN_CRASHED_PRICE_USD:g}, the lowest price the 8-decimal oracles carry to 100 units")
    if crash.start_block >= s.blocks:
        checks.add("shock.crash.start_block", f"must be below blocks ({s.blocks}), got {crash.start_block}")


def _stablecoin_problems(s: Scenario, checks: Checks) -> None:
    known = sorted(s.assets)
    if s.stablecoin not in s.assets:
        checks.add("stablecoin", f"unknown asset {s.stablecoin!r}; expected one of {known}")
    elif not s.assets[s.stablecoin].stable:
        checks.add("stablecoin", f"asset {s.stablecoin!r} must have stable: true")
    elif s.assets[s.stablecoin].price_usd != 1.0:
        checks.add(f"assets.{s.stablecoin}.price_usd", "the scenario's stablecoin must start at 1.0 (it is the unit of account)")
    if s.lending.max_oracle_age_s and s.keeper.heartbeat_s >= s.lending.max_oracle_age_s:
        checks.add("keeper.heartbeat_s", f"must be below lending.max_oracle_age_s ({s.lending.max_oracle_age_s}), "
                   f"got {s.keeper.heartbeat_s}: quiet feeds would go stale between pushes")


def _venue_problems(s: Scenario, checks: Checks) -> None:
    """Pools, reserves and markets: known assets, one entry each, a pool behind every pool oracle."""
    for i, pool in enumerate(s.pools):
        checks.need_asset(f"pools[{i}].asset", pool.asset)
    checks.unique("pools", [p.asset for p in s.pools])
    for i, reserve in enumerate(s.lending.reserves):
        path = f"lending.reserves[{i}]"
        if checks.need_asset(f"{path}.asset", reserve.asset, volatile=False) and reserve.oracle != "external":
            if s.pool_of(reserve.asset) is None:
                checks.add(f"{path}.oracle", f"{reserve.oracle!r} needs a pool for {reserve.asset!r} in pools")
            _lst_index_problem(s, checks, f"{path}.oracle", reserve.oracle, reserve.asset)
    checks.unique("lending.reserves", [r.asset for r in s.lending.reserves])
    if s.stablecoin in s.assets and s.reserve_of(s.stablecoin) is None:
        checks.add("lending.reserves", f"the stablecoin {s.stablecoin!r} must be a reserve (it is what agents borrow)")
    for i, market in enumerate(s.perp.markets):
        path = f"perp.markets[{i}]"
        if checks.need_asset(f"{path}.asset", market.asset) and market.index_oracle != "external":
            if s.pool_of(market.asset) is None:
                checks.add(f"{path}.index_oracle", f"{market.index_oracle!r} needs a pool for {market.asset!r} in pools")
            _lst_index_problem(s, checks, f"{path}.index_oracle", market.index_oracle, market.asset)
    checks.unique("perp.markets", [m.asset for m in s.perp.markets])
    for symbol, asset in s.assets.items():
        if asset.lst is None:
            continue
        underlying = s.assets.get(asset.lst.underlying)
        if underlying is None:
            checks.add(f"assets.{symbol}.lst.underlying", f"{asset.lst.underlying!r} is not an asset (assets: {', '.join(s.assets)})")
        elif underlying.lst is not None or underlying.stable or asset.lst.underlying == symbol:
            checks.add(f"assets.{symbol}.lst.underlying", f"{asset.lst.underlying!r} must be a volatile asset that is no LST itself")
        if asset.stable:
            checks.add(f"assets.{symbol}.lst", "a stablecoin cannot be a liquid staking token")


def _lst_index_problem(s: Scenario, checks: Checks, path: str, kind: str, symbol: str) -> None:
    asset = s.assets.get(symbol)
    if kind == "lst_index" and asset is not None and asset.lst is None:
        checks.add(path, f"'lst_index' reads a liquid staking token's index: {symbol!r} has no lst (assets.{symbol}.lst)")


def _fork_problems(s: Scenario, checks: Checks) -> None:
    """Venues that already live on the forked chain trade and lend tokens that live there too."""
    def need_address(path: str, symbol: str, what: str) -> None:
        if symbol in s.assets and s.assets[symbol].address is None:
            checks.add(path, f"{what} trades existing tokens: assets.{symbol} needs address (the token on the forked chain)")

    for i, pool in enumerate(s.pools):
        if pool.kind == "uniswap_v2":
            need_address(f"pools[{i}].kind", pool.asset, "a uniswap_v2 pair")
            need_address(f"pools[{i}].kind", s.stablecoin, "a uniswap_v2 pair")
    if s.lending.kind == "aave_v3":
        for i, reserve in enumerate(s.lending.reserves):
            need_address(f"lending.reserves[{i}].asset", reserve.asset, "an aave_v3 pool")
    seen: dict[str, str] = {}
    for symbol, asset in s.assets.items():
        if asset.address is not None:
            other = seen.setdefault(asset.address.lower(), symbol)
            if other != symbol:
                checks.add(f"assets.{symbol}.address", f"is also assets.{other}.address")


def _leverage_problems(s: Scenario, checks: Checks) -> None:
    """Every leverage an agent may use must be within 1 / initial margin of the markets it trades."""
    for section, i, population in s.populations():
        for field, highest, markets in population.leverage_bounds(s):
            for symbol in markets:
                market = s.market_of(symbol)
                if market is None:
                    continue
                limit = 10_000 / market.initial_margin_bps
                if highest > limit:
                    checks.add(f"agents.{section}[{i}].{field}",
                               f"can reach {highest}, above {symbol}'s maximum leverage {limit:g} "
                               f"(1 / initial_margin_bps {market.initial_margin_bps})")
                    break
