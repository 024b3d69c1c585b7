"""The cascade model: one scenario, one seeded generator, agents stepping block by block.

``run_cascade(scenario, out_dir)`` is the Python API behind ``ape run cascade``. It deploys the
scenario's contracts on the connected anvil node (or starts one), runs every block — agents
decide in a seeded order, their transactions go to the node in one JSON-RPC batch with automine
off, the block is mined at a fixed timestamp, state is read back through the lenses — and
writes ``timeseries.parquet``, ``events.parquet``, ``agents.parquet``, ``summary.json`` and
``report.html`` into ``out_dir``. The node is reverted to its state before the run afterwards,
so runs are independent and the same scenario and seed give identical results.
"""

from __future__ import annotations

import io
import json
import math
import sys
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from sim.agents import Agent, Context, Keeper, MarketMaker, PassiveLender, PassiveLiquidityProvider, build_agents, fixed_address
from sim.chain import Call, Chain, MinedBlock
from sim.files import write_atomic
from sim.metrics import depth_figures, fund_figures, liquidation_figures, market_maker_delta_figures, pnl_by_type, price_figures
from sim.node import lean_anvil
from sim.prices import price_path
from sim.protocol import Artifact, Protocol, load_artifacts
from sim.recorder import Recorder
from sim.scenario import Scenario, load_scenario
from sim.state import Snapshot, StateReader
from sim.world import SetupError, check_block, configuration_calls, deploy_protocol, funding_calls, insurance_units, venue_grants

DEFAULT_NETWORK = "ethereum:local:foundry"
SETUP_GAS_PRICE_WEI = 10**9
SETUP_BLOCK_TX = 3_000  # set-up transactions per block (see CascadeModel._setup_blocks)


def interleave(calls_by_sender: list[tuple[str, list[Call]]]) -> list[tuple[str, Call, int]]:
    """Round-robin over senders with the lists aligned at their ends (every sender's last call
    in the last round). Every call bids a wei less than the one before it, so the node executes
    them in exactly this order (it orders a block by gas price; one sender's calls stay in nonce
    order, and a later round never outbids an earlier one).

    Set-up lists end with the sliced position opens, so longs and shorts alternate."""
    longest = max((len(calls) for _, calls in calls_by_sender), default=0)
    senders = len(calls_by_sender)
    orders = []
    for round_ in range(longest):
        for rank, (sender, calls) in enumerate(calls_by_sender):
            index = len(calls) - longest + round_
            if index >= 0:  # a unique, falling bid per (round, sender): the node's order is this order
                orders.append((sender, calls[index], SETUP_GAS_PRICE_WEI + (longest - round_) * senders - rank))
    return orders


def log_filter(protocol: Protocol) -> dict[str, Any]:
    """The logs a run reads: token and LP-share transfers and approvals (they tell the state reader
    whose balances changed), every lending and perp event (the recorder's loss events among them)
    and the oracles' updates. Nearly every successful transaction leaves one of these, which is
    how the chain client tells success without a trace (``Chain.mine``)."""
    token = protocol.codecs["SimToken"]
    emitters = ["LendingPool", "PerpExchange", "MockAggregator", "PoolTwapAggregator"]
    topics = {token.event_topic("Transfer"), token.event_topic("Approval")}
    topics.update(topic for name in emitters for topic in protocol.codecs[name].events)
    return {
        "address": [t.address for t in protocol.tokens.values()]
        + [pool.address for pool in protocol.pools.values()]
        + [pool.twap_oracle for pool in protocol.pools.values()]
        + list(protocol.feeds.values())
        + [protocol.lending, protocol.perp],
        "topics": [sorted(topics)],
    }


class RunFailed(RuntimeError):
    """The run stopped part-way; what was recorded so far is in ``out_dir``."""


@dataclass
class RunResult:
    out_dir: Path
    summary: dict[str, Any]
    timeseries: pd.DataFrame
    events: pd.DataFrame
    agents: pd.DataFrame


class CascadeModel:
    """Owns the scenario's generator, the agents, the chain connection and the recorder."""

    def __init__(self, scenario: Scenario, chain: Chain, artifacts: dict[str, Artifact]):
        self.scenario = scenario
        self.chain = chain
        self.artifacts = artifacts
        self.rng = np.random.default_rng(scenario.seed)
        self.prices = price_path(scenario, self.rng)
        self.deployer = fixed_address("deployer")
        self.venue = fixed_address("offchain_venue")
        self.agents: list[Agent] = build_agents(scenario, self.rng, self.deployer, self.venue)
        self.keeper = next(a for a in self.agents if isinstance(a, Keeper))
        self.market_makers = [a for a in self.agents if isinstance(a, MarketMaker)]
        self._by_address = {a.address: a for a in self.agents}
        depth = max([a.latency_blocks for a in self.agents] + [0]) + max(
            [m.volatility_window for m in self.market_makers] + [2]
        )
        self.history: deque[Snapshot] = deque(maxlen=depth + 1)
        self._clock_s = scenario.start_timestamp_s
        self.protocol: Protocol | None = None
        self.recorder: Recorder | None = None
        self.reader: StateReader | None = None
        self.block = 0  # completed blocks
        self.ready = False  # set-up done

    # ---------------------------------------------------------------- helpers

    def _tick(self) -> int:
        now = self._clock_s
        self._clock_s += self.scenario.block_time_s
        return now

    def _external(self, block: int) -> dict[str, int]:
        return dict(zip(self.prices.symbols, self.prices.usd8[block]))

    def _context(self, block: int, timestamp_s: int, latency: int) -> Context:
        history = list(self.history)
        visible = history[: len(history) - min(latency, len(history) - 1)]
        return Context(block, timestamp_s, self.protocol, visible[-1], visible, self._external(block), self.rng)

    def _setup_block(self, stage: str, calls_by_sender: list[tuple[str, list[Call]]]) -> None:
        orders = [(sender, call, SETUP_GAS_PRICE_WEI) for sender, calls in calls_by_sender for call in calls]
        for mined in self._setup_blocks(orders):
            check_block(self.chain, mined, stage, self.protocol.codecs.values())

    def _setup_blocks(self, orders: list[tuple[str, Call, int]]) -> Iterator[MinedBlock]:
        """Mine set-up ``orders`` in this order, in as many blocks of at most ``SETUP_BLOCK_TX`` as
        they need (one block up to that size).

        anvil's pending pool grows costly to add to when a block's transactions arrive in several
        request bodies (19,000 transfers: 0.3 s in one body, 33 s in four), so a block is kept
        small enough for one body. Consecutive blocks keep the order: gas price within a block,
        nonce order for each sender."""
        for start in range(0, max(len(orders), 1), SETUP_BLOCK_TX):
            yield self.chain.execute(orders[start : start + SETUP_BLOCK_TX], self._tick())

    def _read(self, block: int) -> Snapshot:
        _, timestamp = self.chain.head()
        return self.reader.read(block, timestamp)

    # ---------------------------------------------------------------- set-up

    def setup(self) -> None:
        s = self.scenario
        _, head_s = self.chain.head()
        if head_s >= s.start_timestamp_s:
            raise SetupError(
                f"start_timestamp_s ({s.start_timestamp_s}) must be later than the node's latest block ({head_s})"
            )
        self.chain.take_control()
        self.chain.fund_gas([self.deployer, self.venue] + [a.address for a in self.agents])
        self.protocol = deploy_protocol(self.chain, self.artifacts, s, self.prices, self.deployer, self._tick())
        p = self.protocol
        self.chain.log_filter = log_filter(p)
        self._setup_block("configuring lending and perps", [(self.deployer, configuration_calls(s, self.prices, p))])
        external = self._external(0)
        grants = [(a.address, a.initial_tokens(external, p)) for a in self.agents]
        grants.append((self.venue, venue_grants(p, self.prices)))
        arbs = [a.address for a in self.agents if a.kind == "arbitrageur"]
        venue_approvals = [p.approve(symbol, arb) for arb in arbs for symbol in p.tokens]
        self._setup_block(
            "minting starting balances",
            [(self.deployer, funding_calls(p, grants, insurance_units(s, p))), (self.venue, venue_approvals)],
        )
        self.reader = StateReader(self.chain, p, [a.address for a in self.agents] + [self.venue])
        self.recorder = Recorder(p, self.prices, self.agents)
        passive = [a for a in self.agents if isinstance(a, (PassiveLiquidityProvider, PassiveLender))]
        self._agent_setup("passive liquidity", passive)
        for _ in range(self._warmup_blocks()):
            self._setup_block("TWAP warm-up", [(self.deployer, [p.twap_update(symbol) for symbol in p.pools])])
        self._agent_setup("agents opening positions", [a for a in self.agents if a not in passive and a is not self.keeper])
        snapshot = self._read(0)
        self.keeper.start(dict(snapshot.feeds), dict(snapshot.feed_updated_s), snapshot.timestamp_s)
        self.history.append(snapshot)
        self.recorder.record_state(0, snapshot)
        self.recorder.record_equity(snapshot, 0, start=True)
        self.ready = True

    def _agent_setup(self, stage: str, agents: list[Agent]) -> None:
        snapshot = self._read(0)
        ctx = Context(0, snapshot.timestamp_s, self.protocol, snapshot, [snapshot], self._external(0), self.rng)
        for mined in self._setup_blocks(interleave([(a.address, a.setup(ctx)) for a in agents])):
            failed = mined.failed()
            if failed:
                agent = self._by_address[failed[0][0].sender]
                check_block(
                    self.chain, mined, stage, self.protocol.codecs.values(),
                    who=f"{agent.agent_id} ({agent.kind}; check its capital, health factor and leverage against the market's parameters)",
                )

    def _warmup_blocks(self) -> int:
        windows = [pool.twap_window_s for pool in self.scenario.pools]
        return math.ceil(max(windows) / self.scenario.block_time_s) + 1 if windows else 0

    # ---------------------------------------------------------------- one block

    def step(self) -> MinedBlock:
        """Run the next block; ``self.block`` counts completed blocks."""
        block = self.block + 1
        timestamp_s = self._tick()
        order = self.rng.permutation(len(self.agents))
        contexts: dict[int, Context] = {}
        orders = []
        for rank, index in enumerate(order):
            agent = self.agents[index]
            if agent.latency_blocks not in contexts:
                contexts[agent.latency_blocks] = self._context(block, timestamp_s, agent.latency_blocks)
            calls = agent.step(contexts[agent.latency_blocks])
            gas_price = agent.gas_price_wei + (len(order) - rank)  # ties broken by the seeded order
            orders.extend((agent.address, call, gas_price) for call in calls)
        mined = self.chain.execute(orders, timestamp_s)
        failed_by_sender: dict[str, list[Call]] = {}
        for tx, _ in mined.failed():
            failed_by_sender.setdefault(tx.sender, []).append(tx.call)
        for sender, calls in failed_by_sender.items():
            self._by_address[sender].observe(calls)
        snapshot = self.reader.read(block, mined.timestamp_s, self.history[-1], mined.touched())
        self.recorder.record_block(block, mined, self.history[-1])
        self.recorder.record_state(block, snapshot)
        self.history.append(snapshot)
        self.block = block
        return mined

    def finish(self) -> None:
        snapshot = self.history[-1]
        self.recorder.record_equity(snapshot, self.block, start=False)

    # ---------------------------------------------------------------- checks

    def token_conservation(self) -> dict[str, dict[str, Any]]:
        """For every token: the balances of every account and contract that can hold it add up to
        its total supply (nothing created or destroyed outside mint)."""
        p = self.protocol
        holders = [a.address for a in self.agents] + [self.venue, self.deployer] + list(p.contract_holders().values())
        holders = list(dict.fromkeys(holders))
        tokens = list(p.tokens.values())
        lens = p.codecs["StateLens"]
        token_codec = p.codecs["SimToken"]
        calls = [(p.state_lens, lens.encode_call("balancesOf", [t.address for t in tokens], holders))]
        calls += [(t.address, token_codec.encode_call("totalSupply")) for t in tokens]
        raw = self.chain.call_many(calls)
        flat = lens.decode_output("balancesOf", raw[0])[0]
        result = {}
        for j, token in enumerate(tokens):
            held = sum(flat[i * len(tokens) + j] for i in range(len(holders)))
            supply = token_codec.decode_output("totalSupply", raw[1 + j])[0]
            result[token.symbol] = {"total_supply": str(supply), "held": str(held), "ok": held == supply}
        return result


# -------------------------------------------------------------------- outputs


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def build_summary(model: CascadeModel, timeseries: pd.DataFrame, events: pd.DataFrame, agents: pd.DataFrame, wall_s: float) -> dict[str, Any]:
    s = model.scenario
    crash = s.shock.crash
    summary: dict[str, Any] = {
        "scenario": s.name,
        "seed": s.seed,
        "blocks": model.block,
        "block_time_s": s.block_time_s,
        "tx_count": model.chain.tx_count,
        "failed_tx_count": model.recorder.failed_tx if model.recorder else 0,
        "wall_s": round(wall_s, 3),
        "shock": {
            "start_block": crash.start_block if crash else None,
            "end_block": crash.start_block + crash.duration_blocks if crash else None,
        },
    }
    if not events.empty or "kind" in events:
        summary.update(liquidation_figures(events))
    if not timeseries.empty:
        summary.update(fund_figures(timeseries))
        summary.update(price_figures(timeseries, s.volatile_assets))
        summary["amm_depth_usd"] = depth_figures(timeseries, [p.asset for p in s.pools])
    if not agents.empty:
        mm_hedge_failures = sum(mm.hedge_failures for mm in model.market_makers)
        before_shock = max(crash.start_block - 1, 0) if crash else model.block
        summary["market_makers"] = {
            "pnl_usd": pnl_by_type(agents, "market_maker"),
            **(market_maker_delta_figures(timeseries, before_shock, summary.get("adl", {}).get("first_block"))
               if not timeseries.empty else {}),
            "hedge_failures": mm_hedge_failures,
            "withdrew_liquidity": sum(1 for mm in model.market_makers if mm.withdrew_at_block is not None),
        }
        summary["whales"] = {"pnl_usd": pnl_by_type(agents, "whale")}
        summary["liquidators"] = {"pnl_usd": pnl_by_type(agents, "liquidator")}
        summary["arbitrageurs"] = {"pnl_usd": pnl_by_type(agents, "arbitrageur")}
    return summary


def write_outputs(out_dir: Path, model: CascadeModel, wall_s: float, extra: dict[str, Any]) -> RunResult:
    """Write the tables, the summary and the report; each file replaced atomically."""
    from sim.report import PLOT_FILES, REPORT_FILE, write_report  # matplotlib is only needed here

    out_dir.mkdir(parents=True, exist_ok=True)
    recorder = model.recorder
    timeseries = recorder.timeseries(model.scenario.block_time_s) if recorder else pd.DataFrame()
    events = recorder.events_frame() if recorder else pd.DataFrame()
    agents = recorder.agents_frame() if recorder else pd.DataFrame()
    summary = build_summary(model, timeseries, events, agents, wall_s)
    summary.update(extra)
    for name, frame in (("timeseries", timeseries), ("events", events), ("agents", agents)):
        write_atomic(out_dir / f"{name}.parquet", _parquet_bytes(frame))
    write_atomic(out_dir / "summary.json", (json.dumps(summary, indent=2) + "\n").encode())
    if not timeseries.empty:
        write_report(out_dir, timeseries, events, agents, summary)
    else:  # nothing to plot: leave no report of an earlier run beside this summary
        for name in (REPORT_FILE, *PLOT_FILES):
            (out_dir / name).unlink(missing_ok=True)
    return RunResult(out_dir, summary, timeseries, events, agents)


# -------------------------------------------------------------------- entry point


@contextmanager
def connected(network: str) -> Iterator[Any]:
    """The connected Ape provider, connecting to ``network`` if nothing is connected yet."""
    from ape import networks

    if networks.active_provider is not None and networks.active_provider.is_connected:
        yield networks.active_provider
        return
    lean_anvil()
    with networks.parse_network_choice(network) as provider:
        yield provider


def node_uri(provider: Any) -> str:
    uri = getattr(provider, "http_uri", None) or getattr(provider, "uri", None)
    if not uri:
        raise RuntimeError(f"the provider {provider.name!r} has no HTTP endpoint; the simulator needs an anvil node")
    return uri


def run_cascade(
    scenario: Scenario | str | Path,
    out_dir: str | Path,
    network: str = DEFAULT_NETWORK,
    progress: bool = True,
    artifacts: dict[str, Artifact] | None = None,
) -> RunResult:
    """Run a scenario (a :class:`Scenario` or a YAML path) and write its outputs into ``out_dir``.

    Raises :class:`~sim.scenario.ScenarioError` before anything runs or is written when the file
    is invalid, and :class:`RunFailed` (with partial outputs on disk) when the run breaks."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    out_dir = Path(out_dir)
    with connected(network) as provider:
        chain = Chain(node_uri(provider))
        model = CascadeModel(scenario, chain, artifacts or load_artifacts())
        node_state = chain.snapshot_settings()
        started = time.perf_counter()
        try:
            run_blocks(model, progress)
            extra = {"status": "completed", "token_conservation": model.token_conservation()}
        except (Exception, KeyboardInterrupt) as error:
            failure = f"{type(error).__name__}: {error}"
            extra = {"status": "failed", "error": failure}
            where = "; nothing was written"
            if model.recorder is not None:
                write_outputs(out_dir, model, time.perf_counter() - started, extra)
                where = (
                    f"; what was recorded up to block {model.block} is in {out_dir}"
                    if model.ready
                    else f"; the error is also in {out_dir / 'summary.json'}"
                )
            _restore_quietly(chain, node_state)
            stage = f"in block {model.block + 1}" if model.ready else "during set-up"
            raise RunFailed(f"run of {scenario.name!r} failed {stage}: {failure}{where}") from error
        chain.restore_settings(node_state)
        return write_outputs(out_dir, model, time.perf_counter() - started, extra)


def _restore_quietly(chain: Chain, node_state: dict[str, Any]) -> None:
    """Put the node back after a failure without hiding the failure (the node may be gone)."""
    try:
        chain.restore_settings(node_state)
    except Exception as error:  # noqa: BLE001 - reported, never raised over the run's own error
        print(f"warning: could not restore the node after the failed run: {error}", file=sys.stderr)


def run_blocks(
    model: CascadeModel,
    progress: bool,
    after_setup: Callable[[], None] | None = None,
    after_block: Callable[[MinedBlock], None] | None = None,
) -> None:
    """Set the model up and run every block with a progress bar; ``after_setup`` and
    ``after_block`` (called with each mined block) let a caller watch without changing the run."""
    from tqdm import tqdm

    model.setup()
    if after_setup is not None:
        after_setup()
    bar = tqdm(total=model.scenario.blocks, desc=model.scenario.name, unit="block", disable=None if progress else True, file=sys.stderr)
    try:
        for _ in range(model.scenario.blocks):
            mined = model.step()
            if after_block is not None:
                after_block(mined)
            bar.update(1)
            if model.block % 10 == 0:
                bar.set_postfix(tx=model.chain.tx_count, events=len(model.recorder.events), refresh=False)
    finally:
        bar.close()
    model.finish()
