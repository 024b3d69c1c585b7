"""Who an agent is: a fixed address from its label, and the values every population member draws.

Draws come from the model's generator in a fixed order, so the same scenario and seed always give
the same agents."""

from __future__ import annotations

from typing import Any

import numpy as np
from eth_utils import keccak

from sim.scenario import Distribution, LogNormal, Uniform
from sim.units import to_units


def fixed_address(label: str) -> str:
    """A deterministic address for ``label`` (no key exists for it; the node impersonates it)."""
    return "0x" + keccak(text=f"defi-cascade-sim:{label}")[12:].hex()


def draw(dist: Distribution, rng: np.random.Generator) -> float:
    """One value of a scenario distribution, from the model's generator."""
    if isinstance(dist, Uniform):
        low, high = dist.uniform
        return float(rng.uniform(low, high))
    if isinstance(dist, LogNormal):
        median, sigma = dist.lognormal
        return float(median * np.exp(sigma * rng.standard_normal()))
    return float(dist)


def usd8(value: float) -> int:
    """A USD amount drawn as a float, in 8-decimal integers (floored to the cent's fraction)."""
    return to_units(round(value, 8), 8, "floor")


def identity(label: str, pop: Any, rng: np.random.Generator) -> dict[str, Any]:
    """What every agent of a population gets: its id and fixed address, its gas bid, latency and
    capital (the bid drawn before the capital, always in this order)."""
    return {
        "agent_id": label,
        "address": fixed_address(label),
        "gas_price_gwei": draw(pop.gas_price_gwei, rng),
        "latency_blocks": pop.latency_blocks,
        "capital_usd8": usd8(draw(pop.capital_usd, rng)),
    }
