"""The node the simulator drives: anvil through ape-foundry, without opcode tracing.

ape-foundry always starts anvil with ``--steps-tracing``, which records every opcode step of every
transaction so that Ape can print tracebacks and gas reports. The simulator never asks for those,
and the records are kept for the node's lifetime: on oct10 (5,284 transactions) anvil's resident
memory peaked at 10.2 GB with the flag and 0.22 GB without it, and the run took 21.3 s instead of
6.6 s. :func:`without_steps_tracing` removes the flag from the command ape-foundry builds (local
and fork providers alike); call it before the provider connects.
"""

from __future__ import annotations

STEPS_TRACING_FLAG = "--steps-tracing"


def without_steps_tracing() -> None:
    """Make every anvil that ape-foundry starts from now on run without ``--steps-tracing``."""
    from ape_foundry.provider import FoundryProvider

    original = FoundryProvider.build_command
    if getattr(original, "drops_steps_tracing", False):
        return

    def build_command(self) -> list[str]:
        return [arg for arg in original(self) if arg != STEPS_TRACING_FLAG]

    build_command.drops_steps_tracing = True  # type: ignore[attr-defined]
    FoundryProvider.build_command = build_command  # the fork provider calls it through super()
