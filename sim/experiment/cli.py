"""What ``ape run sweep`` and ``ape run calibrate`` share on their command line: the Dask cluster's
options (``--workers``, ``--scheduler``, ``--backend``) and their check."""

from __future__ import annotations

import re
from typing import Callable

import click

from sim.protocol import BACKENDS

SCHEDULER_ADDRESS = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$")


def cluster_options(workers_help: str, scheduler_help: str) -> Callable:
    """Add ``--workers``, ``--scheduler`` and ``--backend`` to a click command."""
    def decorate(command: Callable) -> Callable:
        command = click.option("--backend", type=click.Choice(BACKENDS), default="revm", show_default=True,
                               help="Where each run's contracts execute: revm in the worker's process, or a node of the run's own.")(command)
        command = click.option("--scheduler", default=None, metavar="ADDRESS", help=scheduler_help)(command)
        return click.option("--workers", type=click.IntRange(min=1), default=None, help=workers_help)(command)
    return decorate


def cluster_problem(workers: int | None, scheduler: str | None) -> str | None:
    """Why ``--workers`` / ``--scheduler`` cannot be used together or as given, or None."""
    if workers is not None and scheduler is not None:
        return "--workers sizes the local cluster; with --scheduler the cluster's own workers run the tasks: drop one"
    if scheduler is not None and not SCHEDULER_ADDRESS.match(scheduler):
        return f"--scheduler {scheduler!r} is not a scheduler's address: tcp://HOST:PORT (e.g. tcp://127.0.0.1:8786)"
    return None


class RunBar:
    """A progress bar on stderr counting runs, with how many failed after it."""

    def __init__(self, total: int, name: str, disabled: bool):
        import sys

        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=name, unit="run", disable=True if disabled else None, file=sys.stderr)
        self.failed = 0

    def run_done(self, row: dict) -> None:
        """One run finished (its row: a non-empty ``error`` when it failed)."""
        self.failed += bool(row["error"])
        self.bar.update(1)
        if self.failed:
            self.bar.set_postfix(failed=self.failed)
