"""Role fixtures and contract factories shared by the tests."""

import pytest

from sim.chain.node import lean_anvil

# The suite's anvil too runs without opcode tracing: no test reads Ape's step traces, and with them
# the node kept every step of the simulator tests' thousands of transactions (see sim/chain/node.py).
lean_anvil(prune_history=False)

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


class LendingMarket:
    """A LendingPool with one collateral-only reserve and one borrowable reserve, and their feeds."""

    COLLATERAL_LTV_BPS, COLLATERAL_LT_BPS, COLLATERAL_BONUS_BPS = 7_500, 8_000, 10_500
    DEBT_LTV_BPS, DEBT_LT_BPS, DEBT_BONUS_BPS = 8_000, 8_500, 10_500

    def __init__(self, pool, collateral, debt, collateral_feed, debt_feed):
        self.pool, self.collateral, self.debt = pool, collateral, debt
        self.collateral_feed, self.debt_feed = collateral_feed, debt_feed


@pytest.fixture(scope="session")
def make_lending(project, deployer, make_token):
    """make(collateral_decimals, debt_decimals): ALT-like collateral at $2, a stablecoin at $1."""

    def make(collateral_decimals: int = 18, debt_decimals: int = 6):
        collateral = make_token("ALT", collateral_decimals)
        debt = make_token("USDC", debt_decimals)
        collateral_feed = project.MockAggregator.deploy(8, "ALT / USD", 2 * 10**8, sender=deployer)
        debt_feed = project.MockAggregator.deploy(8, "USDC / USD", 10**8, sender=deployer)
        pool = project.LendingPool.deploy(sender=deployer)
        m = LendingMarket
        pool.listReserve(collateral, collateral_feed, m.COLLATERAL_LTV_BPS, m.COLLATERAL_LT_BPS, m.COLLATERAL_BONUS_BPS, False, sender=deployer)
        pool.listReserve(debt, debt_feed, m.DEBT_LTV_BPS, m.DEBT_LT_BPS, m.DEBT_BONUS_BPS, True, sender=deployer)
        return LendingMarket(pool, collateral, debt, collateral_feed, debt_feed)

    return make


@pytest.fixture(scope="session")
def supply(fund):
    """Mint ``amount`` to ``account`` and supply it to the market's pool on its own behalf."""

    def give(market, token, account, amount):
        fund(token, account, amount, spender=market.pool)
        market.pool.supply(token, amount, account, sender=account)

    return give


class PerpMarket:
    """A PerpExchange with one market (ALT-PERP) on a stablecoin, its index feed (8 decimals, owned
    by the deployer) and its parameters. Funding, the mark and chunked liquidation start as
    `listMarket` leaves them (off, vAMM source, whole liquidations) unless `make_perp` is told."""

    V_BASE, V_QUOTE = 1_000_000 * 10**18, 2_000_000 * 10**18  # $2 mark, $2M of virtual quote
    INITIAL_MARGIN_BPS, MAINTENANCE_MARGIN_BPS, LIQUIDATION_FEE_BPS = 1_000, 500, 100
    SOURCE_VAMM, SOURCE_INDEX, SOURCE_MEDIAN = 0, 1, 2

    def __init__(self, exchange, usdc, index_feed, market_id, trading_fee_bps, v_base, v_quote, deployer):
        self.exchange, self.usdc, self.index_feed = exchange, usdc, index_feed
        self.id, self.trading_fee_bps = market_id, trading_fee_bps
        self.v_base, self.v_quote = v_base, v_quote
        self.unit = 10 ** usdc.decimals()
        self.deployer = deployer

    def usd(self, dollars) -> int:
        """Whole dollars in collateral units."""
        return dollars * self.unit

    def reserves(self):
        state = self.exchange.marketState(self.id)
        return state.vBase, state.vQuote

    def set_index(self, price_wad: int) -> None:
        """Sets the feed to `price_wad` (must be a whole number of 8-decimal units)."""
        assert price_wad % 10**10 == 0, "the feed has 8 decimals"
        self.index_feed.setAnswer(price_wad // 10**10, sender=self.deployer)

    def open(self, fund, trader, is_long, margin, leverage_wad, limit=0):
        """Funds `trader` with `margin` and opens; returns the receipt."""
        fund(self.usdc, trader, margin, spender=self.exchange)
        return self.exchange.openPosition(self.id, is_long, margin, leverage_wad, limit, sender=trader)

    def seed_insurance(self, fund, amount) -> None:
        if amount:
            fund(self.usdc, self.deployer, amount, spender=self.exchange)
            self.exchange.fundInsurance(amount, sender=self.deployer)

    def set_liquidation(self, min_position=0, partial_above=2**256 - 1, max_bps=10_000, cooldown_s=0, max_fund_fee=0):
        """`setLiquidationParams` (collateral units, bps, seconds)."""
        self.exchange.setLiquidationParams(
            self.id, (min_position, partial_above, max_bps, cooldown_s, max_fund_fee), sender=self.deployer
        )

    def position(self, trader):
        """(sizeBase, margin, openNotional) as stored."""
        p = self.exchange.getPosition(trader, self.id)
        return p.sizeBase, p.margin, p.openNotional


@pytest.fixture(scope="session")
def make_perp(project, deployer, make_token):
    """make(trading_fee_bps, collateral_decimals, ...): a fresh exchange with ALT-PERP at $2 on a
    vAMM of `v_base` ALT and `v_quote` USD (WAD) and the given margins (bps)."""

    def make(
        trading_fee_bps: int = 0,
        collateral_decimals: int = 6,
        v_base: int = PerpMarket.V_BASE,
        v_quote: int = PerpMarket.V_QUOTE,
        initial_margin_bps: int = PerpMarket.INITIAL_MARGIN_BPS,
        maintenance_margin_bps: int = PerpMarket.MAINTENANCE_MARGIN_BPS,
        liquidation_fee_bps: int = PerpMarket.LIQUIDATION_FEE_BPS,
    ):
        usdc = make_token("USDC", collateral_decimals)
        index_feed = project.MockAggregator.deploy(8, "ALT / USD", v_quote * 10**8 // v_base, sender=deployer)
        exchange = project.PerpExchange.deploy(usdc, sender=deployer)
        exchange.listMarket(
            "ALT-PERP", index_feed, v_base, v_quote, initial_margin_bps, maintenance_margin_bps,
            liquidation_fee_bps, trading_fee_bps, sender=deployer,
        )
        return PerpMarket(exchange, usdc, index_feed, 0, trading_fee_bps, v_base, v_quote, deployer)

    return make
