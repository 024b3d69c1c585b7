"""The Python mirrors of contract constants (sim/protocol/constants.py) hold against the contracts."""

from sim.protocol.constants import DEFAULT_CLOSE_FACTOR_BPS, DEFAULT_FULL_LIQUIDATION_HF_WAD, PRICE_SOURCE


def test_price_sources_are_the_exchanges_own(project, deployer, make_token):
    usdc = make_token("USDC", 6)
    perp = project.PerpExchange.deploy(usdc, sender=deployer)
    assert PRICE_SOURCE == {
        "vamm": perp.PRICE_SOURCE_MARK(), "mark": perp.PRICE_SOURCE_MARK(), "index": perp.PRICE_SOURCE_INDEX(),
        "median": perp.PRICE_SOURCE_MEDIAN(),
    }


def test_close_factor_defaults_are_the_pools_own(project, deployer):
    pool = project.LendingPool.deploy(sender=deployer)
    assert pool.closeFactorBps() == DEFAULT_CLOSE_FACTOR_BPS
    assert pool.fullLiquidationHealthFactorWad() == DEFAULT_FULL_LIQUIDATION_HF_WAD

