"""The run entry point: ``run_cascade(scenario, out_dir)``, the Python API behind
``ape run cascade``.

It opens a protocol session on the connected anvil node (or starts one), runs the model's
set-up and every block with a progress bar, and writes ``timeseries.parquet``,
``events.parquet``, ``agents.parquet``, ``summary.json`` and ``report.html`` into ``out_dir``.
The node is put back to its state before the run afterwards, so runs are independent and the
same scenario and seed give identical results.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

from sim.model.model import CascadeModel
from sim.model.outputs import RunResult, write_outputs
from sim.protocol import DEFAULT_NETWORK, Artifact, MinedBlock, ProtocolSession, open_session
from sim.scenario import Scenario, load_scenario


class RunFailed(RuntimeError):
    """The run stopped part-way; what was recorded so far is in ``out_dir``."""


def run_cascade(
    scenario: Scenario | str | Path,
    out_dir: str | Path,
    network: str = DEFAULT_NETWORK,
    progress: bool = True,
    artifacts: dict[str, Artifact] | None = None,
) -> RunResult:
    """Run a scenario (a :class:`Scenario` or a YAML path) and write its outputs into ``out_dir``.

    Raises :class:`~sim.scenario.ScenarioError` before anything runs or is written when the file
    is invalid, and :class:`RunFailed` (with partial outputs on disk) when the run breaks."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    out_dir = Path(out_dir)
    with open_session(network, artifacts) as session:
        model = CascadeModel(scenario, session)
        checkpoint = session.checkpoint()
        started = time.perf_counter()
        try:
            run_blocks(model, progress)
            conservation = model.token_conservation()
        except (Exception, KeyboardInterrupt) as error:
            raise _failed(model, session, checkpoint, out_dir, time.perf_counter() - started, error) from error
        session.restore(checkpoint)
        return write_outputs(out_dir, model, time.perf_counter() - started, "completed", token_conservation=conservation)


def _failed(model: CascadeModel, session: ProtocolSession, checkpoint: Any, out_dir: Path, wall_s: float, error: BaseException) -> RunFailed:
    """Write what was recorded, put the node back, and say where the run stopped."""
    failure = f"{type(error).__name__}: {error}"
    where = "; nothing was written"
    if model.recorder is not None:
        write_outputs(out_dir, model, wall_s, "failed", error=failure)
        where = (
            f"; what was recorded up to block {model.block} is in {out_dir}"
            if model.ready
            else f"; the error is also in {out_dir / 'summary.json'}"
        )
    _restore_quietly(session, checkpoint)
    stage = f"in block {model.block + 1}" if model.ready else "during set-up"
    return RunFailed(f"run of {model.scenario.name!r} failed {stage}: {failure}{where}")


def _restore_quietly(session: ProtocolSession, checkpoint: Any) -> None:
    """Put the node back after a failure without hiding the failure (the node may be gone)."""
    try:
        session.restore(checkpoint)
    except Exception as error:  # noqa: BLE001 - reported, never raised over the run's own error
        print(f"warning: could not restore the node after the failed run: {error}", file=sys.stderr)


def run_blocks(
    model: CascadeModel,
    progress: bool,
    after_setup: Callable[[], None] | None = None,
    after_block: Callable[[MinedBlock], None] | None = None,
) -> None:
    """Set the model up and run every block with a progress bar; ``after_setup`` and
    ``after_block`` (called with each mined block) let a caller watch without changing the run."""
    from tqdm import tqdm

    model.setup()
    if after_setup is not None:
        after_setup()
    bar = tqdm(total=model.scenario.blocks, desc=model.scenario.name, unit="block", disable=None if progress else True, file=sys.stderr)
    try:
        for _ in range(model.scenario.blocks):
            mined = model.step()
            if after_block is not None:
                after_block(mined)
            bar.update(1)
            if model.block % 10 == 0:
                bar.set_postfix(tx=model.session.tx_count, events=len(model.recorder.events), refresh=False)
    finally:
        bar.close()
    model.finish()
