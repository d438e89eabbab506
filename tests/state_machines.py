"""Running the generated-timeline state machines (tests/bot/*/test_*timeline_model.py)."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test


def run_machine(factory: Callable[[], RuleBasedStateMachine], examples: int, steps: int) -> None:
    """``examples`` timelines of up to ``steps`` steps, without deadlines: each step talks
    to a real database and fake servers, whose pace is not the test's."""
    run_state_machine_as_test(
        factory,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
