"""One way to run the Hypothesis state machines against the chain: deterministic (the same
examples on every run, so CI is reproducible) and without deadlines (a transaction takes ms)."""

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test


def run_machine(machine_class, max_examples: int, steps: int) -> None:
    run_state_machine_as_test(
        machine_class,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
