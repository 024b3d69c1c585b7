"""The simulator's anvil runs without opcode tracing and with pruned history (sim/chain/node.py)."""

from ape_foundry.provider import FoundryProvider

from sim.chain.node import PRUNE_HISTORY, STEPS_TRACING_FLAG, lean_anvil


def test_the_steps_tracing_flag_is_dropped_and_history_pruned_once_and_nothing_else(monkeypatch):
    def fake_original(self):
        return ["anvil", "--port", "8545", STEPS_TRACING_FLAG, "--gas-price", "0"]

    monkeypatch.setattr(FoundryProvider, "build_command", fake_original)
    lean_anvil()
    lean_anvil()  # idempotent: the patch does not wrap itself
    assert FoundryProvider.build_command(None) == ["anvil", "--port", "8545", "--gas-price", "0", *PRUNE_HISTORY]
    assert FoundryProvider.build_command.is_lean_anvil
    lean_anvil(prune_history=False)  # re-configuring replaces the patch, never stacks it
    assert FoundryProvider.build_command(None) == ["anvil", "--port", "8545", "--gas-price", "0"]
