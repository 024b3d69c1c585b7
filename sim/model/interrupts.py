"""SIGINT and SIGTERM during a run: raised as :class:`Interrupted` where the run is, so that it
can keep what it recorded, instead of whatever handler was installed before (Ape's calls
``sys.exit``, which skips every clean-up).

A signal is never lost. The handler remembers it before it raises, and the run's checkpoints
raise it again if the first :class:`Interrupted` never reached the run: Python drops an exception
raised while a ``__del__`` or a weakref callback runs ("Exception ignored in ..."), and a signal
can land there. The checkpoints are the end of every :func:`held` block (once per block) and the
entry and normal exit of every :func:`signals_raise` block (an audit's next probe, the end of a
run), and :func:`check` wherever a long loop calls it."""

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
    """The handler's state, shared by nested :func:`signals_raise` blocks (the outermost one
    starts it afresh): the signal received, and how deep :func:`held` blocks are."""

    depth = 0  # of signals_raise blocks
    signal_number: int | None = None  # the first signal received; later ones are ignored
    holding = 0  # of held() blocks


def _handler(signal_number: int, frame: object) -> None:
    if _State.signal_number is not None:  # the run is stopping already: let it write what it has
        return
    _State.signal_number = signal_number
    if not _State.holding:  # else raised as the held block ends
        raise Interrupted(signal_number)


def check() -> None:
    """Raise :class:`Interrupted` for a signal received in the current :func:`signals_raise`
    block. Call it only where the run goes on normally: once the first :class:`Interrupted` has
    reached the run, the run is stopping and calls no checkpoint."""
    if _State.signal_number is not None and _State.depth:
        raise Interrupted(_State.signal_number)


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, the first SIGINT or SIGTERM raises :class:`Interrupted`; later ones are
    ignored while the run writes what it has. Blocks nest: an inner one raises at once a signal
    the outer one received. Outside the main thread, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _State.depth == 0:
        _State.signal_number, _State.holding = None, 0
    check()
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    _State.depth += 1
    try:
        yield
        check()  # a signal whose Interrupted was dropped on the way
    finally:
        _State.depth -= 1
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
        if _State.holding == 0:
            check()
