"""DeFi liquidation-cascade simulator: Python agents driving Solidity contracts on anvil through Ape.

The public API::

    from sim import load_scenario, run_cascade
    result = run_cascade(load_scenario("scenarios/oct10.yaml"), "out/oct10")
    result.events, result.timeseries, result.agents, result.figures

The layers, lowest first (each imports only those below it): ``scenario`` and ``units``;
``chain``; ``protocol``; ``record``; ``agents``; ``report``; ``model``; ``tools``. See README.md,
"Architecture".
"""

from sim.model import RunFailed, RunResult, run_cascade
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["RunFailed", "RunResult", "Scenario", "ScenarioError", "load_scenario", "run_cascade"]
