"""What every attacker shares: its kind, limited liability (it walks away from a position under
water), and the gas it pays, counted against it at the gas token's price."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.agents.base import Agent, Context, gas_cost_usd8
from sim.protocol import Call, Protocol
from sim.record.schema import AgentKind


@dataclass
class Attacker(Agent):
    """An attacker: ``step`` is its strategy; every call it sends is charged its gas limit at its
    bid (a failed or unused part of a limit is charged too: a conservative upper bound on gas)."""

    kind: str = field(default=AgentKind.ATTACKER, init=False)
    limited_liability: bool = field(default=True, init=False)
    gas_spent_wei: int = field(default=0, init=False)

    def decide(self, ctx: Context) -> list[Call]:
        calls = super().decide(ctx)
        self.gas_spent_wei += sum(call.gas for call in calls) * self.gas_price_wei
        return calls

    def off_chain_usd8(self, external: dict[str, int], protocol: Protocol) -> int:
        """The gas paid so far, as a loss (8-decimal USD)."""
        return -gas_cost_usd8(self.gas_spent_wei, external)
