"""What a run is asked to simulate: the scenario schema, its checks and loading, and the seeded
external price paths. The foundation layer: imports nothing else from ``sim`` but ``sim.units``."""

from sim.scenario.loading import load_scenario, parse_scenario
from sim.scenario.overrides import Override, apply_overrides, parse_override
from sim.scenario.schema import Distribution, LogNormal, Scenario, ScenarioError, Uniform, bounds

__all__ = [
    "Distribution",
    "LogNormal",
    "Override",
    "Scenario",
    "ScenarioError",
    "Uniform",
    "apply_overrides",
    "bounds",
    "load_scenario",
    "parse_override",
    "parse_scenario",
]
