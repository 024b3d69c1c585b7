"""The cascade model: one scenario, one seeded generator, agents stepping block by block.

:class:`CascadeModel` owns the generator, the price path, the agents, the recorder and a
:class:`~sim.protocol.ProtocolSession`, its only way to the chain. ``setup()`` deploys and funds
everything and lets the agents open their positions; each ``step()`` is one block: agents decide
in a seeded order from the state they can see (their latency applied), as many of their
transactions as fit the block's gas limit are mined together at a fixed timestamp (the rest wait
in the mempool for the next blocks, and their agents with them), and the new state is read back
and recorded.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Iterator

import numpy as np

from sim.agents import (
    Agent,
    Context,
    Keeper,
    MarketMaker,
    PassiveLender,
    PassiveLiquidityProvider,
    build_agents,
    fixed_address,
)
from sim.model.interrupts import held
from sim.model.ordering import agent_bid, in_sequence, interleave, seeded_order, spread_populations
from sim.protocol import Call, MinedBlock, Order, Protocol, ProtocolSession, SetupError, Snapshot
from sim.protocol.deploy import configuration_orders, funding_calls, insurance_units, margin_price_calls, venue_grants
from sim.protocol.state import StateReader
from sim.record import AgentKind, Recorder
from sim.record.events import LOSS_EVENTS
from sim.scenario import Scenario
from sim.scenario.prices import price_path

SETUP_BLOCK_TX = 3_000  # set-up transactions per block (see CascadeModel._setup_blocks)


class CascadeModel:
    """Owns the scenario's generator, the agents, the protocol session and the recorder."""

    def __init__(self, scenario: Scenario, session: ProtocolSession, tables_dir: Path | None = None):
        self.scenario = scenario
        self.session = session
        self.tables_dir = tables_dir  # where the recorder streams the tables (None: kept in memory)
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
        self.recorder: Recorder | None = None
        self.reader: StateReader | None = None
        self.block = 0  # completed blocks
        self.ready = False  # set-up done

    @property
    def protocol(self) -> Protocol | None:
        return self.session.protocol

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
        for mined in self._setup_blocks(in_sequence(calls_by_sender)):
            self.session.check_setup(mined, stage)

    def _setup_blocks(self, orders: list[Order]) -> Iterator[MinedBlock]:
        """Mine set-up ``orders`` in this order, in as many blocks of at most ``SETUP_BLOCK_TX`` as
        they need (one block up to that size).

        anvil's pending pool grows costly to add to when a block's transactions arrive in several
        request bodies (19,000 transfers: 0.3 s in one body, 33 s in four), so a block is kept
        small enough for one body. Consecutive blocks keep the order: gas price within a block,
        nonce order for each sender."""
        for start in range(0, max(len(orders), 1), SETUP_BLOCK_TX):
            yield self.session.execute(orders[start : start + SETUP_BLOCK_TX], self._tick())

    def _read(self, block: int) -> Snapshot:
        _, timestamp = self.session.head()
        return self.reader.read(block, timestamp)

    # ---------------------------------------------------------------- set-up

    def setup(self) -> None:
        """Deploy, configure and fund the scenario, then let the agents open their positions."""
        s = self.scenario
        _, head_s = self.session.head()
        if head_s >= s.start_timestamp_s:
            raise SetupError(
                f"start_timestamp_s ({s.start_timestamp_s}) must be later than the node's latest block ({head_s})"
            )
        self.session.prepare([self.deployer, self.venue] + [a.address for a in self.agents])
        p = self.session.deploy(s, self.prices, self.deployer, self._tick())
        self._setup_block("configuring lending and perps", configuration_orders(s, self.prices, p))
        self._fund_accounts()
        self.reader = self.session.state_reader([a.address for a in self.agents] + [self.venue])
        self.recorder = Recorder(p, self.prices, self.agents, s.block_time_s, self.tables_dir,
                                 gas_used_measured=self.session.measures_gas_used)
        self.session.record_gas_used(LOSS_EVENTS)
        passive = [a for a in self.agents if isinstance(a, (PassiveLiquidityProvider, PassiveLender))]
        self._agent_setup("passive liquidity", passive)
        for _ in range(self._warmup_blocks()):
            self._setup_block("TWAP warm-up", [(self.deployer, [p.twap_update(symbol) for symbol in p.pools])])
        self._agent_setup("agents opening positions", [a for a in self.agents if a not in passive and a is not self.keeper])
        self._setup_block("setting the margin price sources", [(self.deployer, margin_price_calls(s, p))])
        snapshot = self._read(0)
        self.keeper.start(dict(snapshot.feeds), dict(snapshot.feed_updated_s), snapshot.timestamp_s)
        self.history.append(snapshot)
        self.recorder.record_state(0, snapshot)
        self.recorder.record_equity(snapshot, 0, start=True)
        self.session.limit_block_space(s.block_gas_limit, s.tx_gas_cap)  # set-up blocks had room for anything
        self.ready = True

    def _fund_accounts(self) -> None:
        """Mint (or, for tokens that live on a forked chain, deal) every agent's and the off-chain
        venue's starting tokens; the venue approves the arbitrageurs, who settle their off-chain
        trades through it."""
        p = self.protocol
        grants = [(a.address, a.initial_tokens(self._external(0), p)) for a in self.agents]
        grants.append((self.venue, venue_grants(p, self.prices)))
        insurance = insurance_units(self.scenario, p)
        if insurance:
            grants.append((self.deployer, {p.stablecoin: insurance}))
        minted = self.session.deal_external(grants)
        arbs = [a.address for a in self.agents if a.kind == AgentKind.ARBITRAGEUR]
        venue_approvals = [p.approve(symbol, arb) for arb in arbs for symbol in p.tokens]
        self._setup_block(
            "minting starting balances",
            [(self.deployer, funding_calls(p, grants, insurance, minted)), (self.venue, venue_approvals)],
        )
        if p.external_tokens:  # dealt balances raise no supply: conservation counts from here
            self.session.mark_conservation_start(self._holders())

    def _agent_setup(self, stage: str, agents: list[Agent]) -> None:
        snapshot = self._read(0)
        ctx = Context(0, snapshot.timestamp_s, self.protocol, snapshot, [snapshot], self._external(0), self.rng)
        for mined in self._setup_blocks(interleave([(a.address, a.setup(ctx)) for a in spread_populations(agents)])):
            failed = mined.failed()
            if failed:
                agent = self._by_address[failed[0][0].sender]
                self.session.check_setup(
                    mined, stage,
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
        mined = self.session.execute(self._decide(block, timestamp_s), timestamp_s)
        failed_by_sender: dict[str, list[Call]] = {}
        for tx, _ in mined.failed():
            failed_by_sender.setdefault(tx.sender, []).append(tx.call)
        for sender, calls in failed_by_sender.items():
            self._by_address[sender].observe(calls)
        snapshot = self.reader.read(block, mined.timestamp_s, self.history[-1], mined.touched())
        with held():  # a signal waits until the block is recorded and counted: never one without the other
            self.recorder.record_block(block, mined, self.history[-1])
            self.recorder.record_state(block, snapshot, mempool_txs=len(mined.left_out))
            self.history.append(snapshot)
            self.block = block
        return mined

    def _decide(self, block: int, timestamp_s: int) -> list[Order]:
        """Every agent's calls for ``block``, in the seeded order, with the bids that keep it. An
        agent whose transaction still waits in the mempool for block space sends nothing new."""
        order = seeded_order(self.rng, len(self.agents))
        waiting = self.session.waiting_senders()
        contexts: dict[int, Context] = {}
        orders: list[Order] = []
        for rank, index in enumerate(order):
            agent = self.agents[index]
            if agent.address in waiting:
                continue  # its transaction still waits in the mempool: it waits for it, as a bot with one in flight does
            if agent.latency_blocks not in contexts:
                contexts[agent.latency_blocks] = self._context(block, timestamp_s, agent.latency_blocks)
            calls = agent.decide(contexts[agent.latency_blocks])
            bid = agent_bid(agent.gas_price_wei, rank, len(order))
            orders.extend((agent.address, call, bid) for call in calls)
        return orders

    def finish(self) -> None:
        """Record every agent's equity after the last block."""
        self.recorder.record_equity(self.history[-1], self.block, start=False)

    def token_conservation(self) -> dict[str, dict[str, object]]:
        """For every token: the balances of every account and contract that can hold it add up to
        its total supply (nothing created or destroyed outside mint)."""
        return self.session.token_conservation(self._holders())

    def _holders(self) -> list[str]:
        return [a.address for a in self.agents] + [self.venue, self.deployer]
