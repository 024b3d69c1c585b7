"""`ape run adl_gas`: gas of one ADL liquidation (5 listed counterparties) as the market fills with
positions: it stays flat, since the contract reads only the listed positions (sim/tools/adl_gas.py)."""

from ape import accounts, chain, project
from ape.logging import logger

from sim.tools.adl_gas import measure_adl_gas

SIZES = (10, 100, 1_000, 5_000)
LISTED = 5


def main() -> None:
    logger.set_level("WARNING")
    print(f"{'positions in market':>19} {'listed':>6} {'ADL fills':>9} {'gas used':>10}")
    for row in measure_adl_gas(accounts.test_accounts, chain, project, SIZES, LISTED):
        print(f"{row.positions:>19,} {row.listed:>6} {row.fills:>9} {row.gas_used:>10,}")
