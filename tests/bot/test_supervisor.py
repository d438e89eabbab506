"""The supervisor: restarts with back-off, health while down, stop within a timeout."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.supervisor import Supervisor

BASE = 0.02  # the first back-off, in seconds


class Script:
    """A supervised task whose runs are told what to do, one by one.

    Each run is announced on ``runs`` (its number) before it acts; the test then
    decides with ``outcomes``: "raise", "return", or "wait" (until ``release`` or
    cancelled).
    """

    def __init__(self, *outcomes: str) -> None:
        self.outcomes = list(outcomes)
        self.runs: asyncio.Queue[int] = asyncio.Queue()
        self.count = 0
        self.release = asyncio.Event()
        self.cancelled = False
        self.before_raise = lambda: None

    async def __call__(self) -> None:
        self.count += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "wait"
        # No await between announcing and acting: when the test wakes up on the
        # announcement, the supervisor has already handled this run's end.
        self.runs.put_nowait(self.count)
        if outcome == "raise":
            self.before_raise()
            raise RuntimeError(f"run {self.count} failed")
        if outcome == "return":
            return
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise

    async def next_run(self) -> int:
        # asyncio.timeout, not wait_for: no extra task, so this wakes up on the very next
        # turn of the loop, before any back-off timer can restart the task.
        async with asyncio.timeout(5):
            return await self.runs.get()


def waiting_for(supervisor: Supervisor) -> float:
    """The back-off the one supervised task is waiting out now."""
    (state,) = supervisor.states()
    assert state.restart_at is not None and state.down_since is not None
    return state.restart_at - state.down_since


async def test_a_task_that_raises_is_restarted_with_back_off_and_is_down_meanwhile() -> None:
    supervisor = Supervisor(backoff_base=BASE, backoff_max=1.0, stable_after=60.0)
    script = Script("raise", "raise", "wait")
    supervisor.start("tracker", script)
    try:
        assert await script.next_run() == 1
        (state,) = supervisor.states()
        assert not state.running and not supervisor.healthy()
        assert [s.name for s in supervisor.down()] == ["tracker"]
        assert state.last_error == "RuntimeError: run 1 failed"
        assert waiting_for(supervisor) == pytest.approx(BASE)
        restart_at = state.restart_at
        assert restart_at is not None

        assert await script.next_run() == 2
        assert time.monotonic() >= restart_at - 0.001  # it waited out the back-off
        assert waiting_for(supervisor) == pytest.approx(2 * BASE)  # doubled
        assert not supervisor.healthy()

        assert await script.next_run() == 3
        assert state.running and state.restarts == 2 and supervisor.healthy()
        assert state.down_since is None and state.restart_at is None
    finally:
        script.release.set()
        await supervisor.stop(timeout=1)


async def test_a_task_that_returns_on_its_own_is_restarted() -> None:
    supervisor = Supervisor(backoff_base=BASE)
    script = Script("return", "wait")
    supervisor.start("feed", script)
    try:
        assert await script.next_run() == 1
        (state,) = supervisor.states()
        assert state.last_error == "ended on its own" and not supervisor.healthy()
        assert await script.next_run() == 2
        assert state.running and state.restarts == 1 and supervisor.healthy()
    finally:
        script.release.set()
        await supervisor.stop(timeout=1)


async def test_stop_lets_a_task_that_honours_its_event_end_by_itself() -> None:
    supervisor = Supervisor(backoff_base=BASE)
    script = Script("wait")
    supervisor.start("tracker", script)
    await script.next_run()
    # The owner's stop event (here ``release``) first, then the supervisor's stop.
    script.release.set()
    started = time.monotonic()
    await supervisor.stop(timeout=5)
    assert time.monotonic() - started < 1
    assert not script.cancelled
    assert script.count == 1  # ended after stop(): not restarted
    assert supervisor.states() == [] and not supervisor.healthy()


async def test_stop_cancels_a_task_that_does_not_end_within_the_timeout() -> None:
    supervisor = Supervisor(backoff_base=BASE)
    script = Script("wait")
    supervisor.start("stubborn", script)
    await script.next_run()
    started = time.monotonic()
    await supervisor.stop(timeout=0.05)
    assert script.cancelled
    assert 0.05 <= time.monotonic() - started < 1
    assert script.count == 1


async def test_stop_ends_a_task_waiting_out_its_back_off() -> None:
    supervisor = Supervisor(backoff_base=60.0)
    script = Script("raise")
    supervisor.start("tracker", script)
    await script.next_run()
    started = time.monotonic()
    await supervisor.stop(timeout=5)
    assert time.monotonic() - started < 1
    assert script.count == 1


async def test_a_failure_after_a_stable_run_starts_the_back_off_again() -> None:
    now = [1000.0]
    supervisor = Supervisor(
        backoff_base=BASE, backoff_max=1.0, stable_after=30.0, clock=lambda: now[0]
    )
    script = Script("raise", "raise", "raise", "raise", "wait")
    supervisor.start("tracker", script)
    try:
        await script.next_run()
        assert waiting_for(supervisor) == pytest.approx(BASE)
        await script.next_run()
        assert waiting_for(supervisor) == pytest.approx(2 * BASE)

        # The third run lasts longer than stable_after before it fails.
        def ran_long() -> None:
            now[0] += 31.0

        script.before_raise = ran_long
        await script.next_run()
        assert waiting_for(supervisor) == pytest.approx(BASE)
        script.before_raise = lambda: None
        await script.next_run()
        assert waiting_for(supervisor) == pytest.approx(2 * BASE)
        await script.next_run()
        assert supervisor.healthy()
    finally:
        script.release.set()
        await supervisor.stop(timeout=1)


async def test_the_back_off_is_capped() -> None:
    supervisor = Supervisor(backoff_base=BASE, backoff_max=3 * BASE)
    script = Script("raise", "raise", "raise", "wait")
    supervisor.start("tracker", script)
    try:
        waits = []
        for _ in range(3):
            await script.next_run()
            waits.append(waiting_for(supervisor))
        assert waits == pytest.approx([BASE, 2 * BASE, 3 * BASE])
    finally:
        script.release.set()
        await supervisor.stop(timeout=1)


async def test_one_name_is_supervised_once() -> None:
    supervisor = Supervisor()
    script = Script("wait")
    supervisor.start("tracker", script)
    try:
        with pytest.raises(ValueError, match="already supervised"):
            supervisor.start("tracker", Script())
    finally:
        await supervisor.stop(timeout=0.05)
