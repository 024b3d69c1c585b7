"""The oracle keeper: Chainlink-style pushes, TWAP observations and funding settlements."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.base import Agent, Context
from sim.protocol import Call
from sim.record.schema import AgentKind
from sim.units import BPS


@dataclass
class Keeper(Agent):
    """Owns the push feeds. Each block it pushes an asset's external price when it moved at least
    ``deviation_bps`` from the last push or ``heartbeat_s`` passed (Chainlink's two triggers),
    records a TWAP observation in every pool oracle, and settles funding of every market whose
    interval has elapsed. It sees the external price without latency and bids a high gas price so
    its updates land first in the block."""

    heartbeat_s: int = 3_600
    deviation_bps: int = 50
    funding_interval_s: dict[str, int] = field(default_factory=dict)
    kind: str = field(default=AgentKind.KEEPER, init=False)
    last_push: dict[str, tuple[int, int]] = field(default_factory=dict, init=False)  # symbol -> (answer, time)
    next_funding_s: dict[str, int] = field(default_factory=dict, init=False)

    def start(self, answers: dict[str, int], updated_s: dict[str, int], timestamp_s: int) -> None:
        """What the feeds hold and when they were written (the heartbeat counts from there), and
        when funding is first due, at the start of the run."""
        self.last_push = {symbol: (answer, updated_s[symbol]) for symbol, answer in answers.items()}
        self.next_funding_s = {m: timestamp_s + interval for m, interval in self.funding_interval_s.items()}

    def needs_push(self, symbol: str, price8: int, now_s: int) -> bool:
        answer, at = self.last_push[symbol]
        moved = abs(price8 - answer) * BPS >= answer * self.deviation_bps
        return moved or now_s - at >= self.heartbeat_s

    def step(self, ctx: Context) -> list[Call]:
        p = ctx.protocol
        calls = []
        for symbol in p.feeds:
            price = ctx.external[symbol]
            if self.needs_push(symbol, price, ctx.timestamp_s):
                calls.append(p.set_answer(symbol, price))
                self.last_push[symbol] = (price, ctx.timestamp_s)
        calls.extend(p.twap_update(symbol) for symbol in p.pools)
        for market, due in self.next_funding_s.items():
            if ctx.timestamp_s >= due:
                calls.append(p.settle_funding(market))
                self.next_funding_s[market] = ctx.timestamp_s + self.funding_interval_s[market]
        return calls
