"""How the gas of an auto-deleveraging liquidation grows with the number of open positions.

`ape run adl_gas` opens one 10x long, then N small shorts from fresh accounts, crashes the mark
with a whale short so the long is bankrupt beyond an empty insurance fund, and liquidates it:
the ADL pass ranks all N + 1 opposite positions on-chain. It prints the gas of that liquidation
per N, so the per-position cost of the scan can be read off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.tools.ape_deploy import deploy_feed, deploy_token
from sim.units import WAD, to_units


@dataclass(frozen=True)
class AdlGasRow:
    positions: int
    fills: int
    gas_used: int


def measure_adl_gas(accounts: Any, chain: Any, project: Any, positions: int) -> AdlGasRow:
    deployer, whale, long_trader, keeper = accounts[0], accounts[1], accounts[2], accounts[3]
    usdc = deploy_token(deployer, "USD Coin (sim)", "USDC", 6)
    feed = deploy_feed(deployer, "ALT / USD", 2)
    exchange = project.PerpExchange.deploy(usdc, sender=deployer)
    exchange.listMarket("ALT-PERP", feed, 10_000_000 * WAD, 20_000_000 * WAD, 1_000, 500, 100, 0, sender=deployer)

    def open_position(trader: Any, is_long: bool, margin_usd: int, leverage: int) -> None:
        margin = to_units(margin_usd, 6)
        usdc.mint(trader, margin, sender=deployer)
        usdc.approve(exchange, margin, sender=trader)
        exchange.openPosition(0, is_long, margin, leverage * WAD, 0, sender=trader)

    open_position(long_trader, True, 20_000, 10)
    for _ in range(positions):
        trader = accounts.generate_test_account()
        chain.set_balance(trader, 10**18)
        open_position(trader, False, 100, 5)
    open_position(whale, False, 2_000_000, 5)
    receipt = exchange.liquidate(long_trader, 0, sender=keeper)
    fills = len(receipt.decode_logs(exchange.AutoDeleveraged))
    return AdlGasRow(positions=positions + 1, fills=fills, gas_used=int(receipt.gas_used))
