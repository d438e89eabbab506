"""The tracker keeps going: an error between batches is retried, a death is restarted."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.supervisor import Supervisor
from db import schedule
from tests.bot.tracker.conftest import Env
from tests.fakes.coc_api import make_player

TAG = "#2PP0JCCL"


async def test_an_error_while_idle_does_not_stop_the_tracker(
    env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 10: the idle wait queried the database outside the loop's error handling;
    one failure there ended the tracker for good, unnoticed."""
    tracker = await env.new_tracker(idle_wait=0.05)
    real = schedule.seconds_to_next_due
    failed = asyncio.Event()

    async def once_broken(con):  # type: ignore[no-untyped-def]
        if not failed.is_set():
            failed.set()
            raise RuntimeError("the database answered nonsense")
        return await real(con)

    monkeypatch.setattr(schedule, "seconds_to_next_due", once_broken)
    stop = asyncio.Event()
    with caplog.at_level(logging.ERROR, logger="bot.tracker.engine"):
        task = asyncio.create_task(tracker.run(stop))
        await asyncio.wait_for(failed.wait(), 5)
        # Still alive: a player tracked now is polled.
        env.api.set_player(make_player(TAG, trophies=1234))
        await env.track(TAG)
        for _ in range(100):
            if await env.history(TAG):
                break
            await asyncio.sleep(0.05)  # another task's progress: nothing to await
        stop.set()
        await asyncio.wait_for(task, 5)
    assert await env.history(TAG) == [(1234,)]
    assert any("tracker step failed" in r.getMessage() for r in caplog.records)


async def test_a_tracker_that_dies_is_restarted_and_unhealthy_meanwhile(env: Env) -> None:
    tracker = await env.new_tracker()
    supervisor = Supervisor(backoff_base=0.2)
    runs = 0
    restarted = asyncio.Event()
    stop = asyncio.Event()

    async def run() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise KeyError("a bug")
        restarted.set()
        await tracker.run(stop)

    supervisor.start("tracker", run)
    await asyncio.sleep(0)  # the first run dies at once
    await asyncio.sleep(0.05)
    (state,) = supervisor.states()
    assert not supervisor.healthy() and not state.running
    assert state.last_error == "KeyError: 'a bug'" and state.restart_at is not None
    await asyncio.wait_for(restarted.wait(), 5)
    assert supervisor.healthy() and supervisor.states()[0].restarts == 1
    stop.set()
    await supervisor.stop(timeout=5)
