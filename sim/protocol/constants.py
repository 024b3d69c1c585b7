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
