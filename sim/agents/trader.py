"""The leveraged trader: one perp position at a drawn leverage, opened before the shock and held."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from sim.agents.base import Context, StablecoinTrader, leverage_wad
from sim.protocol import Call
from sim.record.schema import AgentKind

MAX_OPEN_ATTEMPTS = 3  # an open that reverts (price limits, a full block) is tried again, this often


@dataclass
class LeveragedTrader(StablecoinTrader):
    """Starts with ``capital`` in the stablecoin. At ``entry_block`` it posts all of it as margin
    for one position on ``market`` (long or short) at ``leverage``, then holds it: no top-ups, no
    stop: the position ends closed by its liquidation, by ADL, or open at the end of the run.

    The population draws each member's leverage, side and entry block (as the book of
    10 October: mostly longs, leverage from 2× to the market's maximum, opened before the shock), so liquidation prices spread along the fall instead of sitting on one line."""

    market: str = ""
    is_long: bool = True
    leverage: float = 5.0
    entry_block: int = 1
    kind: str = field(default=AgentKind.TRADER, init=False)
    open_attempts: int = field(default=0, init=False)
    _sent_open: bool = field(default=False, init=False)

    def setup(self, ctx: Context) -> list[Call]:
        """The one approval it uses: the perp exchange for the stablecoin (margin)."""
        p = ctx.protocol
        return [p.approve(p.stablecoin, p.perp)]

    def step(self, ctx: Context) -> list[Call]:
        if self._sent_open:  # the model reports only reverted calls (observe): an open not reported went through
            self._sent_open = False
            self.open_attempts = MAX_OPEN_ATTEMPTS  # even when a stale view (latency_blocks) does not show it yet
        if ctx.block < self.entry_block or self.open_attempts >= MAX_OPEN_ATTEMPTS:
            return []
        if ctx.view.perp_position(self.address, self.market) is not None:
            self.open_attempts = MAX_OPEN_ATTEMPTS  # open: nothing more to do, ever
            return []
        margin = ctx.view.balance(self.address, ctx.protocol.stablecoin)
        if margin == 0:
            return []
        self.open_attempts += 1
        self._sent_open = True
        return [ctx.protocol.open_position(self.market, self.is_long, margin, leverage_wad(self.leverage), 0)]

    def observe(self, failed: Sequence[Call]) -> None:
        """Called by the model only when some of this block's calls reverted: the open did not go through."""
        super().observe(failed)
        if any(call.action == "openPosition" for call in failed):
            self._sent_open = False
