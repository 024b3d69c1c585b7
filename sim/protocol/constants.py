"""Python mirrors of constants the contracts define; ``tests/test_contract_constants.py`` holds
each against the deployed contract, so a change on one side fails the suite."""

from __future__ import annotations

# PerpExchange.PRICE_SOURCE_MARK / PRICE_SOURCE_INDEX: what a market's margin checks read.
PRICE_SOURCE = {"mark": 0, "index": 1}
# LendingPool.fullLiquidationHealthFactorWad before setCloseFactor: below it the whole debt may go.
DEFAULT_FULL_LIQUIDATION_HF_WAD = 95 * 10**16
# LendingPool.closeFactorBps before setCloseFactor.
DEFAULT_CLOSE_FACTOR_BPS = 5_000
