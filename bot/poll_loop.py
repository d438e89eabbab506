"""The loop of a clan poller (wars, raid weekends): step until stopped, back off on errors.

A step leases the clans due, polls them and returns how many it polled (0: none was
due). Errors are retried here with a back-off; a bug that escapes a step ends nothing
but that step, and one that escapes the loop is the supervisor's to restart.
``ClanPoller`` holds what every clan poller has: its dependencies, its name on the
leases, its request limit, its liveness and this loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

import asyncpg

from bot.clash import ClashApi
from bot.timeutil import utcnow
from bot.tracker.batches import wait_or_stop
from bot.tracker.engine import owner_id
from db import tracker_status
from db.errors import is_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


async def poll_until_stopped(
    name: str,
    step: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    *,
    idle_wait: float,
    beat: Callable[[], None],
) -> None:
    """Run ``step`` until ``stop`` is set, waiting ``idle_wait`` when nothing was due;
    ``beat`` is called before each step (the poller's liveness)."""
    failures = 0
    while not stop.is_set():
        beat()
        try:
            if not await step():
                await wait_or_stop(stop, idle_wait)
            failures = 0
        except Exception as exc:
            failures += 1
            wait = min(30.0, 0.5 * 2**failures)
            if is_unavailable(exc):
                log.warning("%s: database unavailable (%s)", name, type(exc).__name__)
            else:
                log.exception("%s step failed; retrying in %.1f s", name, wait)
            await wait_or_stop(stop, wait)


async def poll_all_due(step: Callable[[], Awaitable[int]]) -> int:
    """Step until nothing is due (tests, one-shot runs); returns how many were polled."""
    total = 0
    while polled := await step():
        total += polled
    return total


class ClanPoller:
    """A poller of tracked clans: ``step`` (the subclass's) leases and polls those due."""

    name = "clan poller"

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        clash: ClashApi,
        interval: float | Callable[[], float],
        concurrency: int,
        idle_wait: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.pool = pool
        self.clash = clash
        self.clock = clock
        # A callable: the budget planner's interval in force, read at each schedule.
        self._interval = interval if callable(interval) else (lambda: interval)
        self.idle_wait = idle_wait
        self.owner = owner_id()
        self._requests = asyncio.Semaphore(concurrency)
        self.last_beat = time.monotonic()

    @property
    def interval(self) -> float:
        return self._interval()

    @interval.setter
    def interval(self, seconds: float) -> None:
        self._interval = lambda: seconds

    def _beat(self) -> None:
        self.last_beat = time.monotonic()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set."""
        log.info("%s started (interval %.1f s)", self.name, self.interval)
        await poll_until_stopped(
            self.name, self.step, stop, idle_wait=self.idle_wait, beat=self._beat
        )
        log.info("%s stopped", self.name)

    async def run_once(self) -> int:
        """Poll every clan due now, until none is (tests, one-shot runs)."""
        return await poll_all_due(self.step)

    async def paused(self, con: asyncpg.Connection) -> bool:
        """The API is in maintenance or refused the key: the player tracker probes it,
        the clan pollers wait."""
        state = await tracker_status.status(con)
        return state["paused_until"] is not None and state["paused_until"] > state["now"]

    async def step(self) -> int:
        raise NotImplementedError

    async def poll_leased(
        self,
        due: Sequence[T],
        poll: Callable[[T], Awaitable[None]],
        release: Callable[[asyncpg.Connection], Awaitable[None]],
    ) -> int:
        """Poll every leased item at once, then give the leases back.

        Every poll finishes (and records its schedule) before the leases go; one that
        fails stops no other. The first failure is raised (the loop backs off and logs
        it), the others are logged here."""
        try:
            results = await asyncio.gather(*(poll(item) for item in due), return_exceptions=True)
        finally:
            async with self.pool.acquire() as con:
                await release(con)
        failed = [r for r in results if isinstance(r, BaseException)]
        for extra in failed[1:]:
            log.error("%s: a poll failed", self.name, exc_info=extra)
        if failed:
            raise failed[0]
        return len(due)
