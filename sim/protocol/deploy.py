"""Deploying and configuring one scenario's contracts, by raw batched transactions.

Everything is deployed from a fixed deployer address at fixed timestamps, so the same scenario
gives the same addresses and the same chain on any fresh node. The contracts go in one block;
the listings and parameters (:func:`configuration_calls`) and the starting balances
(:func:`funding_calls`) follow in blocks the model mines.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sim.chain import GWEI, Backend, Call, MinedBlock, create_address
from sim.chain.abi import Codec, describe_revert, encode_constructor
from sim.protocol.amm import MAX_UINT256
from sim.protocol.artifacts import Artifact
from sim.protocol.calls import AaveV3Info, MarketInfo, PoolInfo, Protocol, Token
from sim.protocol.constants import LENDING_RULES, PRICE_SOURCE
from sim.protocol.npm_contracts import npm_codecs
from sim.scenario import Scenario
from sim.scenario.prices import PricePath
from sim.scenario.schema import Liquidation as PerpLiquidation
from sim.units import BPS, USD_DECIMALS, USD_UNIT, to_units, to_wad, usd_price_to_wad

DEPLOY_GAS = 15_000_000
VENUE_DEPTH_USD8 = 10**12 * USD_UNIT  # the off-chain market's inventory of every token


class SetupError(RuntimeError):
    """A set-up transaction reverted: the scenario's parameters do not fit the contracts."""


def check_block(backend: Backend, block: MinedBlock, stage: str, codecs: Iterable[Codec], who: str = "") -> None:
    """Raise :class:`SetupError` naming the first set-up transaction that reverted and why."""
    failed = block.failed()
    if not failed:
        return
    tx, _ = failed[0]
    reason = describe_revert(codecs, backend.revert_data(tx.tx_hash))
    sender = who or tx.sender
    raise SetupError(
        f"{stage}: {len(failed)} transaction(s) reverted; first: {sender} {tx.call.action}{tx.call.args!r} -> {reason}"
    )


class _Creations:
    """Contract creations from one deployer, their addresses known before they are sent."""

    def __init__(self, artifacts: dict[str, Artifact], deployer: str, first_nonce: int):
        self.artifacts = artifacts
        self.deployer = deployer
        self.first_nonce = first_nonce
        self.calls: list[Call] = []

    def create(self, name: str, *args: Any) -> str:
        artifact = self.artifacts[name]
        data = encode_constructor(artifact.bytecode, artifact.constructor_types, args)
        address = create_address(self.deployer, self.first_nonce + len(self.calls))
        self.calls.append(Call(to=None, data=data, action=f"deploy {name}", args=args, gas=DEPLOY_GAS))
        return address

    def call(self, call: Call) -> None:
        """A transaction that creates nothing, sent in the same nonce sequence (later creations'
        addresses stay known up front)."""
        self.calls.append(call)


def uses_fork_venues(scenario: Scenario) -> bool:
    """Whether the scenario names tokens or venues that already live on the chain (a fork)."""
    return (scenario.lending.kind != "builtin" or any(p.kind != "builtin" for p in scenario.pools)
            or any(a.address is not None for a in scenario.assets.values()))


def deploy_protocol(
    backend: Backend, artifacts: dict[str, Artifact], scenario: Scenario, prices: PricePath, deployer: str, timestamp_s: int,
    aave: AaveV3Info | None = None,
) -> Protocol:
    """Deploy every contract of ``scenario`` in one block; the addresses, with the oracles each
    reserve and market reads. Tokens and venues that live on the chain already (checked and
    resolved by :func:`sim.protocol.fork.resolve_fork_venues`; ``aave`` for an Aave V3 market)
    are used where they are."""
    codecs = {n: a.codec for n, a in artifacts.items()}
    if uses_fork_venues(scenario):
        codecs.update(npm_codecs())
    protocol = Protocol(codecs=codecs, stablecoin=scenario.stablecoin, deployer=deployer,
                        lending_kind=scenario.lending.kind, lending_rules=scenario.lending.rules, aave=aave)
    creations = _Creations(artifacts, deployer, backend.nonce_of(deployer))
    _create_tokens_and_pools(creations, protocol, scenario, prices)
    create = creations.create
    protocol.lending = create("LendingPool") if aave is None else aave.pool
    protocol.perp = create("PerpExchange", protocol.stable.address)
    if aave is None:  # the risk lens reads LendingPool's own views
        protocol.risk_lens = create("RiskLens", protocol.lending)
    protocol.state_lens = create("StateLens")
    mined = backend.execute([(deployer, c, GWEI) for c in creations.calls], timestamp_s)
    check_block(backend, mined, "deploying contracts", protocol.codecs.values())
    for reserve in scenario.lending.reserves:
        protocol.lending_oracles[reserve.asset] = _oracle(protocol, reserve.oracle, reserve.asset)
    for market_id, market in enumerate(scenario.perp.markets):
        min_position = to_units(market.liquidation.min_position_usd, protocol.stable.decimals, "ceil")
        protocol.markets[market.asset] = MarketInfo(market.asset, market_id, min_position)
        protocol.perp_index_oracles[market.asset] = _oracle(protocol, market.index_oracle, market.asset)
    return protocol


def _create_tokens_and_pools(creations: _Creations, protocol: Protocol, scenario: Scenario, prices: PricePath) -> None:
    """Tokens, push feeds, and per pool the pair and its spot and TWAP oracles."""
    create = creations.create
    for symbol, asset in scenario.assets.items():
        address = asset.address or create("SimToken", f"{symbol} (sim)", symbol, asset.decimals)
        protocol.tokens[symbol] = Token(symbol, address, asset.decimals)
        if asset.address is not None:
            protocol.external_tokens.add(symbol)
    for symbol in scenario.assets:
        protocol.feeds[symbol] = create("MockAggregator", USD_DECIMALS, f"{symbol} / USD", prices.price8(0, symbol))
    stable = protocol.tokens[scenario.stablecoin]
    stable_feed = protocol.feeds[scenario.stablecoin]
    for pool in scenario.pools:
        base = protocol.tokens[pool.asset]
        address = pool.pair if pool.kind == "uniswap_v2" else create("ConstantProductPool", base.address, stable.address, pool.fee_bps)
        spot = create("PoolSpotAggregator", address, base.address, stable_feed, f"{pool.asset} / USD (pool spot)")
        twap = create(
            "PoolTwapAggregator", address, base.address, stable_feed, pool.twap_window_s, pool.twap_capacity,
            f"{pool.asset} / USD (pool TWAP {pool.twap_window_s}s)",
        )
        base_is_token0 = int(base.address, 16) < int(stable.address, 16)  # V2's order, ours too
        protocol.pools[pool.asset] = PoolInfo(pool.asset, address, base_is_token0, pool.fee_bps, spot, twap,
                                              kind=pool.kind, router=pool.router or "")
        lst = scenario.assets[pool.asset].lst
        if lst is not None:  # its collateral index: w × this pool's spot + (1 − w) × rate × the underlying's feed
            rate = scenario.assets[pool.asset].price_usd / scenario.assets[lst.underlying].price_usd
            protocol.lst_oracles[pool.asset] = create(
                "LstIndexAggregator", address, base.address, stable_feed, protocol.feeds[lst.underlying],
                round(lst.spot_weight * BPS), to_wad(rate, "floor"), f"{pool.asset} / USD (collateral index)",
            )


def _oracle(protocol: Protocol, kind: str, symbol: str) -> str:
    if kind == "external":
        return protocol.feeds[symbol]
    if kind == "lst_index":
        return protocol.lst_oracles[symbol]
    pool = protocol.pools[symbol]
    return pool.spot_oracle if kind == "pool_spot" else pool.twap_oracle


def configuration_orders(scenario: Scenario, prices: PricePath, protocol: Protocol) -> list[tuple[str, list[Call]]]:
    """``(sender, calls)``: listReserve / listMarket and every parameter the scenario sets, from
    the deployer; on an Aave V3 market, the oracle pointed at the run's price sources by the
    market's ACL admin (:func:`aave_oracle_orders`)."""
    if protocol.aave is None:
        return [(protocol.deployer, _lending_calls(scenario, protocol) + _perp_calls(scenario, prices, protocol))]
    return aave_oracle_orders(protocol, dict(protocol.lending_oracles)) + [(protocol.deployer, _perp_calls(scenario, prices, protocol))]


def aave_oracle_orders(protocol: Protocol, sources: dict[str, str]) -> list[tuple[str, list[Call]]]:
    """Point the Aave oracle at the run's price sources (symbol -> aggregator): sent by the
    market's ACL admin (impersonated on the fork), which first makes itself a pool admin."""
    aave = protocol.aave
    symbols = list(sources)
    calls = [
        protocol.call("ACLManager", aave.acl_manager, "addPoolAdmin", aave.acl_admin),
        protocol.call("AaveOracle", aave.oracle, "setAssetSources",
                      [protocol.tokens[s].address for s in symbols], [sources[s] for s in symbols]),
    ]
    return [(aave.acl_admin, calls)]


def _lending_calls(scenario: Scenario, p: Protocol) -> list[Call]:
    def lending(fn: str, *args: Any) -> Call:
        return p.call("LendingPool", p.lending, fn, *args)

    calls = []
    lend = scenario.lending
    for reserve in lend.reserves:
        token = p.tokens[reserve.asset]
        calls.append(lending("listReserve", token.address, p.lending_oracles[reserve.asset], reserve.ltv_bps,
                             reserve.liquidation_threshold_bps, reserve.liquidation_bonus_bps, reserve.borrowing_enabled))
        rates = reserve.interest
        calls.append(lending("setInterestRateModel", token.address, rates.base_rate_bps, rates.slope1_bps,
                             rates.slope2_bps, rates.optimal_utilization_bps))
        if reserve.supply_cap or reserve.borrow_cap:
            calls.append(lending("setCaps", token.address, to_units(reserve.supply_cap, token.decimals, "floor"),
                                 to_units(reserve.borrow_cap, token.decimals, "floor")))
        if reserve.liquidation_protocol_fee_bps:
            calls.append(lending("setLiquidationProtocolFee", token.address, reserve.liquidation_protocol_fee_bps))
    calls.append(lending("setCloseFactor", lend.close_factor_bps, to_wad(lend.full_liquidation_health_factor, "floor")))
    if lend.rules != "v3.0":
        calls.append(lending("setLiquidationRules", LENDING_RULES[lend.rules]))
    if lend.max_oracle_age_s:
        calls.append(lending("setMaxOracleAge", lend.max_oracle_age_s))
    return calls


def _perp_calls(scenario: Scenario, prices: PricePath, p: Protocol) -> list[Call]:
    def perp(fn: str, *args: Any) -> Call:
        return p.call("PerpExchange", p.perp, fn, *args)

    calls = []
    for market_id, market in enumerate(scenario.perp.markets):
        price_wad = usd_price_to_wad(prices.price8(0, market.asset))
        v_quote = to_wad(market.depth_usd, "floor")
        v_base = v_quote * 10**18 // price_wad
        calls.append(perp("listMarket", f"{market.asset}-PERP", p.perp_index_oracles[market.asset], v_base, v_quote,
                          market.initial_margin_bps, market.maintenance_margin_bps, market.liquidation_fee_bps,
                          market.trading_fee_bps))
        funding = market.funding
        calls.append(perp("setFundingParams", market_id, funding.interval_s, to_wad(funding.factor, "floor"),
                          to_wad(funding.max_rate_per_interval, "floor")))
        calls.append(perp("setLiquidationParams", market_id, _liquidation_params(market.liquidation, p.stable.decimals)))
    if not scenario.perp.adl_enabled:
        calls.append(perp("setAdlEnabled", False))
    return calls


def margin_price_calls(scenario: Scenario, p: Protocol) -> list[Call]:
    """Each market's margin price source and EMA time constant, set once the agents have opened
    their positions. The set-up opens the whole book in one block, before any arbitrage: marked
    at the index or the median, the last of many longs would open far above it, at a loss that
    makes the open liquidatable. So the book is opened at the vAMM price (the exchange's default)
    and the scenario's source applies from the first simulated block."""
    return [
        p.call("PerpExchange", p.perp, "setMarkParams", market_id, PRICE_SOURCE[market.margin_price_source], market.mark_ema_s)
        for market_id, market in enumerate(scenario.perp.markets)
    ]


def _liquidation_params(rules: PerpLiquidation, decimals: int) -> tuple[int, int, int, int, int]:
    """``PerpExchange.LiquidationParams`` in its field order: minPositionUsdc, partialLiquidationUsdc,
    maxLiquidationBps, liquidationCooldownS, maxFundFeeUsdc."""
    partial = MAX_UINT256 if rules.partial_above_usd is None else to_units(rules.partial_above_usd, decimals, "floor")
    max_bps = round(rules.max_fraction * BPS)
    return (to_units(rules.min_position_usd, decimals, "ceil"), partial, max_bps, rules.cooldown_s,
            to_units(rules.max_fund_fee_usd, decimals, "floor"))


def funding_calls(
    protocol: Protocol, grants: Sequence[tuple[str, dict[str, int]]], insurance_units: int, minted: set[str] | None = None
) -> list[Call]:
    """Mint every account's starting tokens (the deployer's seeds the insurance fund), only of the
    ``minted`` symbols (all by default: tokens the run deployed; the others are dealt, see
    :mod:`sim.protocol.deal`); then the deployer funds the insurance fund."""
    calls = [protocol.mint(symbol, account, amount) for account, tokens in grants for symbol, amount in tokens.items()
             if amount > 0 and (minted is None or symbol in minted)]
    if insurance_units:
        calls += [protocol.approve(protocol.stablecoin, protocol.perp), protocol.fund_insurance(insurance_units)]
    return calls


def venue_grants(protocol: Protocol, prices: PricePath) -> dict[str, int]:
    """The off-chain market's inventory: plenty of every token."""
    return {
        symbol: VENUE_DEPTH_USD8 * 10**token.decimals // prices.price8(0, symbol)
        for symbol, token in protocol.tokens.items()
    }


def insurance_units(scenario: Scenario, protocol: Protocol) -> int:
    return to_units(scenario.perp.insurance_fund_usd, protocol.stable.decimals, "floor")


def lending_configuration_calls(scenario: Scenario, protocol: Protocol) -> list[Call]:
    """The lending part of :func:`configuration_orders`: listReserve and every lending parameter
    (for a LendingPool deployed without the rest, e.g. beside Aave on an upstream chain)."""
    return _lending_calls(scenario, protocol)
