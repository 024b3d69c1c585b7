"""The exogenous shock: one seeded external price path per asset.

Log prices follow a one-factor random walk (each asset moves with ``beta_to_btc`` times a market
factor plus its own noise, scaled so that its daily volatility is ``volatility_daily``, or
``|beta| × the factor's`` when that is larger) plus a
scripted crash: the asset loses ``size`` of its price, linearly in log price over
``duration_blocks`` from ``start_block``, then regains ``recovery`` of the log loss over
``recovery_blocks``. Row 0 is the starting price (the set-up); row ``b`` is block ``b`` of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario.schema import Scenario
from sim.units import to_usd_price

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class PricePath:
    symbols: tuple[str, ...]
    usd: np.ndarray  # float64, shape (blocks + 1, assets)
    usd8: tuple[tuple[int, ...], ...]  # the same as 8-decimal integers, what the keeper pushes

    def price8(self, block: int, symbol: str) -> int:
        return self.usd8[block][self.symbols.index(symbol)]


def crash_log_offsets(scenario: Scenario, symbol: str) -> np.ndarray:
    """The crash's contribution to log price at rows 0..blocks (0 before the crash)."""
    rows = np.arange(scenario.blocks + 1, dtype=float)
    crash = scenario.shock.crash
    if crash is None or crash.size.get(symbol, 0.0) == 0.0:
        return np.zeros_like(rows)
    drop = np.log1p(-crash.size[symbol])  # negative
    progress = np.clip((rows - crash.start_block) / crash.duration_blocks, 0.0, 1.0)
    offsets = drop * progress
    if crash.recovery > 0 and crash.recovery_blocks > 0:
        recovered = np.clip((rows - crash.start_block - crash.duration_blocks) / crash.recovery_blocks, 0.0, 1.0)
        offsets -= drop * crash.recovery * recovered
    return offsets


def price_path(scenario: Scenario, rng: np.random.Generator, market_volatility_daily: float | None = None) -> PricePath:
    """Draw the external path for every asset from ``rng`` (the model's generator)."""
    usd = external_usd(scenario, rng, market_volatility_daily)
    usd8 = tuple(tuple(max(to_usd_price(float(p)), 1) for p in row) for row in usd)
    return PricePath(tuple(scenario.assets), usd, usd8)


def external_usd(scenario: Scenario, rng: np.random.Generator, market_volatility_daily: float | None = None) -> np.ndarray:
    """The external USD prices, shape (blocks + 1, assets) in the scenario's asset order."""
    symbols = tuple(scenario.assets)
    blocks = scenario.blocks
    per_block = np.sqrt(scenario.block_time_s / SECONDS_PER_DAY)
    if market_volatility_daily is None:  # the factor is BTC's own volatility (3% a day without BTC)
        btc = scenario.assets.get("BTC")
        market_volatility_daily = btc.volatility_daily if btc is not None else 0.03
    factor = rng.standard_normal(blocks) * market_volatility_daily * per_block
    log_prices = np.empty((blocks + 1, len(symbols)))
    for j, symbol in enumerate(symbols):
        asset = scenario.assets[symbol]
        own = rng.standard_normal(blocks)
        if not scenario.shock.random_walk or asset.volatility_daily == 0.0:
            steps = np.zeros(blocks)
        else:
            systematic = asset.beta_to_btc * market_volatility_daily
            idiosyncratic = np.sqrt(max(asset.volatility_daily**2 - systematic**2, 0.0))
            steps = asset.beta_to_btc * factor + own * idiosyncratic * per_block
        walk = np.concatenate(([0.0], np.cumsum(steps)))
        log_prices[:, j] = np.log(asset.price_usd) + walk + crash_log_offsets(scenario, symbol)
    usd = np.exp(log_prices)
    for j, symbol in enumerate(symbols):
        asset = scenario.assets[symbol]
        if asset.stable and not np.any(crash_log_offsets(scenario, symbol)):
            usd[:, j] = asset.price_usd  # a stablecoin without a de-peg stays put
        if asset.lst is not None:  # outside the chain an LST is worth what it redeems for
            underlying = scenario.assets[asset.lst.underlying]
            usd[:, j] = usd[:, symbols.index(asset.lst.underlying)] * (asset.price_usd / underlying.price_usd)
    return usd
