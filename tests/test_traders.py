"""Leveraged traders: one position with all their capital at entry, held; a population whose side,
market, leverage and entry block are drawn from the model's generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from agent_fixtures import USD8, USDC, WAD, actions, addr, make_context, make_protocol, make_snapshot, perp_pos

from sim.agents.registry import build_agents
from sim.agents.trader import MAX_OPEN_ATTEMPTS, LeveragedTrader
from sim.scenario import load_scenario

TRADER = addr(0xC001)
OCT10 = Path(__file__).resolve().parent.parent / "scenarios" / "oct10.yaml"


@pytest.fixture(scope="module")
def protocol():
    return make_protocol(("ALT", "BTC"))


def trader(**kw) -> LeveragedTrader:
    params = dict(capital_usd8=10_000 * USD8, market="ALT", is_long=True, leverage=5.0, entry_block=3)
    params.update(kw)
    return LeveragedTrader("trader", TRADER, **params)


def ctx_at(protocol, block: int, balance: int = 10_000 * USDC, position=None):
    positions = {"ALT": {TRADER: position}} if position is not None else {}
    return make_context(protocol, make_snapshot(protocol, block=block, balances={TRADER: {"USDC": balance}},
                                                perp_positions=positions))


def test_it_approves_only_the_perp_exchange_for_its_margin(protocol):
    (call,) = trader().setup(ctx_at(protocol, 0))
    assert call.action == "approve" and call.args == (protocol.perp, 2**256 - 1)


def test_it_waits_for_its_entry_block_then_posts_all_its_capital_at_its_leverage(protocol):
    agent = trader(is_long=False, leverage=7.5)
    assert agent.step(ctx_at(protocol, 2)) == []
    (call,) = agent.step(ctx_at(protocol, 3))
    market_id, is_long, margin, leverage_wad, _ = call.args
    assert call.action == "openPosition" and (market_id, is_long, margin) == (0, False, 10_000 * USDC)
    assert leverage_wad == 75 * WAD // 10
    agent.observe([])  # it went through
    assert agent.step(ctx_at(protocol, 4, balance=0, position=perp_pos(-37_500 * WAD, margin=10_000 * USDC))) == []
    assert agent.step(ctx_at(protocol, 5, balance=0)) == []  # liquidated later: it does not come back


def test_a_reverted_open_is_tried_again_a_few_times_only(protocol):
    agent = trader()
    sent = 0
    for block in range(3, 3 + MAX_OPEN_ATTEMPTS + 3):
        calls = agent.step(ctx_at(protocol, block))
        sent += len(calls)
        agent.observe(calls)  # every open reverts
    assert sent == MAX_OPEN_ATTEMPTS and agent.failures == MAX_OPEN_ATTEMPTS


def test_nothing_to_post_means_no_call(protocol):
    assert trader().step(ctx_at(protocol, 3, balance=0)) == []


def test_the_population_draws_side_market_leverage_and_entry_from_its_ranges():
    scenario = load_scenario(OCT10)
    agents = [a for a in build_agents(scenario, np.random.default_rng(scenario.seed), addr(1), addr(2))
              if isinstance(a, LeveragedTrader)]
    for group, pop in enumerate(scenario.agents.traders):
        members = [a for a in agents if a.agent_id.startswith(f"trader-{group}-")]
        assert len(members) == pop.count
        low, high = pop.leverage.uniform
        assert all(low <= a.leverage <= high for a in members)
        first, last = pop.entry_start_block, pop.entry_start_block + pop.entry_window_blocks - 1
        assert all(first <= a.entry_block <= last for a in members)
        assert {a.market for a in members} <= set(pop.perp_markets)
        longs = sum(a.is_long for a in members) / len(members)
        # a binomial share: within four standard errors of the scenario's long_share
        assert abs(longs - pop.long_share) <= 4 * (pop.long_share * (1 - pop.long_share) / len(members)) ** 0.5 + 1e-9
    retail = [a for a in agents if a.agent_id.startswith("trader-0-")]
    weights = scenario.agents.traders[0].perp_markets
    for market, weight in weights.items():
        share = sum(a.market == market for a in retail) / len(retail)
        p = weight / sum(weights.values())
        assert abs(share - p) <= 4 * (p * (1 - p) / len(retail)) ** 0.5


def test_an_open_the_model_did_not_report_reverted_is_not_sent_again_from_a_stale_view(protocol):
    """The model calls observe only with reverted calls: an open it did not report went through,
    even when the trader's view (latency_blocks) does not show the position yet."""
    agent = trader()
    assert len(agent.step(ctx_at(protocol, 3))) == 1
    # no observe: it went through; a view two blocks old still shows all the capital and no position
    assert agent.step(ctx_at(protocol, 4)) == []
    assert agent.step(ctx_at(protocol, 5)) == []
    assert agent.failures == 0


def test_an_open_reported_reverted_is_tried_again(protocol):
    agent = trader()
    (call,) = agent.step(ctx_at(protocol, 3))
    agent.observe([call])
    assert len(agent.step(ctx_at(protocol, 4))) == 1
