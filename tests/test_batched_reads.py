"""The per-block read is exact: a block's incremental snapshot equals a full read, the contracts'
batched views equal their one-account views, and a journaled run replayed into a fresh node ends
on the same state root.

The model runs on nodes this module starts (the test node's command line, its own ports), so the
replay's fresh node and the run's node start from the same genesis."""

import pytest

from sim.chain import AnvilBackend
from sim.chain.replay import JournalWriter, Node, replay
from sim.model import CascadeModel
from sim.protocol import ProtocolSession, load_artifacts
from sim.protocol.state import lp_symbol
from sim.scenario import parse_scenario

BLOCKS = 12
SCENARIO = {
    "name": "reads",
    "seed": 11,
    "blocks": BLOCKS,
    "stablecoin": "USDC",
    "assets": {
        "USDC": {"decimals": 6, "price_usd": 1.0, "stable": True},
        "ALT": {"decimals": 18, "price_usd": 2.0, "volatility_daily": 0.05, "beta_to_btc": 1.0},
    },
    "pools": [{"asset": "ALT", "depth_usd": 400_000, "fee_bps": 30, "twap_window_s": 60, "twap_capacity": 8,
               "market_maker_share": 0.5}],
    "lending": {
        "reserves": [
            {"asset": "USDC", "ltv_bps": 0, "liquidation_threshold_bps": 0, "liquidation_bonus_bps": 10000,
             "passive_supply_usd": 2_000_000},
            {"asset": "ALT", "oracle": "pool_spot", "ltv_bps": 6000, "liquidation_threshold_bps": 7000,
             "liquidation_bonus_bps": 11000},
        ]
    },
    "perp": {
        "insurance_fund_usd": 10_000,
        "markets": [{"asset": "ALT", "depth_usd": 5_000_000, "index_oracle": "pool_spot",
                     "initial_margin_bps": 1000, "maintenance_margin_bps": 500}],
    },
    "agents": {
        "whales": [{"count": 2, "collateral_asset": "ALT", "perp_market": "ALT", "capital_usd": 200_000,
                    "target_health_factor": 1.15, "leverage": 3, "spare_fraction": 0.05}],
        "market_makers": [{"count": 2, "asset": "ALT", "perp_market": "ALT", "capital_usd": 300_000,
                           "hedge_leverage": 2.0, "rehedge_interval_blocks": 3}],
        "liquidators": [{"count": 1, "capital_usd": 500_000, "max_slippage": 0.1}],
        "noise": [{"count": 6, "capital_usd": {"uniform": [10_000, 40_000]}, "trade_probability": 0.5,
                   "trade_fraction": 0.2, "perp_leverage": 3.0}],
    },
    "shock": {"random_walk": True, "crash": {"start_block": 4, "duration_blocks": 4, "size": {"ALT": 0.3}}},
}


@pytest.fixture(scope="module")
def node_command(networks):
    provider = networks.active_provider
    return provider.build_command()


@pytest.fixture(scope="module")
def journaled_run(node_command, tmp_path_factory):
    """The scenario run on a fresh node with every state-changing request journaled."""
    node = Node.start(node_command)
    try:
        chain = AnvilBackend(node.uri)
        journal = JournalWriter(tmp_path_factory.mktemp("journal") / "journal.bin")
        chain.journal = journal
        model = CascadeModel(parse_scenario(SCENARIO, "reads"), ProtocolSession(chain, load_artifacts()))
        model.setup()
        for _ in range(BLOCKS):
            model.step()
        chain.journal = None
        journal.close()
        head = chain.request("eth_getBlockByNumber", ["latest", False])
        yield model, journal, head
    finally:
        node.stop()


def test_the_run_has_open_positions_to_read(journaled_run):
    model, _, _ = journaled_run
    snapshot = model.history[-1]
    assert len(snapshot.perp_positions["ALT"]) >= 4  # whales, market makers, noise traders
    assert len(snapshot.health) >= 2
    assert any(lp_symbol("ALT") in row for row in snapshot.balances.values())


def test_a_blocks_incremental_read_equals_a_full_read(journaled_run):
    model, _, _ = journaled_run
    incremental = model.history[-1]
    full = model.reader.read(incremental.block, incremental.timestamp_s)
    for table in ("balances", "lending_positions", "health", "perp_positions"):
        assert getattr(incremental, table) == getattr(full, table), table
        assert list(getattr(incremental, table)) == list(getattr(full, table)), f"{table}: row order"
    for market in full.perp_positions:
        assert list(incremental.perp_positions[market]) == list(full.perp_positions[market])


def test_accounts_of_equals_the_one_account_views(journaled_run):
    model, _, _ = journaled_run
    p, chain = model.protocol, model.session.backend
    pool = p.codecs["LendingPool"]
    accounts = model.reader.accounts
    reserves = pool.decode_output("getReservesList", chain.call_many([(p.lending, pool.encode_call("getReservesList"))])[0])[0]
    collateral, debt, health = pool.decode_output(
        "accountsOf", chain.call_many([(p.lending, pool.encode_call("accountsOf", accounts))])[0]
    )
    singles = chain.call_many(
        [(p.lending, pool.encode_call("getUserReserve", a, r)) for a in accounts for r in reserves]
        + [(p.lending, pool.encode_call("healthFactorOf", a)) for a in accounts]
    )
    width = len(reserves)
    for i, account in enumerate(accounts):
        for j in range(width):
            assert (collateral[i * width + j], debt[i * width + j]) == pool.decode_output("getUserReserve", singles[i * width + j])
        assert health[i] == pool.decode_output("healthFactorOf", singles[len(accounts) * width + i])[0]
    assert any(d > 0 for d in debt)


def test_positions_of_equals_the_one_trader_views(journaled_run):
    model, _, _ = journaled_run
    p, chain = model.protocol, model.session.backend
    perp = p.codecs["PerpExchange"]
    accounts = model.reader.accounts
    market_id = p.markets["ALT"].market_id
    batch = perp.decode_output("positionsOf", chain.call_many([(p.perp, perp.encode_call("positionsOf", market_id, accounts))])[0])[0]
    sizes, margins, notionals, pnls, funding, liquidatable = batch[:6]
    scores = batch.adlScore
    held = [i for i, size in enumerate(sizes) if size != 0]
    assert len(held) >= 4 and any(scores)
    for i, account in enumerate(accounts):
        stored = perp.decode_output("getPosition", chain.call_many([(p.perp, perp.encode_call("getPosition", account, market_id))])[0])[0]
        assert (sizes[i], margins[i], notionals[i]) == (stored.sizeBase, stored.margin, stored.openNotional)
        if i not in held:
            assert (pnls[i], funding[i], liquidatable[i], scores[i]) == (0, 0, False, 0)
            continue
        raw = chain.call_many([
            (p.perp, perp.encode_call("unrealizedPnl", account, market_id)),
            (p.perp, perp.encode_call("pendingFunding", account, market_id)),
            (p.perp, perp.encode_call("isLiquidatable", account, market_id)),
            (p.perp, perp.encode_call("adlScore", account, market_id)),
        ])
        assert pnls[i] == perp.decode_output("unrealizedPnl", raw[0])[0]
        assert funding[i] == perp.decode_output("pendingFunding", raw[1])[0]
        assert liquidatable[i] == perp.decode_output("isLiquidatable", raw[2])[0]
        assert scores[i] == perp.decode_output("adlScore", raw[3])[0]


def test_the_journal_replayed_into_a_fresh_node_ends_on_the_runs_state_root(journaled_run, node_command):
    model, journal, head = journaled_run
    replayed = replay(journal.path, node_command)
    assert replayed.bodies == journal.entries
    assert replayed.block_number == int(head["number"], 16)
    assert replayed.state_root == head["stateRoot"]
    assert model.session.backend.tx_count > 100
