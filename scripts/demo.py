"""`ape run demo`: deploy the foundation contracts, sell into a thin pool, print impact and oracle prices."""

from ape import accounts, chain
from ape.logging import logger

from sim.tools.demo import DemoConfig, format_report, run_demo


def main() -> None:
    logger.set_level("WARNING")  # one line per transaction would bury the report
    config = DemoConfig()
    impact, oracles = run_demo(accounts.test_accounts, chain, config)
    print(format_report(impact, oracles, config))
