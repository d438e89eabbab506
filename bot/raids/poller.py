"""The raid poller: every tracked clan's raid weekends, read while they run and once after.

One ``/capitalraidseasons?limit=2`` request per tracked clan: the weekend
running (or the last one) and the one before, so a weekend whose end fell
between two polls is still read ended, with its final numbers, when the next
has begun. While a weekend runs the clan is read every RAID_INTERVAL_SECONDS,
and once more as soon as its end is surely in the API's answers; between
weekends less often (a weekend begins on Friday at 07:00 UTC, and the poll
after that moment comes within one interval of it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from bot.clash import ClashApi
from bot.errors import (
    ApiAccessDenied,
    ApiMaintenance,
    ApiRateLimited,
    ClanNotFound,
    UserFacingError,
)
from bot.poll_loop import ClanPoller
from bot.raids.parse import RaidPayloadError, parse_seasons
from bot.raids.store import write_answer
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.tracker.budget import Budget
from db import raids
from db.model import RaidWeekend

log = logging.getLogger(__name__)

# Seconds the API may serve a cached raid season (max-age).
CACHE_AGE = 60.0
# The game's raid weekends begin on Fridays (weekday 4) at 07:00 UTC.
WEEKEND_START = (4, 7)
# After a weekend's start, a clan whose answer does not show it yet is asked again
# within the cache age for this long.
FIRST_HOUR = timedelta(hours=1)


@dataclass
class RaidOptions:
    batch_size: int = 20
    concurrency: int = 8
    request_deadline: float = 15.0
    lease_seconds: float = 120.0
    retry_delay: float = 30.0
    # Between weekends a clan is read this many times less often (never past the
    # next Friday 07:00 UTC).
    idle_factor: float = 4.0
    idle_wait: float = 1.0
    # Weekends per request: the current or last one, and the one before.
    limit: int = 2


def next_weekend_start(at: datetime) -> datetime:
    """The first Friday 07:00 UTC after ``at``."""
    utc = at.astimezone(UTC)
    day, hour = WEEKEND_START
    start = utc.replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(
        days=(day - utc.weekday()) % 7
    )
    return start if start > utc else start + timedelta(days=7)


def next_delay(
    weekends: Sequence[RaidWeekend], at: datetime, interval: float, idle: float
) -> float:
    """Seconds until the clan's next read, after an answer read at ``at``."""
    running = [w for w in weekends if not w.ended]
    if running:
        # Read again as soon as the end is surely in the answers (their cache may
        # serve a reading from before it for CACHE_AGE), within the interval.
        settled = (min(w.end_time for w in running) - at).total_seconds() + CACHE_AGE + 5.0
        return min(interval, settled) if settled > 0 else interval
    coming = next_weekend_start(at)
    # A weekend began less than an hour ago and the answer does not show it yet (the
    # API's cache, or no raid yet): ask again as soon as the cache may have turned, so
    # the weekend's first hour is read too.
    began = coming - timedelta(days=7)
    if at - began < FIRST_HOUR:
        shown_by = (began - at).total_seconds() + CACHE_AGE + 5.0
        return min(interval, shown_by if shown_by > 0 else CACHE_AGE + 5.0)
    until_start = (coming - at).total_seconds() + 5.0
    return max(interval, min(interval * idle, until_start))


class RaidPoller(ClanPoller):
    name = "raid poller"

    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        options: RaidOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
        budget: Budget | None = None,
    ) -> None:
        self.options = options or RaidOptions()
        super().__init__(
            pool=pool,
            clash=clash,
            interval=budget.raids if budget is not None else settings.raid_interval_seconds,
            concurrency=self.options.concurrency,
            idle_wait=self.options.idle_wait,
            clock=clock,
        )

    async def step(self) -> int:
        async with self.pool.acquire() as con:
            if await self.paused(con):
                return 0
            due = await raids.lease(
                con, self.options.batch_size, self.options.lease_seconds, self.owner
            )
        if not due:
            return 0
        return await self.poll_leased(
            due, self._poll_clan, lambda con: raids.release(con, due, self.owner)
        )

    async def _poll_clan(self, clan_tag: str) -> None:
        delay, error = self.interval, None
        try:
            async with self._requests:
                body = await self.clash.get_raid_seasons(
                    clan_tag, limit=self.options.limit, deadline=self.options.request_deadline
                )
            at = self.clock()
            weekends = parse_seasons(body, clan_tag)
            async with self.pool.acquire() as con:
                posted = await write_answer(con, clan_tag, weekends, at)
            if posted:
                log.info("raid weekend of %s ended: summary queued", clan_tag)
            delay = next_delay(weekends, at, self.interval, self.options.idle_factor)
        except (ApiMaintenance, ApiRateLimited, ApiAccessDenied) as exc:
            error, delay = type(exc).__name__, min(self.interval, self.options.retry_delay)
        except ClanNotFound:
            error = "ClanNotFound"  # the clan tracker marks it gone
        except (UserFacingError, RaidPayloadError) as exc:
            error = f"{type(exc).__name__}: {exc}"[:200]
            delay = min(self.interval, self.options.retry_delay)
            log.warning("raid poll of %s failed: %s", clan_tag, error)
        async with self.pool.acquire() as con:
            await raids.polled(con, clan_tag, delay, error, self.owner)
