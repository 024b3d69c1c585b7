"""Deploying and wiring the contracts through Ape.

Every function takes the Ape account that signs (the *deployer*, who owns tokens and push feeds)
and returns Ape contract instances. Amounts in arguments are human numbers (``Number``) and are
converted to native integers here through :mod:`sim.units` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.protocol.amm import MAX_UINT256, PoolAdapter
from sim.units import USD_UNIT, Number, mul_div, to_units, to_usd_price

USD_FEED_DECIMALS = 8


def _project() -> Any:
    from ape import project  # imported lazily: importing ape costs seconds

    return project


def deploy_token(deployer: Any, name: str, symbol: str, decimals: int) -> Any:
    """A SimToken owned (and so mintable) by ``deployer``."""
    return _project().SimToken.deploy(name, symbol, decimals, sender=deployer)


def deploy_pool(deployer: Any, token_a: Any, token_b: Any, fee_bps: int) -> Any:
    """An empty ConstantProductPool for the two tokens."""
    return _project().ConstantProductPool.deploy(token_a, token_b, fee_bps, sender=deployer)


def deploy_feed(deployer: Any, description: str, price_usd: Number) -> Any:
    """A MockAggregator push feed (8 decimals) owned by ``deployer``, starting at ``price_usd``."""
    return _project().MockAggregator.deploy(
        USD_FEED_DECIMALS, description, to_usd_price(price_usd), sender=deployer
    )


def deploy_spot_oracle(deployer: Any, pool: Any, base: Any, quote_feed: Any = None) -> Any:
    """A PoolSpotAggregator pricing ``base`` from ``pool`` (quote at $1 when ``quote_feed`` is None)."""
    description = f"{base.symbol()} / USD (pool spot)"
    return _project().PoolSpotAggregator.deploy(pool, base, _address_or_zero(quote_feed), description, sender=deployer)


def deploy_twap_oracle(
    deployer: Any, pool: Any, base: Any, window_s: int, capacity: int, quote_feed: Any = None
) -> Any:
    """A PoolTwapAggregator over ``window_s`` seconds keeping ``capacity`` observations.

    Someone must call its ``update()`` regularly (the oracle keeper does, every block)."""
    description = f"{base.symbol()} / USD (pool TWAP {window_s}s)"
    return _project().PoolTwapAggregator.deploy(
        pool, base, _address_or_zero(quote_feed), window_s, capacity, description, sender=deployer
    )


def add_liquidity(deployer: Any, provider: Any, pool: Any, token_a: Any, amount_a: int, token_b: Any, amount_b: int) -> int:
    """Mint both amounts (native units) to ``provider`` and deposit them; returns the LP shares."""
    for token, amount in ((token_a, amount_a), (token_b, amount_b)):
        token.mint(provider, amount, sender=deployer)
        token.approve(pool.address, MAX_UINT256, sender=provider)
    a_is_token0 = str(pool.token0()) == str(token_a.address)
    amount0, amount1 = (amount_a, amount_b) if a_is_token0 else (amount_b, amount_a)
    shares_before = int(pool.balanceOf(provider))
    pool.addLiquidity(amount0, amount1, amount0, amount1, provider, sender=provider)
    return int(pool.balanceOf(provider)) - shares_before


@dataclass(frozen=True)
class SpotMarket:
    """A base token traded against a $1 quote token in one pool, with its three price sources."""

    base: Any
    quote: Any
    pool: Any
    adapter: PoolAdapter
    feed: Any  # external price, pushed by a keeper
    spot_oracle: Any
    twap_oracle: Any


def deploy_spot_market(
    deployer: Any,
    liquidity_provider: Any,
    quote: Any,
    symbol: str,
    decimals: int,
    price_usd: Number,
    depth_usd: Number,
    fee_bps: int = 30,
    twap_window_s: int = 600,
    twap_capacity: int = 256,
) -> SpotMarket:
    """Deploy a base token, its pool against ``quote`` (a $1 stablecoin) and its oracles.

    ``depth_usd`` is the USD value of *each* side of the pool at ``price_usd``: the quote reserve is
    ``depth_usd`` and the base reserve ``depth_usd / price_usd`` (rounded down to a native unit).
    """
    base = deploy_token(deployer, f"{symbol} token", symbol, decimals)
    pool = deploy_pool(deployer, base, quote, fee_bps)
    quote_reserve = to_units(depth_usd, int(quote.decimals()))
    price = to_usd_price(price_usd)
    base_reserve = mul_div(to_units(depth_usd, decimals, "floor"), USD_UNIT, price)
    add_liquidity(deployer, liquidity_provider, pool, base, base_reserve, quote, quote_reserve)
    twap = deploy_twap_oracle(deployer, pool, base, twap_window_s, twap_capacity)
    twap.update(sender=deployer)
    return SpotMarket(
        base=base,
        quote=quote,
        pool=pool,
        adapter=PoolAdapter.from_contract(pool),
        feed=deploy_feed(deployer, f"{symbol} / USD", price_usd),
        spot_oracle=deploy_spot_oracle(deployer, pool, base),
        twap_oracle=twap,
    )


def _address_or_zero(contract: Any) -> str:
    return str(contract.address) if contract is not None else "0x" + "00" * 20
