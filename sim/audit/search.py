"""The least capital that makes an attack pay: probes on a doubling grid up to the limit, then
bisection between the last capital that lost and the first that paid.

The bisection takes an attack's profit to grow with its capital once it pays. It need not: a
pump that pays at C may lose at more once the venue's cash runs out, and a band of capital that
pays between two grid points is not seen. Every probe is kept, so the audit's plot of attacker PnL
against capital shows what the grid saw.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

GRID_STEPS = 10  # probes at limit / 2^10 .. limit before bisecting
REL_TOLERANCE = 0.01  # bisect until the bracket is within 1% of its upper end
MIN_CAPITAL_USD = 1.0  # below this the search stops halving: the attack pays with next to nothing


@dataclass(frozen=True)
class Probe:
    """One run of an attack at one capital."""

    capital_usd: float
    attacker_pnl_usd: float
    protocol_loss_usd: float
    victims: int
    blocks: int

    @property
    def pays(self) -> bool:
        return self.attacker_pnl_usd > 0


@dataclass(frozen=True)
class Search:
    """Every probe in the order run, and the least paying capital found (None: none paid)."""

    probes: list[Probe]
    min_capital_usd: float | None

    @property
    def best(self) -> Probe | None:
        """The probe of the largest attacker profit, or None."""
        return max(self.probes, key=lambda p: p.attacker_pnl_usd, default=None)


def least_paying_capital(evaluate: Callable[[float], Probe], max_capital_usd: float,
                         rel_tolerance: float = REL_TOLERANCE, grid_steps: int = GRID_STEPS) -> Search:
    """Probe ``evaluate`` at ``max_capital_usd`` / 2^k for k = ``grid_steps`` .. 0, then bisect
    between the first capital that paid and the last below it that did not, to within
    ``rel_tolerance`` (when the smallest probe paid, halving first until one does not)."""
    probes = [evaluate(max_capital_usd / 2**k) for k in range(grid_steps, -1, -1)]
    first = next((i for i, probe in enumerate(probes) if probe.pays), None)
    if first is None:
        return Search(probes, None)
    upper = probes[first].capital_usd
    lower = probes[first - 1].capital_usd if first > 0 else None
    while lower is None:  # the smallest probe paid: keep halving until one does not
        if upper / 2 < MIN_CAPITAL_USD:
            return Search(probes, upper)
        probe = evaluate(upper / 2)
        probes.append(probe)
        if probe.pays:
            upper = probe.capital_usd
        else:
            lower = probe.capital_usd
    while upper - lower > rel_tolerance * upper:
        middle = (lower + upper) / 2
        probe = evaluate(middle)
        probes.append(probe)
        if probe.pays:
            upper = middle
        else:
            lower = middle
    return Search(probes, upper)
