"""The gas limit each transaction carries, per contract action.

A simulated block holds transactions while the sum of their gas limits fits the scenario's
``block_gas_limit`` (:mod:`sim.protocol.blockspace`), so a limit is a claim on block space: each
is the largest ``gasUsed`` measured for the action with headroom (about 1.6–1.8×), not a blanket
5,000,000.

How the numbers were measured: ``python -m sim.tools.gas_table`` runs a scenario and reads the
receipt of every transaction (``eth_getTransactionReceipt``); it was run on
``scenarios/oct10.yaml``, ``scenarios/calm.yaml`` and oct10 scaled to 1,000 agents (120 blocks).
The largest ``gasUsed`` seen in any of them is the comment beside each limit. A reverted
transaction uses less than a successful one, so the successful ones set the numbers.
"""

from __future__ import annotations

from typing import Final

GAS_LIMITS: Final[dict[tuple[str, str], int]] = {
    # (contract type, action): gas limit             largest gasUsed measured
    ("SimToken", "approve"): 80_000,  # 46,678
    ("SimToken", "transfer"): 60_000,  # 34,539
    ("SimToken", "transferFrom"): 65_000,  # 37,356
    ("SimToken", "mint"): 120_000,  # 70,726
    ("ConstantProductPool", "swapExactIn"): 230_000,  # 135,512
    ("ConstantProductPool", "addLiquidity"): 320_000,  # 191,700
    ("ConstantProductPool", "removeLiquidity"): 180_000,  # 101,804
    ("LendingPool", "supply"): 270_000,  # 160,295
    ("LendingPool", "borrow"): 420_000,  # 251,603
    ("LendingPool", "repay"): 170_000,  # 99,111
    ("LendingPool", "liquidationCall"): 480_000,  # 283,646
    ("LendingPool", "listReserve"): 400_000,  # 235,094 (set-up)
    ("LendingPool", "setCloseFactor"): 50_000,  # 29,840 (set-up)
    ("LendingPool", "setInterestRateModel"): 95_000,  # 55,188 (set-up)
    # PerpExchange v2: every entry point first accrues funding and the mark's EMA (one index read)
    ("PerpExchange", "openPosition"): 560_000,  # 340,544
    ("PerpExchange", "closePosition"): 350_000,  # 182,680
    ("PerpExchange", "reducePosition"): 350_000,  # 189,292
    ("PerpExchange", "addMargin"): 200_000,  # 125,051
    ("PerpExchange", "removeMargin"): 350_000,  # not sent by agents; a reduce's exit check and transfer
    ("PerpExchange", "settleFunding"): 180_000,  # 105,655
    ("PerpExchange", "withdrawCredit"): 100_000,  # 47,101
    ("PerpExchange", "fundInsurance"): 135_000,  # 78,441 (set-up)
    ("PerpExchange", "listMarket"): 420_000,  # 256,900 (set-up)
    ("PerpExchange", "setFundingParams"): 135_000,  # 80,558 (set-up)
    ("PerpExchange", "setMarkParams"): 60_000,  # 33,481 (set-up)
    ("PerpExchange", "setLiquidationParams"): 150_000,  # 85,166 (set-up)
    # The real protocols of fork experiments (Aave v3.0.2 and Uniswap V2 bytecode): measured on
    # scenarios/fork-demo.yaml forked from its upstream (`--network ethereum:mainnet-fork:foundry`)
    ("AavePool", "supply"): 360_000,  # 208,209
    ("AavePool", "borrow"): 450_000,  # 265,566
    ("AavePool", "repay"): 270_000,  # 153,774
    ("AavePool", "liquidationCall"): 640_000,  # 377,193
    ("UniswapV2Router02", "swapExactTokensForTokens"): 200_000,  # 115,759
    ("UniswapV2Router02", "addLiquidity"): 280_000,  # 162,472
    ("UniswapV2Router02", "removeLiquidity"): 300_000,  # not sent in the demo: a transfer, a burn, two transfers
    ("MockAggregator", "setAnswer"): 130_000,  # 75,237
    ("PoolTwapAggregator", "update"): 170_000,  # 98,961
}
"""Gas limit per ``(contract type, action)``; the perp liquidation is :func:`perp_liquidation_gas`."""

FALLBACK_GAS: Final = 1_000_000
"""The limit of an action not in ``GAS_LIMITS`` (never measured): well above every measured one."""

PERP_LIQUIDATION_BASE_GAS: Final = 300_000
"""A perp liquidation without auto-deleveraging (a whole position or a chunk): 190,000 gas at
most on oct10, with headroom."""

ADL_COUNTERPARTY_GAS: Final = 100_000
"""What each listed ADL counterparty adds: ``ape run adl_gas`` measured 476,900 gas for an ADL with
5 fills and tests/test_perp_griefing.py about 875,000 with 10 (≈ 80,000 a fill, whatever the
number of positions in the market); the largest liquidation at oct10 × 1,000 agents used 808,212
with 8 listed (``sim.tools.gas_table``), under this rule's 1,100,000."""


def gas_limit(contract: str, action: str) -> int:
    """The gas limit a ``contract``-type ``action`` call carries (``FALLBACK_GAS`` when unmeasured)."""
    return GAS_LIMITS.get((contract, action), FALLBACK_GAS)


def longest_adl_list(tx_gas_cap: int) -> int:
    """The most ADL counterparties a perp liquidation can list within ``tx_gas_cap``."""
    return max((tx_gas_cap - PERP_LIQUIDATION_BASE_GAS) // ADL_COUNTERPARTY_GAS, 0)


def perp_liquidation_gas(n_counterparties: int) -> int:
    """The gas limit of a perp liquidation that auto-deleverages ``n_counterparties`` positions
    (0: the insurance fund covers it)."""
    if n_counterparties < 0:
        raise ValueError(f"n_counterparties must not be negative, got {n_counterparties}")
    return PERP_LIQUIDATION_BASE_GAS + ADL_COUNTERPARTY_GAS * n_counterparties
