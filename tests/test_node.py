"""The simulator's anvil runs without opcode tracing (sim/node.py)."""

from ape_foundry.provider import FoundryProvider

from sim.node import STEPS_TRACING_FLAG, without_steps_tracing


def test_the_steps_tracing_flag_is_dropped_once_and_nothing_else(monkeypatch):
    def fake_original(self):
        return ["anvil", "--port", "8545", STEPS_TRACING_FLAG, "--gas-price", "0"]

    monkeypatch.setattr(FoundryProvider, "build_command", fake_original)
    without_steps_tracing()
    without_steps_tracing()  # idempotent: the patch does not wrap itself
    assert FoundryProvider.build_command(None) == ["anvil", "--port", "8545", "--gas-price", "0"]
    assert FoundryProvider.build_command.drops_steps_tracing
