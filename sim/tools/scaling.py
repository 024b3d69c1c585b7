"""A scenario with more, smaller participants: the same market, the same capital, N agents.

:func:`scale_population` keeps every pool, reserve, market, price path and seed, and changes only
how many agents the populations have. The many-and-alike populations (whales, market makers,
noise and leveraged traders) grow (or shrink) to fill ``agents``, each keeping at least one member;
each agent's capital changes by the inverse of the factor its population grew by, so every population brings the same capital as before and the market sees the
same flows split among more accounts. The professional bots (liquidators and arbitrageurs) keep
their number: a thousand liquidators racing for the same position would add only reverted
transactions.
"""

from __future__ import annotations

from typing import Any

from sim.agents import POPULATIONS
from sim.scenario import Distribution, LogNormal, Scenario, ScenarioError, Uniform, parse_scenario

GROWN = tuple(name for name, kind in POPULATIONS.items() if kind.grows_with_scale)  # grow with the agent count
FIXED = tuple(name for name, kind in POPULATIONS.items() if not kind.grows_with_scale)


def population_agents(scenario: Scenario) -> int:
    """The scenario's agents: every population member (the keeper and passive capital excluded)."""
    return sum(pop.count for _, _, pop in scenario.populations())


def scaled_distribution(dist: Distribution, factor: float) -> Any:
    """``dist`` with every value multiplied by ``factor`` (a lognormal keeps its sigma)."""
    if isinstance(dist, Uniform):
        low, high = dist.uniform
        return {"uniform": [low * factor, high * factor]}
    if isinstance(dist, LogNormal):
        median, sigma = dist.lognormal
        return {"lognormal": [median * factor, sigma]}
    return float(dist) * factor


def grown_counts(counts: list[int], target: int) -> list[int]:
    """``counts`` scaled to sum to ``target`` (largest remainder, each at least 1)."""
    total = sum(counts)
    if target < len(counts):
        raise ValueError(f"{target} agents cannot fill {len(counts)} populations")
    exact = [c * target / total for c in counts]
    grown = [max(1, int(x)) for x in exact]
    by_remainder = sorted(range(len(counts)), key=lambda i: (grown[i] - exact[i], i))
    i = 0
    while sum(grown) < target:
        grown[by_remainder[i % len(counts)]] += 1
        i += 1
    while sum(grown) > target:  # only when the floor of 1 pushed a population up
        j = max((k for k in range(len(counts)) if grown[k] > 1), key=lambda k: (grown[k] - exact[k], k))
        grown[j] -= 1
    return grown


def scale_population(scenario: Scenario, agents: int, blocks: int | None = None) -> Scenario:
    """``scenario`` with ``agents`` population members in all (see the module docstring), and
    ``blocks`` blocks when given.

    Raises :class:`ValueError` when ``agents`` cannot hold the fixed bots plus one member of each
    growing population."""
    fixed = sum(pop.count for name, _, pop in scenario.populations() if name in FIXED)
    grown_pops = [(name, i, pop) for name, i, pop in scenario.populations() if name in GROWN]
    if not grown_pops:
        raise ValueError(f"scenario {scenario.name!r} has no whale, market-maker or noise population to grow")
    if agents < fixed + len(grown_pops):
        raise ValueError(
            f"{agents} agents is too few for {scenario.name!r}: its {fixed} liquidators and arbitrageurs plus one "
            f"member of each of its {len(grown_pops)} growing populations"
        )
    counts = grown_counts([pop.count for _, _, pop in grown_pops], agents - fixed)
    data = scenario.model_dump(mode="python")
    data["name"] = f"{scenario.name}-x{agents}"
    if blocks is not None:
        data["blocks"] = blocks
    for (name, i, pop), count in zip(grown_pops, counts):
        entry = data["agents"][name][i]
        entry["count"] = count
        entry["capital_usd"] = scaled_distribution(pop.capital_usd, pop.count / count)
    try:
        return parse_scenario(data, f"{scenario.name} scaled to {agents} agents")
    except ScenarioError as error:  # a scaled scenario the original's checks would refuse
        raise ValueError(str(error)) from None
