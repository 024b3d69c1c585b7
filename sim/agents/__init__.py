"""The agents layer: one file per agent, and the registry that turns a scenario's populations
into agents (:mod:`sim.agents.registry`).

An agent never sends anything itself: each block the model calls ``step(ctx)`` and sends the
returned calls. Agents import the protocol layer (calls and snapshots) and the record schema
(their kinds); never the model."""

from sim.agents.arbitrageur import Arbitrageur
from sim.agents.base import Agent, Context
from sim.agents.identity import draw, fixed_address
from sim.agents.keeper import Keeper
from sim.agents.liquidator import Liquidator
from sim.agents.market_maker import MarketMaker
from sim.agents.noise import NoiseTrader
from sim.agents.passive import PassiveLender, PassiveLiquidityProvider
from sim.agents.registry import POPULATIONS, PopulationKind, build_agents
from sim.agents.trader import LeveragedTrader
from sim.agents.whale import Whale

__all__ = [
    "Agent",
    "Arbitrageur",
    "Context",
    "Keeper",
    "LeveragedTrader",
    "Liquidator",
    "MarketMaker",
    "NoiseTrader",
    "POPULATIONS",
    "PassiveLender",
    "PassiveLiquidityProvider",
    "PopulationKind",
    "Whale",
    "build_agents",
    "draw",
    "fixed_address",
]
