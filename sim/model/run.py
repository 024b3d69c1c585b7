"""The run entry point: ``run_cascade(scenario, out_dir)``, the Python API behind
``ape run cascade``.

Everything that can be checked is checked before a node starts: the scenario, the backend, and
the output directory (writable, not a file, holding nothing but a previous run's outputs unless
``overwrite``). The run then opens a protocol session on its backend (an in-process revm chain or
an anvil node), runs the model's set-up and every block with a progress bar, and streams the
tables into a staging directory beside ``out_dir``; the summary and (unless ``report=False``)
``report.html`` follow, and the staging directory replaces ``out_dir`` as a whole. A run that
fails or is interrupted (SIGINT, SIGTERM) does the same with what it recorded, so ``out_dir`` is
at every instant either the previous run's outputs or this run's, never a mix. A node the run was
given is put back to its state before the run afterwards.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable

from sim.calibration.targets import calibration_problems
from sim.files import check_output_dir, output_lock, replace_directory, staging_dir
from sim.model.interrupts import Interrupted, held, signals_raise
from sim.model.model import CascadeModel
from sim.model.outputs import SUMMARY_FILE, RunResult, output_names, write_outputs
from sim.protocol import DEFAULT_NETWORK, Artifact, MinedBlock, ProtocolSession, choose_backend, network_problem, open_session
from sim.record.expect import metric_problems
from sim.scenario import Scenario, ScenarioError, load_scenario


class RunFailed(RuntimeError):
    """The run stopped part-way; what was recorded so far is in ``out_dir`` (``status: failed``)."""


class RunInterrupted(RunFailed):
    """SIGINT or SIGTERM stopped the run; what was recorded so far is in ``out_dir``
    (``status: interrupted``). ``exit_code`` is 130 for SIGINT and 143 for SIGTERM."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


def run_cascade(
    scenario: Scenario | str | Path,
    out_dir: str | Path,
    network: str | None = None,
    progress: bool = True,
    artifacts: dict[str, Artifact] | None = None,
    overwrite: bool = False,
    owns_node: bool | None = None,
    backend: str | None = None,
    report: bool = True,
) -> RunResult:
    """Run a scenario (a :class:`Scenario` or a YAML path) and write its outputs into ``out_dir``.

    ``backend``: ``"revm"`` (an EVM in this process) or ``"anvil"`` (the node of Ape network
    ``network``, ``ethereum:local:foundry`` when None); None chooses revm unless the run needs a
    node: a named ``network``, venues on a forked chain, or a long run
    (:func:`~sim.protocol.choose_backend`). Both give the same tables (README, "Backends").
    ``report`` False writes the tables and ``summary.json`` only (no ``report.html`` and plots: the
    paths of a Monte Carlo need no report each).

    Raises, before any node starts: :class:`~sim.scenario.ScenarioError` for an invalid scenario (its calibration targets included),
    :class:`~sim.protocol.BackendError` for a backend that cannot run it,
    :class:`~sim.files.OutputDirError` for an ``out_dir`` that cannot take the outputs. Raises
    :class:`RunFailed` when the run breaks and :class:`RunInterrupted` on SIGINT or SIGTERM, each
    with what was recorded so far in ``out_dir``.

    ``owns_node`` says whether the node is this run's alone (see
    :class:`~sim.protocol.ProtocolSession`); by default, when the run started it itself."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    unknown = metric_problems(scenario.expectations()) + calibration_problems(scenario)
    if unknown:
        raise ScenarioError(scenario.name, unknown)
    backend = choose_backend(backend, network, scenario)
    network = network or DEFAULT_NETWORK
    out_dir = Path(out_dir)
    check_output_dir(out_dir, output_names(), overwrite)
    problem = network_problem(network) if backend == "anvil" else None
    if problem:
        raise RunFailed(problem)
    with output_lock(out_dir), open_session(network, artifacts, owns_node, backend) as session:
        staged = staging_dir(out_dir)
        try:
            return _run(scenario, session, staged, out_dir, progress, report)
        finally:
            shutil.rmtree(staged, ignore_errors=True)  # gone already when it replaced out_dir


def _run(scenario: Scenario, session: ProtocolSession, staged: Path, out_dir: Path, progress: bool, report: bool) -> RunResult:
    model = CascadeModel(scenario, session, tables_dir=staged)
    checkpoint = session.checkpoint()
    started = time.perf_counter()
    result: RunResult | None = None
    try:
        with signals_raise():
            try:
                run_blocks(model, progress)
                conservation = model.token_conservation()
            except (Exception, KeyboardInterrupt, Interrupted) as error:
                raise _stopped(model, session, checkpoint, staged, out_dir, time.perf_counter() - started, error, report) from error
            with held():  # a signal now waits until the finished run is written and in place
                session.restore(checkpoint)
                result = write_outputs(staged, model, time.perf_counter() - started, "completed", out_dir, report,
                                       token_conservation=conservation)
                _publish(staged, out_dir)
    except Interrupted as error:
        if result is None:  # raised as the block began: a signal an enclosing block (an audit's) received
            raise RunInterrupted(f"run of {model.scenario.name!r} interrupted ({error}) before its first block; nothing was "
                                 f"written", error.exit_code) from error
        raise RunInterrupted(f"run of {model.scenario.name!r} interrupted ({error}) as it finished; its outputs are complete "
                             f"in {out_dir}", error.exit_code) from error
    return result


def _publish(staged: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` with the staged outputs; when that fails, keep them under a visible
    name beside it and say where (:class:`RunFailed`), never lose them."""
    try:
        replace_directory(staged, out_dir)
    except OSError as error:
        kept = out_dir.resolve().with_name(f"{out_dir.resolve().name}-{time.strftime('%Y%m%d-%H%M%S')}")
        staged.rename(kept)
        raise RunFailed(f"could not replace {out_dir} ({error}); the outputs are in {kept}") from error


def _stopped(
    model: CascadeModel, session: ProtocolSession, checkpoint: Any, staged: Path, out_dir: Path, wall_s: float,
    error: BaseException, report: bool,
) -> RunFailed:
    """Write what was recorded, put the node back, and say where the run stopped."""
    interrupted = isinstance(error, (Interrupted, KeyboardInterrupt))
    status = "interrupted" if interrupted else "failed"
    failure = str(error) if isinstance(error, Interrupted) else f"{type(error).__name__}: {error}"
    where = "; nothing was written"
    if model.ready:
        model.finish()  # every agent's equity after the last block recorded (no chain needed)
    if model.recorder is not None:
        write_outputs(staged, model, wall_s, status, out_dir, report, error=failure)
        _publish(staged, out_dir)
        where = (
            f"; what was recorded up to block {model.block} is in {out_dir}"
            if model.ready
            else f"; the error is also in {out_dir / SUMMARY_FILE}"
        )
    _restore_quietly(session, checkpoint, report=not interrupted)
    stage = f"in block {model.block + 1}" if model.ready else "during set-up"
    if interrupted:
        code = error.exit_code if isinstance(error, Interrupted) else 130
        return RunInterrupted(f"run of {model.scenario.name!r} interrupted ({failure}) {stage}{where}", code)
    return RunFailed(f"run of {model.scenario.name!r} failed {stage}: {failure}{where}")


def _restore_quietly(session: ProtocolSession, checkpoint: Any, report: bool) -> None:
    """Put the node back after a failure without hiding the failure (the node may be gone: a
    Ctrl-C in a terminal reaches the node too)."""
    try:
        session.restore(checkpoint)
    except Exception as error:  # noqa: BLE001 - reported, never raised over the run's own error
        if report:
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
                bar.set_postfix(tx=model.session.tx_count, events=model.recorder.events.count, refresh=False)
    finally:
        bar.close()
    model.finish()
