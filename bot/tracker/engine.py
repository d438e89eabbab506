"""The tracker's scheduler: lease due work, poll the API, write in batches.

Not coc.py's EventsClient (which keeps every player in memory, has no
persistence and polls one task per tag): due times live in the database, so
a restart loses nothing and several processes share the work through
leases. Nothing per player is kept in memory between batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from bot.clangames.credit import in_games_week
from bot.clash import ClashApi
from bot.profile import parse_player
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.tracker.batches import until_stopped, wait_or_stop, write_or_wait
from bot.tracker.budget import Budget
from bot.tracker.faults import Backoff, BatchFaults
from bot.tracker.observe import ProfileReading, record_clan, record_events, record_players
from db import clan_membership, schedule, tracker_status
from db.errors import is_unavailable
from db.model import Event

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class TrackerOptions:
    batch_size: int = 500
    # Clans go first: enough a step that every clan keeps its interval while the step
    # also reads its batch of players (20 a step fell behind 2,000 clans at 120 s).
    clan_batch_size: int = 100
    # A request is given up (and retried later) after this long.
    request_deadline: float = 15.0
    maintenance_pause: float = 30.0
    denied_pause: float = 120.0
    rate_limit_backoff: float = 5.0
    max_backoff: float = 300.0
    retry_delay: float = 30.0
    gone_after: int = 3
    # Players tracked only through a clan: full profile every N intervals, and every M
    # during the clan games (only full profiles carry the clan games achievement).
    clan_member_factor: float = 6.0
    games_member_factor: float = 2.0
    idle_wait: float = 1.0
    # How long a lease lasts without renewal: a crashed process's rows are
    # picked up again after this. A working process renews every third of it.
    lease_seconds: float = 60.0


@dataclass
class SweepStats:
    started: datetime | None = None
    players: int = 0
    latency_total: float = 0.0
    requests: int = 0


def owner_id() -> str:
    """A poller's name on its leases: host, process, and a random part."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Tracker:
    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        options: TrackerOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
        budget: Budget | None = None,
    ) -> None:
        self.settings = settings
        # ProfileReading times come from here (tests move it across a season end).
        self.clock = clock
        self.pool = pool
        self.clash = clash
        self.options = options or TrackerOptions()
        # The intervals in force: the settings', stretched by the budget planner's plan.
        self.budget = budget or Budget.fixed(settings, self.options.clan_member_factor)
        self.owner = owner_id()
        self._requests = asyncio.Semaphore(settings.tracker_concurrency)
        self._sweep = SweepStats()
        self._backoff = Backoff(self.options.rate_limit_backoff, self.options.max_backoff)
        self._answered = 0  # requests the API answered (a 404 is an answer)
        self.last_beat = time.monotonic()
        # Set by run()'s stop: requests still in flight are then abandoned.
        self._stopping = asyncio.Event()

    def healthy(self) -> bool:
        return time.monotonic() - self.last_beat < 60.0

    @property
    def interval(self) -> float:
        """Seconds between two full profiles of a player tracked on their own."""
        return self.budget.players()

    @property
    def clan_interval(self) -> float:
        return self.budget.clans()

    def member_factor(self) -> float:
        """Full profiles of players tracked only through a clan: every this many
        intervals (more often during the clan games, which only profiles show)."""
        if in_games_week(self.clock()):
            return min(self.options.clan_member_factor, self.options.games_member_factor)
        return self.options.clan_member_factor

    def _faults(self) -> BatchFaults:
        o = self.options
        return BatchFaults(o.maintenance_pause, o.denied_pause, self._backoff)

    @property
    def retry_delay(self) -> float:
        return min(self.interval, self.options.retry_delay)

    # -- the loop --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set.

        On stop, requests still in flight are abandoned (their players are
        released, still due); what was already answered is written whole.
        Errors are retried with a back-off here; a bug that escapes ends the
        run, and the supervisor restarts it.
        """
        log.info("tracker started (interval %.1f s)", self.interval)
        self._stopping = stop
        failures = 0
        while not stop.is_set():
            self.last_beat = time.monotonic()
            try:
                worked = await self.step()
                if not worked:
                    await wait_or_stop(stop, await self._idle_wait())
                failures = 0
            except Exception as exc:
                failures += 1
                wait = min(30.0, 0.5 * 2**failures)
                if is_unavailable(exc):
                    log.warning(
                        "tracker: database unavailable (%s); retrying in %.1f s",
                        type(exc).__name__,
                        wait,
                    )
                else:
                    log.exception("tracker step failed; retrying in %.1f s", wait)
                await wait_or_stop(stop, wait)
        log.info("tracker stopped")

    async def run_once(self) -> int:
        """Poll everything due now, until nothing is due (tests, one-shot runs)."""
        total = 0
        while worked := await self.step():
            total += worked
        return total

    async def _idle_wait(self) -> float:
        async with self.pool.acquire() as con:
            wait = await schedule.seconds_to_next_due(con)
        if wait is None:
            return self.options.idle_wait
        return min(self.options.idle_wait, max(0.02, wait))

    async def step(self) -> int:
        """One batch of clans and players. Returns how many were polled (at least 1
        if anything was leased: the caller should look again)."""
        lease = self.options.lease_seconds
        async with self.pool.acquire() as con:
            state = await tracker_status.status(con)
            probing = False
            if state["pause_reason"] is not None:
                if state["paused_until"] is not None and state["paused_until"] > state["now"]:
                    return 0
                probing = True  # pause over: one request tells whether the API is back
            clan_limit = 1 if probing else self.options.clan_batch_size
            clans = await schedule.lease_clans(con, clan_limit, lease, self.owner)
            tags: list[str] = []
            if not (probing and clans):
                limit = 1 if probing else self.options.batch_size
                tags = await schedule.lease_players(con, limit, lease, self.owner)
        if not clans and not tags:
            await self._end_sweep()
            return 0
        if self._sweep.started is None:
            self._sweep = SweepStats(started=utcnow())
        answered = self._answered
        clan_tags = [c["clan_tag"] for c in clans]
        try:
            async with self._keeping_leases(tags, clan_tags):
                polled = await self._poll_clans(clans) + await self._poll_players(tags)
        except BaseException:
            # A bug or a stop mid-batch: give the batch back now rather than leave it
            # leased until the lease expires (what was written is written).
            with contextlib.suppress(Exception):
                async with self.pool.acquire() as con:
                    await schedule.release(con, tags, clan_tags, self.owner)
            raise
        if probing and self._answered > answered:
            async with self.pool.acquire() as con:
                if await tracker_status.unpause(con):
                    log.info("tracker resumed: the API answers again")
        self._sweep.players += polled
        return max(polled, 1)

    @contextlib.asynccontextmanager
    async def _keeping_leases(self, tags: list[str], clans: list[str]) -> AsyncIterator[None]:
        """Renew the batch's leases while it is in flight, so a slow batch (the API's
        pace, a database hiccup) never lets another process take them."""

        async def renew() -> None:
            lease = self.options.lease_seconds
            while True:
                await asyncio.sleep(lease / 3)
                try:
                    async with self.pool.acquire() as con:
                        await schedule.renew(con, self.owner, tags, clans, lease)
                except Exception as exc:  # the next renewal tries again
                    log.warning("tracker: could not renew leases: %s", type(exc).__name__)

        renewer = asyncio.create_task(renew(), name="tracker-lease-renewal")
        try:
            yield
        finally:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    async def _end_sweep(self) -> None:
        sweep = self._sweep
        if sweep.started is None:
            return
        self._sweep = SweepStats()
        latency = sweep.latency_total / sweep.requests * 1000 if sweep.requests else None
        async with self.pool.acquire() as con:
            await tracker_status.record_sweep(con, sweep.started, utcnow(), sweep.players, latency)
        log.info("sweep done: %d polled", sweep.players)

    # -- requests --------------------------------------------------------------------

    async def _fetch(self, fetch: Callable[[], Awaitable[T]]) -> T:
        async with self._requests:
            start = time.perf_counter()
            try:
                return await fetch()
            finally:
                self._sweep.latency_total += time.perf_counter() - start
                self._sweep.requests += 1

    async def _poll_players(self, tags: list[str]) -> int:
        if not tags:
            return 0

        async def one(tag: str) -> tuple[str, Any, datetime]:
            try:
                raw = await self._fetch(
                    lambda: self.clash.get_player(
                        tag, fresh=True, deadline=self.options.request_deadline
                    )
                )
                return tag, parse_player(raw), self.clock()
            except Exception as exc:
                return tag, exc, self.clock()

        faults = self._faults()
        readings: list[ProfileReading] = []
        results = await until_stopped(self._stopping, [one(t) for t in tags])
        released = [t for t, r in zip(tags, results, strict=True) if r is None]
        for tag, result, at in (r for r in results if r is not None):
            if isinstance(result, BaseException):
                faults.add(tag, result)
            else:
                readings.append(ProfileReading(result, at))
        self._answered += len(readings) + len(faults.missing)
        if readings:
            self._backoff.reset()

        async def write(con: asyncpg.Connection) -> None:
            if readings:
                await record_players(con, readings, games_max=self.settings.clan_games_max)
                await schedule.players_polled(
                    con,
                    [r.profile.tag for r in readings],
                    self.interval,
                    self.member_factor(),
                    self.owner,
                )
            if faults.missing:
                gone = await schedule.players_missed(
                    con, faults.missing, self.interval, self.options.gone_after, self.owner
                )
                if gone:
                    log.info("tracker: %d player(s) no longer exist: %s", len(gone), gone)
                    await record_events(con, [Event(t, self.clock(), "gone") for t in gone])
            for reason, retry in faults.retries_by_reason().items():
                await schedule.players_retry(con, retry, self.retry_delay, reason, self.owner)
            if faults.pause is not None:
                await tracker_status.pause(con, *faults.pause)
            # Paused, or cut off by a stop: still due, polled at once when work resumes.
            await schedule.release(con, [*faults.paused, *released], [], self.owner)

        await write_or_wait(self.pool, self._stopping, write)
        faults.log_pause()
        faults.log_retries("player", len(tags), self.retry_delay)
        return len(readings)

    async def _poll_clans(self, clans: list[asyncpg.Record]) -> int:
        if not clans:
            return 0

        async def one(clan_tag: str) -> tuple[str, Any, datetime]:
            try:
                raw = await self._fetch(
                    lambda: self.clash.get_clan(
                        clan_tag, fresh=True, deadline=self.options.request_deadline
                    )
                )
                return clan_tag, raw, self.clock()
            except Exception as exc:
                return clan_tag, exc, self.clock()

        faults = self._faults()
        results = await until_stopped(self._stopping, [one(c["clan_tag"]) for c in clans])
        released = [c["clan_tag"] for c, r in zip(clans, results, strict=True) if r is None]
        polled = 0
        for clan_tag, result, at in (r for r in results if r is not None):
            if isinstance(result, BaseException):
                faults.add(clan_tag, result)
                continue

            async def write(
                con: asyncpg.Connection, tag: str = clan_tag, d: dict = result, t: datetime = at
            ) -> None:
                await record_clan(con, tag, d, t)
                await clan_membership.clan_polled(con, tag, self.clan_interval, self.owner)

            await write_or_wait(self.pool, self._stopping, write)
            polled += 1
            self._answered += 1

        async def write_faults(con: asyncpg.Connection) -> None:
            for clan_tag in faults.missing:
                await schedule.clan_missed(
                    con, clan_tag, self.clan_interval, self.options.gone_after, self.owner
                )
            for clan_tag, reason in faults.retry.items():
                await schedule.clan_retry(con, clan_tag, reason, self.retry_delay, self.owner)
            if faults.pause is not None:
                await tracker_status.pause(con, *faults.pause)
            await schedule.release(con, [], [*faults.paused, *released], self.owner)

        self._answered += len(faults.missing)
        if faults.missing or faults.retry or faults.pause or released:
            await write_or_wait(self.pool, self._stopping, write_faults)
        faults.log_pause()
        faults.log_retries("clan", len(clans), self.retry_delay)
        return polled
