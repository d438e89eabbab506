"""The battle poller: battle logs of tracked players who play, and their week results.

A player's log is due when the tracker saw them battle (``bot.battles.watch``), then
every BATTLELOG_INTERVAL_SECONDS while they played within the last day; never for a
player who does not play. When a ranked week ended, the player's league history is
read until it lists that week (its cache lasts 5 minutes), and the week's result is
posted once. Several processes share the work through leases.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from bot.battles.parse import BattlePayloadError, parse_battle_log
from bot.battles.store import write_history, write_log
from bot.clash import ClashApi
from bot.errors import ApiAccessDenied, ApiMaintenance, ApiRateLimited, UserFacingError
from bot.poll_loop import ClanPoller
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.tracker.budget import Budget
from db import battle_schedule
from db.battle_schedule import Lease

log = logging.getLogger(__name__)

# Max-ages of the recorded answers: a battle log read again sooner shows nothing new, a
# week's result missing from the history is asked for again after the history's.
CACHE_AGE = 60.0
HISTORY_CACHE_AGE = 300.0
ANSWER_AGE = timedelta(seconds=CACHE_AGE)


@dataclass
class BattleOptions:
    batch_size: int = 50
    concurrency: int = 8
    request_deadline: float = 15.0
    lease_seconds: float = 120.0
    retry_delay: float = 30.0
    idle_wait: float = 1.0
    # A week's result not in the history after this many reads (two hours of them) is
    # given up on.
    history_tries: int = 24


class BattlePoller(ClanPoller):
    """Polls players, not clans, but shares the clan pollers' base: the loop, back-off,
    lease owner, request limit, liveness and pause check."""

    name = "battle poller"

    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        options: BattleOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
        budget: Budget | None = None,
    ) -> None:
        self.options = options or BattleOptions()
        super().__init__(
            pool=pool,
            clash=clash,
            interval=budget.battle_logs
            if budget is not None
            else settings.battlelog_interval_seconds,
            concurrency=self.options.concurrency,
            idle_wait=self.options.idle_wait,
            clock=clock,
        )

    async def step(self) -> int:
        async with self.pool.acquire() as con:
            if await self.paused(con):
                return 0
            due = await battle_schedule.lease(
                con, self.options.batch_size, self.options.lease_seconds, self.owner
            )
        if not due:
            return 0
        tags = [d.player_tag for d in due]
        return await self.poll_leased(
            due, self._poll, lambda con: battle_schedule.release(con, tags, self.owner)
        )

    async def _poll(self, due: Lease) -> None:
        if due.log_due:
            await self._read_log(due.player_tag)
        if due.history_due:
            await self._read_history(due.player_tag)

    def _error(self, exc: Exception) -> str:
        if isinstance(exc, ApiMaintenance | ApiRateLimited | ApiAccessDenied):
            return type(exc).__name__
        return f"{type(exc).__name__}: {exc}"[:200]

    async def _read_log(self, tag: str) -> None:
        error, rate_limited = None, False
        try:
            async with self._requests:
                body = await self.clash.get_battle_log(tag, deadline=self.options.request_deadline)
            at = self.clock()
            async with self.pool.acquire() as con:
                wrote = await write_log(con, tag, parse_battle_log(body), at, answer_age=ANSWER_AGE)
            if wrote.gap:
                log.info("battle log of %s overflowed since its last read: gap recorded", tag)
        except (UserFacingError, BattlePayloadError) as exc:
            error = self._error(exc)
            rate_limited = isinstance(exc, ApiRateLimited)
            if not isinstance(exc, ApiMaintenance | ApiRateLimited):
                log.warning("battle log of %s: %s", tag, error)
        o = self.options
        # At least a second apart, whatever the settings: a poller must not spin.
        interval = max(1.0, self.interval)
        async with self.pool.acquire() as con:
            await battle_schedule.log_polled(
                con,
                tag,
                interval=interval,
                error=error,
                lease_seconds=o.lease_seconds,
                cache_age=min(CACHE_AGE, interval),
                # Under a rate limit, asking sooner only keeps the key throttled.
                retry=interval if rate_limited else min(interval, o.retry_delay),
                owner=self.owner,
            )

    async def _read_history(self, tag: str) -> None:
        done = False
        try:
            async with self._requests:
                body = await self.clash.get_league_history(
                    tag, deadline=self.options.request_deadline
                )
            async with self.pool.acquire() as con:
                done = await write_history(con, tag, body, self.clock())
        except (UserFacingError, BattlePayloadError) as exc:
            log.warning("league history of %s: %s", tag, self._error(exc))
        async with self.pool.acquire() as con:
            await battle_schedule.history_polled(
                con,
                tag,
                retry=HISTORY_CACHE_AGE,
                tries=self.options.history_tries,
                done=done,
                owner=self.owner,
            )
