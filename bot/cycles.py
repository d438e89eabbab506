"""A background task that works in cycles: the war reminders, the board refresher, the
season summaries.

Each cycle does the work that is due and says how long until the next; ``wake`` starts
the next one at once. A database outage is waited out with back-off; anything else
escapes to the bot's supervisor, which logs it and restarts the task. ``cycle_done`` is
set at the end of each cycle and then replaced, so a caller can wait for a whole one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

import aiohttp
import asyncpg

from db.errors import DB_TROUBLE, is_unavailable

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)


def lost_database(exc: BaseException) -> bool:
    """The database went away (db.errors), not one query's own trouble: a query that timed
    out or was cancelled is that query's, and Discord's network errors (aiohttp's are
    OSErrors too) are not the database's."""
    if isinstance(exc, TimeoutError | asyncpg.QueryCanceledError | aiohttp.ClientError):
        return False
    return is_unavailable(exc)


class CycleTask:
    task_name = "cycle task"

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        self._wake = asyncio.Event()
        self._stopping = False
        self.cycle_done = asyncio.Event()

    def start(self) -> None:
        self._stopping = False
        self.bot.supervisor.start(self.task_name, self.run)

    async def stop(self, grace: float = 5.0) -> None:
        """Let the cycle under way finish (up to ``grace`` seconds), then stop."""
        self._stopping = True
        self._wake.set()
        await self.bot.supervisor.stop(self.task_name, timeout=grace)

    def wake(self) -> None:
        self._wake.set()

    async def before_cycles(self) -> None:
        """What the first cycle must wait for."""

    async def run(self) -> None:
        await self.before_cycles()
        delay = 1.0
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self.run_once()
                delay = 1.0
            except DB_TROUBLE as exc:
                log.warning("%s lost the database (%s)", self.task_name, type(exc).__name__)
                wait, delay = delay, min(delay * 2, 60.0)
            done, self.cycle_done = self.cycle_done, asyncio.Event()
            done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))

    async def run_once(self) -> float:
        """One cycle; seconds until the next."""
        raise NotImplementedError
