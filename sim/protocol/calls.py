"""The deployed protocol as the agents see it: addresses, and one builder per action.

Each builder returns a :class:`~sim.chain.Call` (target, calldata and a readable label); agents
decide *what* to do and never touch ABI encoding. Amounts are native integers: token units,
WAD for perp leverage and price limits (see :mod:`sim.units`).

The builders are the protocol adapters: one action, whatever the venue behind it. A pool is our
ConstantProductPool or a Uniswap V2 pair traded through its router (``PoolInfo.kind``); the
lending venue is our LendingPool or an Aave V3 Pool (``Protocol.lending_kind``), so every agent
works against either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from sim.chain import Call
from sim.chain.abi import Codec
from sim.protocol.amm import MAX_UINT256
from sim.protocol.gas import gas_limit, perp_liquidation_gas


@dataclass(frozen=True)
class Token:
    symbol: str
    address: str
    decimals: int


DEADLINE = 2**64 - 1  # a V2 router's deadline: the block decides, never the clock
AAVE_VARIABLE_RATE = 2  # Aave V3's interestRateMode for variable-rate debt
AAVE_REFERRAL_CODE = 0


@dataclass(frozen=True)
class PoolInfo:
    """A pool of ``symbol`` against the stablecoin, with the two oracles that read it.

    ``kind`` "builtin": our ConstantProductPool, traded directly; "uniswap_v2": a V2 pair traded
    through ``router`` (the pair's LP shares are ERC-20s, as ours)."""

    symbol: str
    address: str
    base_is_token0: bool
    fee_bps: int
    spot_oracle: str
    twap_oracle: str
    kind: str = "builtin"
    router: str = ""

    @property
    def spender(self) -> str:
        """Whom a trader approves to pull its tokens: the router of a V2 pair, else the pool."""
        return self.router or self.address


@dataclass(frozen=True)
class AaveReserve:
    a_token: str
    variable_debt_token: str


@dataclass(frozen=True)
class AaveV3Info:
    """An Aave V3 market on the forked chain, as read from its Pool (see :mod:`sim.protocol.fork`)."""

    pool: str
    addresses_provider: str
    oracle: str
    acl_manager: str
    acl_admin: str
    reserves: dict[str, AaveReserve]  # symbol -> its aToken and variable debt token
    collateral: frozenset[str] = frozenset()  # the reserves with a liquidation threshold above 0


@dataclass(frozen=True)
class MarketInfo:
    symbol: str
    market_id: int
    min_position: int = 0  # least open notional a position may keep (stablecoin units)


@dataclass
class Protocol:
    """Addresses of everything deployed for one scenario and the call builders."""

    codecs: dict[str, Codec]
    stablecoin: str
    deployer: str
    tokens: dict[str, Token] = field(default_factory=dict)
    external_tokens: set[str] = field(default_factory=set)  # symbols of tokens that live on the forked chain
    feeds: dict[str, str] = field(default_factory=dict)
    pools: dict[str, PoolInfo] = field(default_factory=dict)
    lending: str = ""  # the LendingPool, or the Aave V3 Pool with lending_kind "aave_v3"
    lending_kind: str = "builtin"
    lending_rules: str = "v3.0"  # the liquidation rules the lending venue applies
    aave: AaveV3Info | None = None
    lending_oracles: dict[str, str] = field(default_factory=dict)
    perp: str = ""
    perp_index_oracles: dict[str, str] = field(default_factory=dict)
    lst_oracles: dict[str, str] = field(default_factory=dict)  # a liquid staking token's collateral index
    markets: dict[str, MarketInfo] = field(default_factory=dict)
    risk_lens: str = ""
    state_lens: str = ""

    # ------------------------------------------------------------------ helpers

    def call(self, contract: str, to: str, action: str, *args: Any, gas: int | None = None) -> Call:
        """``action(*args)`` on the ``contract``-type contract at ``to``: the one place calls are encoded.

        The call carries ``gas``, by default the action's measured limit (:func:`sim.protocol.gas.gas_limit`)."""
        return Call(
            to=to, data=self.codecs[contract].encode_call(action, *args), action=action, args=args,
            gas=gas_limit(contract, action) if gas is None else gas, contract=contract,
        )

    @property
    def stable(self) -> Token:
        return self.tokens[self.stablecoin]

    def contract_holders(self) -> dict[str, str]:
        """Every contract that can hold tokens, by a readable name (an Aave market holds each
        reserve's tokens in its aToken)."""
        holders = {f"pool:{s}": p.address for s, p in self.pools.items()}
        holders["lending"] = self.lending
        if self.aave is not None:
            holders.update({f"aToken:{s}": r.a_token for s, r in self.aave.reserves.items()})
        holders["perp"] = self.perp
        return holders

    @property
    def lending_contract(self) -> str:
        """The codec name of the lending venue."""
        return "AavePool" if self.lending_kind == "aave_v3" else "LendingPool"

    # ------------------------------------------------------------------ tokens

    def approve(self, symbol: str, spender: str, amount: int = MAX_UINT256) -> Call:
        return self.call("SimToken", self.tokens[symbol].address, "approve", spender, amount)

    def transfer(self, symbol: str, to: str, amount: int) -> Call:
        return self.call("SimToken", self.tokens[symbol].address, "transfer", to, amount)

    def transfer_from(self, symbol: str, owner: str, to: str, amount: int) -> Call:
        return self.call("SimToken", self.tokens[symbol].address, "transferFrom", owner, to, amount)

    def mint(self, symbol: str, to: str, amount: int) -> Call:
        return self.call("SimToken", self.tokens[symbol].address, "mint", to, amount)

    def approvals(self, symbols: list[str] | None = None) -> list[Call]:
        """Unlimited approvals of the given tokens (all by default) to every venue, and of every V2
        pair's LP shares to its router (which burns them on a withdrawal)."""
        spenders = [p.spender for p in self.pools.values()] + [self.lending, self.perp]
        calls = [self.approve(s, spender) for s in (symbols or list(self.tokens)) for spender in spenders]
        calls += [self.call("SimToken", p.address, "approve", p.router, MAX_UINT256) for p in self.pools.values() if p.router]
        return calls

    # ------------------------------------------------------------------ spot

    def swap(self, pool_symbol: str, token_in: str, amount_in: int, min_out: int, to: str) -> Call:
        """Sell ``amount_in`` of ``token_in`` (the pool's asset or the stablecoin) for the other
        side, for at least ``min_out``."""
        pool = self.pools[pool_symbol]
        if pool.kind == "uniswap_v2":
            token_out = self.stablecoin if token_in == pool_symbol else pool_symbol
            path = [self.tokens[token_in].address, self.tokens[token_out].address]
            return self.call("UniswapV2Router02", pool.router, "swapExactTokensForTokens", amount_in, min_out, path, to, DEADLINE)
        return self.call(
            "ConstantProductPool", pool.address, "swapExactIn", self.tokens[token_in].address, amount_in, min_out, to
        )

    def add_liquidity(self, pool_symbol: str, base_amount: int, quote_amount: int, to: str, min_fraction_bps: int = 0) -> Call:
        """Deposit up to both amounts at the pool's ratio; ``min_fraction_bps`` of each is the floor."""
        pool = self.pools[pool_symbol]
        if pool.kind == "uniswap_v2":
            base, quote = self.tokens[pool_symbol].address, self.stable.address
            return self.call("UniswapV2Router02", pool.router, "addLiquidity", base, quote, base_amount, quote_amount,
                             base_amount * min_fraction_bps // 10_000, quote_amount * min_fraction_bps // 10_000, to, DEADLINE)
        amount0, amount1 = (base_amount, quote_amount) if pool.base_is_token0 else (quote_amount, base_amount)
        min0, min1 = amount0 * min_fraction_bps // 10_000, amount1 * min_fraction_bps // 10_000
        return self.call("ConstantProductPool", pool.address, "addLiquidity", amount0, amount1, min0, min1, to)

    def remove_liquidity(self, pool_symbol: str, shares: int, to: str) -> Call:
        pool = self.pools[pool_symbol]
        if pool.kind == "uniswap_v2":
            base, quote = self.tokens[pool_symbol].address, self.stable.address
            return self.call("UniswapV2Router02", pool.router, "removeLiquidity", base, quote, shares, 0, 0, to, DEADLINE)
        return self.call("ConstantProductPool", pool.address, "removeLiquidity", shares, 0, 0, to)

    # ------------------------------------------------------------------ lending

    def supply(self, asset: str, amount: int, on_behalf: str) -> Call:
        token = self.tokens[asset].address
        if self.lending_kind == "aave_v3":
            return self.call("AavePool", self.lending, "supply", token, amount, on_behalf, AAVE_REFERRAL_CODE)
        return self.call("LendingPool", self.lending, "supply", token, amount, on_behalf)

    def borrow(self, asset: str, amount: int, borrower: str) -> Call:
        """``borrower`` borrows ``amount`` of ``asset`` against its own collateral (variable rate)."""
        token = self.tokens[asset].address
        if self.lending_kind == "aave_v3":
            return self.call("AavePool", self.lending, "borrow", token, amount, AAVE_VARIABLE_RATE, AAVE_REFERRAL_CODE, borrower)
        return self.call("LendingPool", self.lending, "borrow", token, amount)

    def repay(self, asset: str, amount: int, on_behalf: str) -> Call:
        token = self.tokens[asset].address
        if self.lending_kind == "aave_v3":
            return self.call("AavePool", self.lending, "repay", token, amount, AAVE_VARIABLE_RATE, on_behalf)
        return self.call("LendingPool", self.lending, "repay", token, amount, on_behalf)

    def liquidation_call(self, collateral: str, debt: str, user: str, debt_to_cover: int, receive_a_token: bool = False) -> Call:
        """Aave's ``liquidationCall``, the same on LendingPool and on an Aave V3 Pool."""
        return self.call(
            self.lending_contract,
            self.lending,
            "liquidationCall",
            self.tokens[collateral].address,
            self.tokens[debt].address,
            user,
            debt_to_cover,
            receive_a_token,
        )

    # ------------------------------------------------------------------ perps

    def open_position(self, market: str, is_long: bool, margin: int, leverage_wad: int, price_limit_wad: int) -> Call:
        market_id = self.markets[market].market_id
        return self.call("PerpExchange", self.perp, "openPosition", market_id, is_long, margin, leverage_wad, price_limit_wad)

    def close_position(self, market: str, price_limit_wad: int) -> Call:
        return self.call("PerpExchange", self.perp, "closePosition", self.markets[market].market_id, price_limit_wad)

    def reduce_position(self, market: str, size_wad: int, price_limit_wad: int) -> Call:
        """Close ``size_wad`` of the caller's position (all of it when that is at least its size)."""
        return self.call("PerpExchange", self.perp, "reducePosition", self.markets[market].market_id, size_wad, price_limit_wad)

    def add_margin(self, market: str, amount: int) -> Call:
        return self.call("PerpExchange", self.perp, "addMargin", self.markets[market].market_id, amount)

    def liquidate_position(self, trader: str, market: str, adl_counterparties: Sequence[str] = ()) -> Call:
        """A perp liquidation offering ``adl_counterparties`` (falling ADL score) in case the fund
        cannot cover the loss; its gas limit grows with the list, never with the market's positions."""
        return self.call(
            "PerpExchange", self.perp, "liquidate", trader, self.markets[market].market_id, list(adl_counterparties),
            gas=perp_liquidation_gas(len(adl_counterparties)),
        )

    def withdraw_credit(self) -> Call:
        """Pull the collateral ADL credited to the caller."""
        return self.call("PerpExchange", self.perp, "withdrawCredit")

    def settle_funding(self, market: str) -> Call:
        return self.call("PerpExchange", self.perp, "settleFunding", self.markets[market].market_id)

    def fund_insurance(self, amount: int) -> Call:
        return self.call("PerpExchange", self.perp, "fundInsurance", amount)

    # ------------------------------------------------------------------ oracles

    def set_answer(self, symbol: str, answer: int) -> Call:
        return self.call("MockAggregator", self.feeds[symbol], "setAnswer", answer)

    def twap_update(self, symbol: str) -> Call:
        return self.call("PoolTwapAggregator", self.pools[symbol].twap_oracle, "update")
