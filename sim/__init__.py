"""DeFi liquidation-cascade simulator: Python agents driving Solidity contracts, in process (revm)
or on anvil through Ape.

The public API::

    from sim import load_scenario, run_cascade
    result = run_cascade(load_scenario("scenarios/oct10.yaml"), "out/oct10")  # backend="revm" | "anvil"
    result.events, result.timeseries, result.agents, result.figures

The layers, lowest first (each imports only those below it): ``scenario`` and ``units``;
``chain``; ``protocol``; ``record``; ``agents``; ``report``; ``model``; ``tools``. See README.md,
"Architecture".
"""

from sim.files import OutputDirError
from sim.model import RunFailed, RunInterrupted, RunResult, run_cascade
from sim.model.outputs import output_names
from sim.protocol import BACKENDS, BackendError
from sim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "BACKENDS",
    "BackendError",
    "OutputDirError",
    "RunFailed",
    "RunInterrupted",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "output_names",
    "run_cascade",
]
