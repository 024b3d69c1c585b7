"""Each attacker's calls on hand-built snapshots against amounts computed from the rule here, the
gas it pays counted against it, and its equity with limited liability (no node)."""

import dataclasses

from agent_fixtures import ALT, USDC, USD8, WHALE, actions, make_context, make_protocol, make_snapshot, perp_pos, v2_out

from sim.agents.base import DEFAULT_GAS_TOKEN_USD8
from sim.agents.mark_push import MarkPushAttacker
from sim.agents.short_dump import ShortAndDumpAttacker
from sim.agents.spot_pump import SpotPumpAttacker
from sim.protocol.state import ReserveSnap
from sim.record.recorder import abandoned_usd8, equity_usd8

ATTACKER = "0x" + "ab" * 20
POOL_ALT, POOL_USDC = 1_000_000 * ALT, 2_000_000 * USDC  # ALT at $2, $2M a side


def pump(**kw) -> SpotPumpAttacker:
    return SpotPumpAttacker("attacker-0-0", ATTACKER, asset="ALT", capital_usd8=1_000_000 * USD8, start_block=3,
                            ltv_bps=6_000, fee_bps=30, gas_price_gwei=100.0, **kw)


def context(protocol, block, cash=1_000_000 * USDC, lendable=100_000_000 * USDC, **snapshot):
    view = make_snapshot(protocol, block=block, pool_reserves={"ALT": (POOL_ALT, POOL_USDC)},
                         balances={ATTACKER: {"USDC": cash}}, **snapshot)
    reserves = {**view.reserves, "USDC": ReserveSnap(lendable, 0, lendable, 0)}  # the stablecoin the pool can lend
    return make_context(protocol, dataclasses.replace(view, reserves=reserves))


def test_the_pump_buys_supplies_and_borrows_at_the_pumped_price_once():
    protocol = make_protocol()
    agent = pump()
    assert agent.step(context(protocol, 2)) == []  # before its block: nothing
    calls = agent.step(context(protocol, 3))
    assert actions(calls) == ["swapExactIn", "supply", "borrow"]
    bought = v2_out(1_000_000 * USDC, POOL_USDC, POOL_ALT, 30)
    value = bought * (POOL_USDC + 1_000_000 * USDC) // (POOL_ALT - bought)  # at the pumped pool price
    assert calls[1].args[1] == bought and calls[2].args[1] == value * (6_000 - 5) // 10_000
    assert agent.step(context(protocol, 4)) == []  # once


def test_the_pump_borrows_no_more_than_the_pool_can_lend_and_sells_back_what_the_cap_refuses():
    protocol = make_protocol()
    agent = pump(supply_cap=100_000 * ALT)
    lendable = 50_000 * USDC
    calls = agent.step(context(protocol, 3, lendable=lendable))
    assert actions(calls) == ["swapExactIn", "supply", "borrow", "swapExactIn"]
    bought = v2_out(1_000_000 * USDC, POOL_USDC, POOL_ALT, 30)
    assert calls[1].args[1] == 100_000 * ALT  # up to the cap (nothing supplied yet)
    assert calls[2].args[1] == lendable - lendable // 1_000  # the cash, less 0.1%
    assert calls[3].args[1] == bought - 100_000 * ALT  # the rest sold back into the pumped pool


def test_the_gas_an_attacker_sends_is_a_loss_at_the_gas_tokens_price():
    protocol = make_protocol()
    agent = pump()
    calls = agent.decide(context(protocol, 3))
    gas_wei = sum(call.gas for call in calls) * 100 * 10**9
    assert agent.gas_spent_wei == gas_wei > 0
    assert agent.off_chain_usd8({}, protocol) == -(gas_wei * DEFAULT_GAS_TOKEN_USD8 // 10**18)
    assert agent.off_chain_usd8({"ETH": 4_000 * USD8}, protocol) == -(gas_wei * 4_000 * USD8 // 10**18)


def test_a_walk_away_counts_no_position_under_water_and_no_open_perp_position():
    protocol = make_protocol(perp_markets=["ALT"])
    prices = {"USDC": USD8, "ALT": 2 * USD8}
    view = make_snapshot(protocol, balances={ATTACKER: {"USDC": 500 * USDC}},
                         lending_positions={ATTACKER: {"ALT": (100 * ALT, 0), "USDC": (0, 300 * USDC)}},  # $200 against $300
                         perp_positions={"ALT": {ATTACKER: perp_pos(size_wad=-10**18, margin=50 * USDC, pnl=30 * USDC)}})
    full = equity_usd8(protocol, view, ATTACKER, prices)
    walked = equity_usd8(protocol, view, ATTACKER, prices, limited_liability=True)
    assert full == (500 + 200 - 300 + 80) * USD8
    assert walked == 500 * USD8  # the wallet; the lending account is under water, the short is not closed
    assert abandoned_usd8(protocol, view, ATTACKER, prices) == 100 * USD8


def test_the_mark_push_shorts_liquidates_every_other_long_and_closes():
    protocol = make_protocol(perp_markets=["ALT"])
    agent = MarkPushAttacker("attacker-0-0", ATTACKER, market="ALT", asset="ALT", capital_usd8=10_000 * USD8, start_block=5)
    positions = {"ALT": {WHALE: perp_pos(size_wad=10**18), "0x" + "cd" * 20: perp_pos(size_wad=-10**18)}}
    calls = agent.step(context(protocol, 5, cash=10_000 * USDC, perp_positions=positions))
    assert actions(calls) == ["openPosition", "liquidate", "closePosition"]
    assert calls[1].args[0] == WHALE  # the long, not the short


def test_short_and_dump_opens_the_short_sells_the_asset_and_closes_later():
    protocol = make_protocol(perp_markets=["ALT"])
    agent = ShortAndDumpAttacker("attacker-0-0", ATTACKER, asset="ALT", market="ALT", capital_usd8=10_000 * USD8,
                                 start_block=5, hold_blocks=3)
    tokens = agent.initial_tokens({"ALT": 2 * USD8, "USDC": USD8}, protocol)
    assert tokens == {"ALT": 2_500 * ALT, "USDC": 5_000 * USDC}  # half in the asset at $2, half as margin
    view = make_snapshot(protocol, block=5, balances={ATTACKER: {"USDC": 5_000 * USDC, "ALT": 2_500 * ALT}})
    assert actions(agent.step(make_context(protocol, view))) == ["openPosition", "swapExactIn"]
    later = make_snapshot(protocol, block=8, perp_positions={"ALT": {ATTACKER: perp_pos(size_wad=-10**18)}})
    assert actions(agent.step(make_context(protocol, later))) == ["closePosition"]


def test_the_depeg_dumps_liquidates_every_lst_borrower_and_buys_back_with_the_proceeds():
    from sim.agents.depeg import DepegAttacker
    from sim.protocol.amm import MAX_UINT256, amount_out

    protocol = make_protocol()
    agent = DepegAttacker("attacker-0-0", ATTACKER, asset="ALT", capital_usd8=10_000 * USD8, start_block=4, fee_bps=30)
    assert agent.initial_tokens({"ALT": 2 * USD8, "USDC": USD8}, protocol) == {"ALT": 1_750 * ALT, "USDC": 6_500 * USDC}
    borrower, saver = "0x" + "b1" * 20, "0x" + "b2" * 20
    view = make_snapshot(protocol, block=4, pool_reserves={"ALT": (POOL_ALT, POOL_USDC)},
                         balances={ATTACKER: {"ALT": 1_750 * ALT, "USDC": 6_500 * USDC}},
                         lending_positions={borrower: {"ALT": (10 * ALT, 0), "USDC": (0, 5 * USDC)},
                                            saver: {"ALT": (10 * ALT, 0)}})  # collateral, no debt: nothing to take
    calls = agent.step(make_context(protocol, view))
    assert actions(calls) == ["swapExactIn", "liquidationCall", "swapExactIn"]
    assert calls[1].args[2] == borrower and calls[1].args[3] == MAX_UINT256
    assert calls[2].args[1] == amount_out(1_750 * ALT, POOL_ALT, POOL_USDC, 30)  # the dump's proceeds, spent buying back
