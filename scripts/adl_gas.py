"""`ape run adl_gas`: gas of one ADL liquidation as the number of opposite positions grows."""

from ape import accounts, chain, project
from ape.logging import logger

from sim.tools.adl_gas import measure_adl_gas


def main() -> None:
    logger.set_level("WARNING")
    print(f"{'opposite positions':>18} {'ADL fills':>9} {'gas used':>12} {'gas / position':>14}")
    for count in (10, 100, 300):
        snapshot = chain.snapshot()
        row = measure_adl_gas(accounts.test_accounts, chain, project, count)
        print(f"{row.positions:>18} {row.fills:>9} {row.gas_used:>12,} {row.gas_used // row.positions:>14,}")
        chain.restore(snapshot)
