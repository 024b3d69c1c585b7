"""Role fixtures and contract factories shared by the tests."""

import pytest

MAX_UINT256 = 2**256 - 1


@pytest.fixture(scope="session")
def deployer(accounts):
    """Deploys everything; owns the tokens (so it mints) and the push feeds."""
    return accounts[0]


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def whale(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def trader(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def stranger(accounts):
    """Owns nothing and may call nothing privileged."""
    return accounts[5]


@pytest.fixture(scope="session")
def make_token(project, deployer):
    def make(symbol: str, decimals: int):
        return project.SimToken.deploy(f"{symbol} token", symbol, decimals, sender=deployer)

    return make


@pytest.fixture(scope="session")
def fund(deployer):
    """Mint ``amount`` of ``token`` to ``account`` and approve ``spender`` for everything."""

    def give(token, account, amount, spender=None):
        token.mint(account, amount, sender=deployer)
        if spender is not None:
            token.approve(spender, MAX_UINT256, sender=account)

    return give


@pytest.fixture(scope="session")
def make_pool(project, deployer, lp, make_token, fund):
    """A pool of two new tokens with the given decimals, seeded by ``lp`` with the given reserves
    (native units, in the order the tokens were asked for). Returns (pool, token_a, token_b)."""

    def make(decimals_a: int, decimals_b: int, reserve_a: int, reserve_b: int, fee_bps: int = 30):
        token_a = make_token("TKA", decimals_a)
        token_b = make_token("TKB", decimals_b)
        pool = project.ConstantProductPool.deploy(token_a, token_b, fee_bps, sender=deployer)
        if reserve_a or reserve_b:
            token_a.mint(pool, reserve_a, sender=deployer)
            token_b.mint(pool, reserve_b, sender=deployer)
            pool.mint(lp, sender=lp)
        return pool, token_a, token_b

    return make
