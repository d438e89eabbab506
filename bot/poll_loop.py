"""The loop of a clan poller (wars, raid weekends): step until stopped, back off on errors.

A step leases the clans due, polls them and returns how many it polled (0: none was
due). Errors are retried here with a back-off; a bug that escapes a step ends nothing
but that step, and one that escapes the loop is the supervisor's to restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot.tracker.batches import wait_or_stop
from db.errors import is_unavailable

log = logging.getLogger(__name__)


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
