"""RiskLens: many accounts in one call, matching the pool's own per-account answers."""

from lending_math import USD

MAX_UINT256 = 2**256 - 1


def test_batched_health_factors_and_unhealthy_filter(project, deployer, make_lending, supply, accounts, lp):
    market = make_lending(18, 6)
    pool = market.pool
    lens = project.RiskLens.deploy(pool, sender=deployer)
    supply(market, market.debt, lp, 1_000_000 * 10**6)
    borrowers = [accounts[6], accounts[7], accounts[8]]
    for borrower, borrowed in zip(borrowers, [6_000, 7_000, 14_000]):  # HF at $2: 2.67, 2.29, 1.14
        supply(market, market.collateral, borrower, 10_000 * 10**18)
        pool.borrow(market.debt, borrowed * 10**6, sender=borrower)
    idle = [f"0x{i:040x}" for i in range(1, 501)]  # accounts with no position: HF = max
    users = [*borrowers, lp.address, *idle]

    factors = lens.healthFactors(users)
    assert len(factors) == len(users)
    assert list(factors[:4]) == [pool.getUserAccountData(u)[5] for u in users[:4]]
    assert set(factors[4:]) == {MAX_UINT256}

    market.collateral_feed.setAnswer(170 * USD // 100, sender=deployer)  # only the 14,000 borrower is under 1
    below, below_factors = lens.accountsBelow(users, 10**18)
    assert list(below) == [borrowers[2].address]
    assert list(below_factors) == [pool.getUserAccountData(borrowers[2])[5]]
    below_2, _ = lens.accountsBelow(users, 2 * 10**18)  # at $1.70 the HFs are 2.27, 1.94, 0.97
    assert list(below_2) == [borrowers[1].address, borrowers[2].address]

    collateral, debt, health = lens.accountSummaries(borrowers)
    for i, borrower in enumerate(borrowers):
        data = pool.getUserAccountData(borrower)
        assert (collateral[i], debt[i], health[i]) == (data[0], data[1], data[5])
