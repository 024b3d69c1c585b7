"""The model layer: the cascade model, the ordering of transactions in a block, and the run
entry point. The top of the simulator: it may import every layer below (protocol, record,
agents, report); it reaches the chain only through :class:`~sim.protocol.ProtocolSession`."""

from sim.model.model import CascadeModel
from sim.model.outputs import RunResult
from sim.model.run import RunFailed, RunInterrupted, run_blocks, run_cascade

__all__ = ["CascadeModel", "RunFailed", "RunInterrupted", "RunResult", "run_blocks", "run_cascade"]
