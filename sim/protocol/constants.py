"""Python mirrors of constants the contracts define; ``tests/test_contract_constants.py`` holds
each against the deployed contract, so a change on one side fails the suite."""

from __future__ import annotations

# PerpExchange.PRICE_SOURCE_MARK / _INDEX / _MEDIAN: what a market's margin checks read ("mark",
# the vAMM price, is also accepted under its old name "mark").
PRICE_SOURCE = {"vamm": 0, "mark": 0, "index": 1, "median": 2}
# LendingPool.fullLiquidationHealthFactorWad before setCloseFactor: below it the whole debt may go.
DEFAULT_FULL_LIQUIDATION_HF_WAD = 95 * 10**16
# LendingPool.closeFactorBps before setCloseFactor.
DEFAULT_CLOSE_FACTOR_BPS = 5_000
# LendingPool.LiquidationRules: the enum setLiquidationRules takes (V3_0 is the default).
LENDING_RULES = {"v3.0": 0, "v3.3": 1}
# Aave v3.3's LiquidationLogic thresholds in the base currency (USD, 8 decimals): below
# MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD of collateral or debt the whole debt may go at once, and a
# partial liquidation must leave at least MIN_LEFTOVER_BASE of both debt and collateral.
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD8 = 2_000 * 10**8
MIN_LEFTOVER_BASE_USD8 = 1_000 * 10**8
