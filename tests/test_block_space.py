"""Block space: the packing rule on its own (exact expectations), then in a run on both backends —
a block with more demand than ``block_gas_limit`` mines only what fits, the rest waits in the
mempool for the next blocks (and its agents with it), the run records the waits, and both backends
carry the same transactions in the same order — and the per-transaction cap, which stops a run
naming the action and both numbers."""

import copy

import pandas as pd
import pytest

from sim.agents.liquidator import MAX_ADL_COUNTERPARTIES
from sim.chain import Call
from sim.chain.txpool import RisingBidError
from sim.model import RunFailed, run_cascade
from sim.protocol import GasCapExceeded, ProtocolSession, gas_limit, pack, perp_liquidation_gas
from sim.protocol.gas import ADL_COUNTERPARTY_GAS, FALLBACK_GAS, GAS_LIMITS, PERP_LIQUIDATION_BASE_GAS
from sim.record.metrics import block_space_figures
from sim.scenario import parse_scenario

A, B, C = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40


def order(sender: str, gas: int, price: int, label: str):
    return (sender, Call(to=C, data="0x", action=label, gas=gas, contract="Test"), price)


def labels(orders) -> list[str]:
    return [call.action for _, call, _ in orders]


# -------------------------------------------------------------------- the rule, pure


def test_the_highest_bids_are_taken_first_and_the_arrival_order_is_kept():
    orders = [order(A, 40, 1, "a-low"), order(B, 50, 3, "b-high"), order(C, 30, 2, "c-mid")]
    packed = pack(orders, block_gas_limit=80, tx_gas_cap=80)
    # by bid: b (50), then c (30) makes 80 = the limit; a (40) no longer fits
    assert labels(packed.included) == ["b-high", "c-mid"]  # in the order given, which the node re-sorts by bid
    assert labels(packed.left_out) == ["a-low"]
    assert packed.gas == 80


def test_equal_bids_go_by_arrival():
    orders = [order(A, 60, 5, "first"), order(B, 60, 5, "second")]
    assert labels(pack(orders, 100, 100).included) == ["first"]


def test_a_block_filled_exactly_to_its_limit_takes_the_last_order_and_one_gas_more_does_not():
    orders = [order(A, 21_000, 2, "x"), order(B, 9_000, 1, "y")]
    assert labels(pack(orders, 30_000, 30_000).included) == ["x", "y"]
    assert labels(pack(orders, 29_999, 29_999).included) == ["x"]
    assert labels(pack(orders, 29_999, 29_999).left_out) == ["y"]


def test_an_order_that_does_not_fit_is_skipped_and_a_smaller_one_after_it_still_fits():
    orders = [order(A, 70, 3, "big"), order(B, 50, 2, "too-big-now"), order(C, 30, 1, "small")]
    packed = pack(orders, 100, 100)
    assert labels(packed.included) == ["big", "small"]
    assert labels(packed.left_out) == ["too-big-now"]
    assert packed.gas == 100


def test_once_a_senders_order_is_left_out_its_later_orders_are_too():
    # A's second order would fit (10) but follows A's left-out first one in nonce order
    orders = [order(B, 60, 9, "b"), order(A, 50, 5, "a1"), order(A, 10, 5, "a2"), order(C, 30, 1, "c")]
    packed = pack(orders, 100, 100)
    assert labels(packed.included) == ["b", "c"]
    assert labels(packed.left_out) == ["a1", "a2"]
    assert packed.gas == 90


def test_a_senders_later_order_waits_for_its_earlier_one_though_another_bid_between():
    # nonce order: A's second order (same bid) cannot go before A's first; B's order, bidding more,
    # goes first; then A's first, then A's second
    orders = [order(A, 40, 1, "a1"), order(A, 40, 1, "a2"), order(B, 40, 5, "b")]
    packed = pack(orders, 80, 80)
    # the node's order: b (5 beats a1's 1), then a1, then a2; 80 gas holds b and a1
    assert labels(packed.included) == ["a1", "b"]
    assert labels(packed.left_out) == ["a2"]


def test_a_sender_whose_later_order_bids_more_is_refused_naming_it():
    # anvil drops such a transaction from the block (neither mined nor pending): never sent
    orders = [order(A, 40, 1, "a1"), order(A, 40, 9, "a2"), order(B, 40, 5, "b")]
    with pytest.raises(RisingBidError, match=rf"{A}'s a2 bids 9 wei, more than its earlier transaction of the block \(1\)"):
        pack(orders, 80, 80)
    assert labels(pack(orders[:1] + [order(A, 40, 1, "a2")], 80, 80).included) == ["a1", "a2"]  # an equal bid is fine


def test_a_call_above_the_cap_names_the_action_and_both_numbers():
    orders = [order(A, 100, 1, "fine"), (B, Call(to=C, data="0x", action="liquidate", gas=20_000_000, contract="PerpExchange"), 1)]
    with pytest.raises(GasCapExceeded, match=r"PerpExchange\.liquidate .*20,000,000.*tx_gas_cap = 16,777,216"):
        pack(orders, 30_000_000, 16_777_216)
    assert labels(pack(orders, 30_000_000, 20_000_000).included) == ["fine", "liquidate"]  # at the cap is allowed


def test_every_action_limit_fits_the_default_cap_and_the_perp_liquidation_grows_per_counterparty():
    assert all(0 < limit <= 2**24 for limit in GAS_LIMITS.values())
    assert gas_limit("LendingPool", "liquidationCall") == GAS_LIMITS[("LendingPool", "liquidationCall")]
    assert gas_limit("LendingPool", "noSuchAction") == FALLBACK_GAS
    assert perp_liquidation_gas(0) == PERP_LIQUIDATION_BASE_GAS
    assert perp_liquidation_gas(3) == PERP_LIQUIDATION_BASE_GAS + 3 * ADL_COUNTERPARTY_GAS
    # the longest list a liquidator offers still fits one transaction under the cap
    assert perp_liquidation_gas(MAX_ADL_COUNTERPARTIES) <= 2**24
    with pytest.raises(ValueError, match="n_counterparties"):
        perp_liquidation_gas(-1)


# -------------------------------------------------------------------- on the node

BLOCK_GAS = 5_000_000

# Forty noise traders who trade every block (a swap and a perp open or close each: about 20M gas of
# limits a block) and no liquidator: the blocks are full from the first one on.
CROWDED = {
    "name": "crowded",
    "seed": 11,
    "blocks": 4,
    "block_time_s": 12,
    "block_gas_limit": BLOCK_GAS,
    "tx_gas_cap": BLOCK_GAS,
    "stablecoin": "USDC",
    "assets": {
        "USDC": {"decimals": 6, "price_usd": 1.0, "stable": True},
        "ALT": {"decimals": 18, "price_usd": 2.0, "volatility_daily": 0.05},
    },
    "pools": [{"asset": "ALT", "depth_usd": 2_000_000, "twap_window_s": 24, "twap_capacity": 8}],
    "lending": {"reserves": [{"asset": "USDC", "ltv_bps": 0, "liquidation_threshold_bps": 0, "liquidation_bonus_bps": 10000,
                              "passive_supply_usd": 1_000_000}]},
    "perp": {"insurance_fund_usd": 100_000,
             "markets": [{"asset": "ALT", "depth_usd": 5_000_000, "initial_margin_bps": 1000, "maintenance_margin_bps": 500}]},
    "agents": {"noise": [{"count": 40, "capital_usd": 20_000, "trade_probability": 1.0, "trade_fraction": 0.05,
                          "perp_leverage": 2.0}]},
}


@pytest.fixture(scope="module")
def crowded_runs(tmp_path_factory):
    """The crowded run on each backend, with every simulated block's new orders and outcome (and,
    on the node, the block's gas limit as the node reports it)."""
    runs = {}
    original = ProtocolSession.execute
    for backend in ("revm", "anvil"):
        blocks = []

        def watched(self, orders, timestamp_s):
            mined = original(self, orders, timestamp_s)
            if self.block_space is not None:
                header = self.backend.request("eth_getBlockByNumber", [hex(mined.number), False]) if backend == "anvil" else None
                blocks.append((list(orders), mined, int(header["gasLimit"], 16) if header else None))
            return mined

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ProtocolSession, "execute", watched)
            result = run_cascade(parse_scenario(CROWDED, "crowded"), tmp_path_factory.mktemp(backend), progress=False,
                                 backend=backend)
        runs[backend] = (result, blocks)
    return runs


def test_a_full_block_mines_only_what_fits_and_the_rest_waits_in_the_mempool(crowded_runs):
    _, blocks = crowded_runs["revm"]
    assert len(blocks) == CROWDED["blocks"]
    waiting: list = []
    for orders, mined, _ in blocks:
        offered = waiting + orders  # what waited first, then the block's new orders
        sent_gas = sum(tx.call.gas for tx in mined.sent)
        assert sent_gas <= BLOCK_GAS
        assert len(mined.receipts) == len(mined.sent)  # the block holds every transaction sent, no more
        taken = {(tx.sender, id(tx.call)) for tx in mined.sent}
        assert [(s, id(c)) for s, c, _ in offered if (s, id(c)) in taken] == [(tx.sender, id(tx.call)) for tx in mined.sent]
        assert [o for o in offered if (o[0], id(o[1])) not in taken] == mined.left_out  # kept with their bids
        first_left_out: set[str] = set()
        for sender, call, _ in mined.left_out:
            # waiting because it did not fit what the block had left, or behind its sender's waiting order
            assert call.gas > BLOCK_GAS - sent_gas or sender in first_left_out
            first_left_out.add(sender)
        waiting = mined.left_out
    assert sum(len(mined.left_out) for _, mined, _ in blocks) > 0
    assert any(w > 0 for _, mined, _ in blocks for w in mined.waited_blocks)  # something waited and was taken later
    assert all(mined.sent for _, mined, _ in blocks)


def test_an_agent_whose_transaction_waits_sends_nothing_new(crowded_runs):
    _, blocks = crowded_runs["revm"]
    for (_, before, _), (orders, _, _) in zip(blocks, blocks[1:]):
        assert not {sender for sender, _, _ in before.left_out} & {sender for sender, _, _ in orders}


def test_the_waits_are_recorded_per_block_and_in_the_summary(crowded_runs):
    result, blocks = crowded_runs["revm"]
    per_block = result.timeseries.groupby("block")["mempool_txs"].agg(["min", "max"])
    assert (per_block["min"] == per_block["max"]).all()  # one number per block, on every asset's row
    expected = {0: 0} | {mined.number - blocks[0][1].number + 1: len(mined.left_out) for _, mined, _ in blocks}
    assert per_block["max"].to_dict() == expected
    waits = [w for _, mined, _ in blocks for w in mined.waited_blocks]
    assert result.summary["block_space"] == {
        "blocks_at_gas_limit": sum(1 for _, mined, _ in blocks if mined.left_out),
        "txs_delayed": sum(1 for w in waits if w > 0),
        "max_inclusion_delay_blocks": max(waits),
        "liquidation_inclusion_delay_blocks_median": None,  # no liquidator in the crowd
        "mempool_txs_at_end": len(blocks[-1][1].left_out),
    }
    assert result.summary["tx_count"] >= sum(len(mined.sent) for _, mined, _ in blocks)


def test_both_backends_fill_and_carry_the_blocks_alike(crowded_runs):
    (on_revm, revm_blocks), (on_anvil, anvil_blocks) = crowded_runs["revm"], crowded_runs["anvil"]
    assert all(node_gas_limit == BLOCK_GAS for _, _, node_gas_limit in anvil_blocks)

    def in_block_order(blocks):
        return [[(tx.sender, tx.call.action, tx.nonce, tx.tx_hash, w, r["transactionHash"], r["status"])
                 for tx, w, r in zip(mined.sent, mined.waited_blocks, mined.receipts)] for _, mined, _ in blocks]

    assert in_block_order(revm_blocks) == in_block_order(anvil_blocks)
    assert on_revm.timeseries.equals(on_anvil.timeseries) and on_revm.agents.equals(on_anvil.agents)


def test_the_median_liquidation_delay_counts_each_transaction_once():
    events = pd.DataFrame({
        "kind": ["lending_liquidation", "perp_liquidation", "adl_fill", "perp_liquidation", "perp_liquidation"],
        "tx_hash": ["0x1", "0x2", "0x2", "0x3", "0x3"],  # 0x3 liquidated two positions in one transaction
        "inclusion_delay_blocks": [0, 4, 4, 1, 1],
    })
    figures = block_space_figures(events, blocks_at_gas_limit=2, txs_delayed=3, max_delay_blocks=4, mempool_txs=1)
    assert figures.liquidation_inclusion_delay_blocks_median == 1.0  # the median of 0, 4 and 1
    assert block_space_figures(events.iloc[2:3], 0, 0, 0, 0).liquidation_inclusion_delay_blocks_median is None


def test_a_call_above_tx_gas_cap_stops_the_run_naming_it(tmp_path):
    capped = copy.deepcopy(CROWDED)
    open_gas = gas_limit("PerpExchange", "openPosition")
    capped["tx_gas_cap"] = open_gas - 1  # every other call the noise traders and the keeper send is below it
    with pytest.raises(RunFailed, match=rf"failed in block 1: GasCapExceeded: PerpExchange\.openPosition .*{open_gas:,}.*"
                                        rf"tx_gas_cap = {open_gas - 1:,}"):
        run_cascade(parse_scenario(capped, "capped"), tmp_path, progress=False)
    assert pd.read_parquet(tmp_path / "timeseries.parquet")["block"].max() == 0
