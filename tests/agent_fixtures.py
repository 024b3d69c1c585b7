"""A Protocol, Snapshots and Contexts built by hand, for testing agents' decisions without a node.

The codecs come from the compiled ABIs in ``.build/__local__.json`` (no Ape import); every
address is made up and fixed. Amounts are native integers, as on chain.
"""

from __future__ import annotations

import functools
import json
import pathlib
from typing import Iterable, Sequence

import numpy as np

from sim.agents.base import Context
from sim.chain.abi import Codec
from sim.protocol import CONTRACTS, MarketInfo, PoolInfo, Protocol, Token
from sim.protocol.state import MarketSnap, PerpPos, ReserveSnap, Snapshot

BUILD = pathlib.Path(__file__).resolve().parent.parent / ".build" / "__local__.json"

WAD = 10**18
USD8 = 10**8  # $1 as an 8-decimal USD price
USDC = 10**6  # one USDC in native units
ALT = 10**18  # one ALT in native units
BTC = 10**8  # one BTC in native units

DECIMALS = {"USDC": 6, "ALT": 18, "BTC": 8}
MARKET_IDS = {"ALT": 0, "BTC": 1}
T0 = 1_760_000_000  # the run's first timestamp


def addr(n: int) -> str:
    """A made-up fixed address."""
    return "0x" + f"{n:040x}"


TOKEN_ADDR = {"USDC": addr(0x1001), "ALT": addr(0x1002), "BTC": addr(0x1003)}
FEED_ADDR = {"USDC": addr(0x2001), "ALT": addr(0x2002), "BTC": addr(0x2003)}
POOL_ADDR = {"ALT": addr(0x3002), "BTC": addr(0x3003)}
SPOT_ORACLE_ADDR = {"ALT": addr(0x4002), "BTC": addr(0x4003)}
TWAP_ORACLE_ADDR = {"ALT": addr(0x5002), "BTC": addr(0x5003)}
LENDING_ORACLE_ADDR = {"USDC": addr(0x6001), "ALT": addr(0x6002), "BTC": addr(0x6003)}
LENDING = addr(0x7001)
PERP = addr(0x7002)
RISK_LENS = addr(0x7003)
STATE_LENS = addr(0x7004)
DEPLOYER = addr(0x7005)
VENUE = addr(0x7006)

# agents' accounts
WHALE = addr(0xA001)
LIQUIDATOR = addr(0xA002)
ARB = addr(0xA003)
MM = addr(0xA004)
NOISE = addr(0xA005)
KEEPER = DEPLOYER
USER_A, USER_B, USER_C, USER_D = addr(0xB001), addr(0xB002), addr(0xB003), addr(0xB004)


@functools.lru_cache(maxsize=1)
def codecs() -> dict[str, Codec]:
    types = json.loads(BUILD.read_text())["contractTypes"]
    return {name: Codec(name, types[name]["abi"]) for name in CONTRACTS}


def make_protocol(assets: Sequence[str] = ("ALT",), fee_bps: int = 30, perp_markets: Sequence[str] | None = None) -> Protocol:
    """USDC (6 decimals) plus ``assets`` (ALT: 18, BTC: 8), each with a feed, a pool against USDC
    (``fee_bps``), a lending reserve and a perp market (``perp_markets``, default: all assets)."""
    symbols = ["USDC", *assets]
    markets = list(assets) if perp_markets is None else list(perp_markets)
    return Protocol(
        codecs=codecs(),
        stablecoin="USDC",
        deployer=DEPLOYER,
        tokens={s: Token(s, TOKEN_ADDR[s], DECIMALS[s]) for s in symbols},
        feeds={s: FEED_ADDR[s] for s in symbols},
        pools={
            s: PoolInfo(s, POOL_ADDR[s], TOKEN_ADDR[s] < TOKEN_ADDR["USDC"], fee_bps, SPOT_ORACLE_ADDR[s], TWAP_ORACLE_ADDR[s])
            for s in assets
        },
        lending=LENDING,
        lending_oracles={s: LENDING_ORACLE_ADDR[s] for s in symbols},
        perp=PERP,
        perp_index_oracles={s: FEED_ADDR[s] for s in markets},
        markets={s: MarketInfo(s, MARKET_IDS[s]) for s in markets},
        risk_lens=RISK_LENS,
        state_lens=STATE_LENS,
    )


def reserves_at(price8: int, base: int, base_decimals: int = 18) -> tuple[int, int]:
    """Pool reserves (base, quote in USDC units) with ``base`` units at an exact 8-decimal price."""
    quote = base * price8 * USDC // (10**base_decimals * USD8)
    return base, quote


def market_snap(mark_wad: int = 2 * WAD, index_wad: int | None = 2 * WAD, v_base_wad: int = 10_000_000 * WAD) -> MarketSnap:
    """A vAMM market whose virtual reserves give ``mark_wad`` (v_quote = v_base × mark)."""
    return MarketSnap(
        mark_wad=mark_wad,
        index_wad=index_wad,
        v_base_wad=v_base_wad,
        v_quote_wad=v_base_wad * mark_wad // WAD,
        long_base_wad=0,
        short_base_wad=0,
        cumulative_funding_wad=0,
        margin_price_wad=mark_wad,
    )


def make_snapshot(
    protocol: Protocol,
    *,
    block: int = 1,
    timestamp_s: int | None = None,
    pool_reserves: dict[str, tuple[int, int]] | None = None,
    pool_shares: dict[str, int] | None = None,
    lending_prices: dict[str, int | None] | None = None,
    feeds: dict[str, int] | None = None,
    markets: dict[str, MarketSnap] | None = None,
    balances: dict[str, dict[str, int]] | None = None,
    lending_positions: dict[str, dict[str, tuple[int, int]]] | None = None,
    health: dict[str, int] | None = None,
    perp_positions: dict[str, dict[str, PerpPos]] | None = None,
) -> Snapshot:
    """A Snapshot with sensible defaults: ALT at $2 (pool of 1M ALT / 2M USDC), BTC at $100k."""
    default_price = {"USDC": USD8, "ALT": 2 * USD8, "BTC": 100_000 * USD8}
    default_reserves = {"ALT": reserves_at(2 * USD8, 1_000_000 * ALT), "BTC": reserves_at(100_000 * USD8, 100 * BTC, 8)}
    assets = list(protocol.pools)
    reserves = pool_reserves if pool_reserves is not None else {s: default_reserves[s] for s in assets}
    return Snapshot(
        block=block,
        timestamp_s=T0 + 12 * block if timestamp_s is None else timestamp_s,
        pool_reserves=reserves,
        pool_shares=pool_shares if pool_shares is not None else {s: 10**24 for s in reserves},
        reserves={s: ReserveSnap(0, 0, 0, 0) for s in protocol.lending_oracles},
        lending_prices=lending_prices if lending_prices is not None else {s: default_price[s] for s in protocol.tokens},
        feeds=feeds if feeds is not None else {s: default_price[s] for s in protocol.feeds},
        feed_updated_s={s: T0 for s in protocol.feeds},
        markets=markets if markets is not None else {m: market_snap() for m in protocol.markets},
        insurance_fund=0,
        perp_bad_debt=0,
        balances=balances or {},
        lending_positions=lending_positions or {},
        health=health or {},
        perp_positions=perp_positions or {},
    )


def make_context(
    protocol: Protocol,
    view: Snapshot,
    *,
    history: Iterable[Snapshot] | None = None,
    external: dict[str, int] | None = None,
    block: int | None = None,
    timestamp_s: int | None = None,
    rng: np.random.Generator | None = None,
) -> Context:
    block = view.block if block is None else block
    return Context(
        block=block,
        timestamp_s=T0 + 12 * block if timestamp_s is None else timestamp_s,
        protocol=protocol,
        view=view,
        history=list(history) if history is not None else [view],
        external=external if external is not None else dict(view.feeds),
        rng=rng if rng is not None else np.random.default_rng(0),
    )


def perp_pos(
    size_wad: int, margin: int = 0, pnl: int = 0, funding: int = 0, liquidatable: bool = False, open_notional: int = 0,
    adl_score: int = 0,
) -> PerpPos:
    return PerpPos(size_wad=size_wad, margin=margin, open_notional=open_notional, unrealized_pnl=pnl, pending_funding=funding,
                   liquidatable=liquidatable, adl_score=adl_score)


def v2_out(amount_in: int, reserve_in: int, reserve_out: int, fee_bps: int) -> int:
    """Uniswap V2's getAmountOut, written out independently of sim.amm."""
    after_fee = amount_in * (10_000 - fee_bps)
    return after_fee * reserve_out // (reserve_in * 10_000 + after_fee)


def actions(calls) -> list[str]:
    return [c.action for c in calls]

