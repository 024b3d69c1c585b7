"""Griefing the exchange with many positions: dust is refused by the minimum size, and a market
holding 5,000 positions still liquidates with ADL in far less than a block's gas, because the
contract reads only the counterparties the liquidator lists (it never scans the book).

The 5,000 positions are opened cheaply by `sim.tools.adl_gas.open_positions`: token balances and
allowances written into storage, and the openPosition calls sent as JSON-RPC batches from
impersonated addresses and mined in one block."""

import ape
from perp_math import WAD

from sim.tools.adl_gas import MARKET_ID, AdlGasBench, trader_address

EIP_7825_TX_GAS_CAP = 16_777_216  # 2**24: the most gas one transaction may use (Fusaka)
POSITIONS = 5_000
LISTED = 10


def test_dust_positions_are_refused(make_perp, fund, trader):
    pm = make_perp(0)
    ex, unit = pm.exchange, pm.unit
    minimum = 100 * unit
    pm.set_liquidation(min_position=minimum)
    fund(pm.usdc, trader, 10**12, spender=ex)
    for margin, leverage in [(1, WAD), (10 * unit, 5 * WAD), (minimum // 10, 10 * WAD - 1)]:  # 1 unit, $50, $99.99...
        notional = margin * leverage // WAD
        with ape.reverts(ex.PositionBelowMinimum, openNotionalUsdc=notional, minPositionUsdc=minimum):
            ex.openPosition(pm.id, True, margin, leverage, 0, sender=trader)
    ex.openPosition(pm.id, True, 20 * unit, 5 * WAD, 0, sender=trader)  # $100: accepted
    size = ex.getPosition(trader, pm.id).sizeBase
    with ape.reverts(ex.PositionBelowMinimum):  # keeping 99% of the size keeps under $100 of open notional
        ex.reducePosition(pm.id, size // 100, 0, sender=trader)
    ex.closePosition(pm.id, 0, sender=trader)  # closing all is always allowed


def test_adl_gas_in_a_market_of_5000_positions(accounts, chain, project):
    bench = AdlGasBench(accounts, chain, project)
    bench.grow_to(POSITIONS)
    ex = bench.exchange
    assert len(ex.tradersOf(MARKET_ID)) == POSITIONS + 1  # the shorts and the long
    assert ex.getPosition(trader_address(POSITIONS - 1), MARKET_ID).sizeBase < 0
    # The dust guard holds on this market too: a fresh account cannot add a $5 position.
    ex.setLiquidationParams(MARKET_ID, (100 * 10**6, 2**256 - 1, 10_000, 0, 0), sender=bench.deployer)
    dust = accounts[7]
    bench.usdc.mint(dust, 10**6, sender=bench.deployer)
    bench.usdc.approve(ex, 10**6, sender=dust)
    with ape.reverts(ex.PositionBelowMinimum):
        ex.openPosition(MARKET_ID, False, 10**6, 5 * WAD, 0, sender=dust)

    row = bench.measure(LISTED)
    print(f"\nADL liquidation in a market of {row.positions:,} positions, {row.listed} listed: "
          f"{row.fills} fills, {row.gas_used:,} gas")
    assert (row.listed, row.fills) == (LISTED, LISTED)
    assert row.gas_used < EIP_7825_TX_GAS_CAP
