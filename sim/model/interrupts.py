"""SIGINT and SIGTERM during a run: raised as :class:`Interrupted` where the run is, so that it
can keep what it recorded, instead of whatever handler was installed before (Ape's calls
``sys.exit``, which skips every clean-up)."""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal stopped the run (a BaseException, so ``except Exception`` never swallows it)."""

    def __init__(self, signal_number: int):
        self.signal_number = signal_number
        super().__init__(signal.Signals(signal_number).name)

    @property
    def exit_code(self) -> int:
        """What a shell reports for a process ended by the signal: 128 + its number (130, 143)."""
        return 128 + self.signal_number


class _State:
    """The handler's state: whether it has raised, and a signal held back by :func:`held`."""

    raised = False
    holding = 0  # depth of held() blocks
    pending: int | None = None


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, the first SIGINT or SIGTERM raises :class:`Interrupted`; later ones are
    ignored while the run writes what it has. Outside the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.raised, _State.holding, _State.pending = False, 0, None

    def handler(signal_number: int, frame: object) -> None:
        if _State.raised or _State.pending is not None:
            return
        if _State.holding:
            _State.pending = signal_number  # raised when the held block ends
            return
        _State.raised = True
        raise Interrupted(signal_number)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


@contextmanager
def held() -> Iterator[None]:
    """Within the block a signal waits: it is raised as :class:`Interrupted` when the block ends,
    so bookkeeping that must be whole (a block's rows recorded and counted) never stops halfway."""
    _State.holding += 1
    try:
        yield
    finally:
        _State.holding -= 1
        if _State.holding == 0 and _State.pending is not None and not _State.raised:
            signal_number, _State.pending = _State.pending, None
            _State.raised = True
            raise Interrupted(signal_number)
