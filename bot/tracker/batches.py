"""How the tracker runs a batch: requests that a stop cuts short, writes that outlive an outage."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg

from db.errors import is_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


async def until_stopped(
    stopping: asyncio.Event, requests: Sequence[Awaitable[T]]
) -> list[T | None]:
    """The requests' results; once ``stopping`` is set, those still in flight are cancelled
    (None).

    A stop must not wait for a batch of slow requests (500 at the API's pace
    take longer than a container's stop grace): what was answered is still
    written in one transaction, the rest is released and polled again.
    """
    tasks = [asyncio.ensure_future(r) for r in requests]
    # return_exceptions: a cancelled request must not leave the gather holding
    # an exception nobody retrieves (asyncio logs those with a traceback).
    batch = asyncio.gather(*tasks, return_exceptions=True)
    stopper = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({batch, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not batch.done():
            for task in tasks:
                task.cancel()  # a no-op for those already answered
            await asyncio.wait(tasks)
    if any(t.cancelled() for t in tasks):
        log.info(
            "tracker stopping: %d request(s) in flight abandoned, released for the next poll",
            sum(t.cancelled() for t in tasks),
        )
    return [None if t.cancelled() else t.result() for t in tasks]


async def write_or_wait(
    pool: asyncpg.Pool,
    stopping: asyncio.Event,
    write: Callable[[asyncpg.Connection], Awaitable[None]],
) -> None:
    """Run ``write`` in one transaction; on a database outage keep it and retry.

    The readings stay in memory until written; if the process stops first,
    their leases expire and the players are simply polled again.
    """
    attempt = 0
    while True:
        try:
            async with pool.acquire() as con, con.transaction():
                await write(con)
            return
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            if stopping.is_set():
                # Retrying forever here kept a stopping process alive while the
                # database was down; the batch is dropped whole instead.
                log.warning(
                    "tracker stopping with the database unavailable (%s): a batch was "
                    "not written; its players are polled again when their leases expire",
                    type(exc).__name__,
                )
                return
            attempt += 1
            wait = min(10.0, 0.25 * 2**attempt)
            log.warning(
                "tracker: database unavailable while writing a batch (%s); retry %d in %.1f s",
                type(exc).__name__,
                attempt,
                wait,
            )
            await wait_or_stop(stopping, wait)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
