"""The tracker's scheduler: lease due work, poll the API, write in batches.

Not coc.py's EventsClient (NOTES.md): due times live in the database, so a
restart loses nothing and several processes share the work through leases.
Nothing per player is kept in memory between batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from bot.clash import ClashApi
from bot.errors import (
    ApiAccessDenied,
    ApiMaintenance,
    ApiRateLimited,
    ApiUnavailable,
    ClanNotFound,
    PlayerNotFound,
    UserFacingError,
)
from bot.profile import PlayerProfile
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.tracker.diff import Event
from bot.tracker.observe import Observation, record_clan, record_events, record_players
from db import tracker as sql
from db.errors import is_unavailable

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class TrackerOptions:
    batch_size: int = 500
    clan_batch_size: int = 20
    # A request is given up (and retried later) after this long.
    request_deadline: float = 15.0
    maintenance_pause: float = 30.0
    denied_pause: float = 120.0
    rate_limit_backoff: float = 5.0
    max_backoff: float = 300.0
    retry_delay: float = 30.0
    gone_after: int = 3
    # Players tracked only through a clan: full profile every N intervals.
    clan_member_factor: float = 6.0
    idle_wait: float = 1.0


@dataclass
class SweepStats:
    started: datetime | None = None
    players: int = 0
    latency_total: float = 0.0
    requests: int = 0


@dataclass
class _Outcome:
    ok: list[Observation] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    retry: dict[str, str] = field(default_factory=dict)
    pause: tuple[float, str] | None = None
    paused_tags: list[str] = field(default_factory=list)
    rate_limited: bool = False


class Tracker:
    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        options: TrackerOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        # Observation times come from here (tests move it across a season end).
        self.clock = clock
        self.pool = pool
        self.clash = clash
        self.options = options or TrackerOptions()
        self.interval = settings.track_interval_seconds
        self._requests = asyncio.Semaphore(settings.tracker_concurrency)
        self._sweep = SweepStats()
        self._rate_limits = 0
        self._answered = 0  # requests the API answered (a 404 is an answer)
        self.last_beat = time.monotonic()
        # Set by run()'s stop: requests still in flight are then abandoned.
        self._stopping = asyncio.Event()

    @property
    def lease_seconds(self) -> float:
        # Long enough for a batch's requests and a database hiccup; a crashed
        # process's leases expire after this and the work is picked up again.
        return max(60.0, 2 * self.options.request_deadline)

    def healthy(self) -> bool:
        return time.monotonic() - self.last_beat < 60.0

    # -- the loop --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set.

        On stop, requests still in flight are abandoned (their players are
        released, still due); what was already answered is written whole.
        """
        log.info("tracker started (interval %.1f s)", self.interval)
        self._stopping = stop
        failures = 0
        while not stop.is_set():
            self.last_beat = time.monotonic()
            try:
                worked = await self.step()
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
                await _wait(stop, wait)
                continue
            if not worked:
                await _wait(stop, await self._idle_wait())
        log.info("tracker stopped")

    async def run_once(self) -> int:
        """Poll everything due now, until nothing is due (tests, one-shot runs)."""
        total = 0
        while worked := await self.step():
            total += worked
        return total

    async def _idle_wait(self) -> float:
        async with self.pool.acquire() as con:
            wait = await sql.seconds_to_next_due(con)
        if wait is None:
            return self.options.idle_wait
        return min(self.options.idle_wait, max(0.02, wait))

    async def step(self) -> int:
        """One batch of clans and players. Returns how many were polled."""
        async with self.pool.acquire() as con:
            state = await sql.status(con)
            probing = False
            if state["pause_reason"] is not None:
                if state["paused_until"] is not None and state["paused_until"] > state["now"]:
                    return 0
                probing = True  # pause over: one request tells whether the API is back
            limit = 1 if probing else self.options.batch_size
            clans = await sql.lease_clans(
                con, 1 if probing else self.options.clan_batch_size, self.lease_seconds
            )
            tags = (
                [] if probing and clans else await sql.lease_players(con, limit, self.lease_seconds)
            )
        if not clans and not tags:
            await self._end_sweep()
            return 0
        if self._sweep.started is None:
            self._sweep = SweepStats(started=utcnow())
        answered = self._answered
        polled = await self._poll_clans(clans) + await self._poll_players(tags)
        if probing and self._answered > answered:
            async with self.pool.acquire() as con:
                if await sql.unpause(con):
                    log.info("tracker resumed: the API answers again")
        self._sweep.players += polled
        # Work was done even if every request failed: the caller should look again.
        return max(polled, 1)

    async def _end_sweep(self) -> None:
        sweep = self._sweep
        if sweep.started is None:
            return
        self._sweep = SweepStats()
        latency = sweep.latency_total / sweep.requests * 1000 if sweep.requests else None
        async with self.pool.acquire() as con:
            await sql.record_sweep(con, sweep.started, utcnow(), sweep.players, latency)
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

    def _classify(self, tag: str, exc: BaseException, outcome: _Outcome) -> None:
        if isinstance(exc, PlayerNotFound | ClanNotFound):
            outcome.missing.append(tag)
        elif isinstance(exc, ApiMaintenance):
            outcome.pause = (self.options.maintenance_pause, "API maintenance")
            outcome.paused_tags.append(tag)
        elif isinstance(exc, ApiRateLimited):
            # One back-off step per batch that met 429s, not per request: a batch
            # of 500 would otherwise jump straight to max_backoff on one burst.
            if not outcome.rate_limited:
                outcome.rate_limited = True
                self._rate_limits += 1
            wait = min(
                self.options.max_backoff,
                self.options.rate_limit_backoff * 2 ** (self._rate_limits - 1),
            )
            if outcome.pause is None or outcome.pause[1] != "API maintenance":
                outcome.pause = (wait, "rate limited by the API (429)")
            outcome.paused_tags.append(tag)
        elif isinstance(exc, ApiAccessDenied):
            outcome.pause = (self.options.denied_pause, f"API key refused ({exc.reason})")
            outcome.paused_tags.append(tag)
        elif isinstance(exc, UserFacingError):  # unreachable, 5xx after retries, bad body
            outcome.retry[tag] = type(exc).__name__ + (
                f": {exc.detail}" if isinstance(exc, ApiUnavailable) and exc.detail else ""
            )
        else:
            log.error("tracker: unexpected error polling %s", tag, exc_info=exc)
            outcome.retry[tag] = type(exc).__name__

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
                return tag, PlayerProfile.from_api(raw), self.clock()
            except Exception as exc:
                return tag, exc, self.clock()

        outcome = _Outcome()
        results = await self._until_stopped([one(t) for t in tags])
        released = [t for t, r in zip(tags, results, strict=True) if r is None]
        for tag, result, at in (r for r in results if r is not None):
            if isinstance(result, PlayerProfile):
                outcome.ok.append(Observation(result, at))
            else:
                self._classify(tag, result, outcome)
        self._answered += len(outcome.ok) + len(outcome.missing)
        if outcome.ok:
            self._rate_limits = 0

        async def write(con: asyncpg.Connection) -> None:
            if outcome.ok:
                await record_players(con, outcome.ok)
                await sql.players_polled(
                    con,
                    [o.profile.tag for o in outcome.ok],
                    self.interval,
                    self.options.clan_member_factor,
                )
            if outcome.missing:
                gone = await sql.players_missed(
                    con, outcome.missing, self.interval, self.options.gone_after
                )
                if gone:
                    log.info("tracker: %d player(s) no longer exist: %s", len(gone), gone)
                    await record_events(con, [Event(t, self.clock(), "gone") for t in gone])
            for reason in set(outcome.retry.values()):
                retry = [t for t, r in outcome.retry.items() if r == reason]
                await sql.players_retry(
                    con, retry, min(self.interval, self.options.retry_delay), reason
                )
            if outcome.pause is not None:
                await sql.release(con, outcome.paused_tags, [])
                await sql.pause(con, *outcome.pause)
            # Cut off by a stop: still due, so the next start polls them at once.
            await sql.release(con, released, [])

        await self._write(write)
        if outcome.pause is not None:
            log.warning("tracker paused for %.0f s: %s", *outcome.pause)
        _log_retries(
            "player", outcome.retry, len(tags), min(self.interval, self.options.retry_delay)
        )
        return len(outcome.ok)

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

        results = await self._until_stopped([one(c["clan_tag"]) for c in clans])
        released = [c["clan_tag"] for c, r in zip(clans, results, strict=True) if r is None]
        previous = {c["clan_tag"]: list(c["members"]) for c in clans}
        polled = 0
        outcome = _Outcome()
        for clan_tag, result, at in (r for r in results if r is not None):
            if isinstance(result, dict):
                data = result

                async def write(
                    con: asyncpg.Connection, tag: str = clan_tag, d: dict = data, t: datetime = at
                ) -> None:
                    await record_clan(con, tag, d, previous[tag], t, self.interval)

                await self._write(write)
                polled += 1
                self._answered += 1
            else:
                self._classify(clan_tag, result, outcome)

        async def write_faults(con: asyncpg.Connection) -> None:
            for clan_tag in outcome.missing:
                await sql.clan_missed(
                    con, clan_tag, "notFound", self.interval, self.options.gone_after
                )
            for clan_tag, reason in outcome.retry.items():
                await sql.clan_missed(
                    con,
                    clan_tag,
                    reason,
                    min(self.interval, self.options.retry_delay),
                    self.options.gone_after,
                )
            if outcome.pause is not None:
                await sql.release(con, [], outcome.paused_tags)
                await sql.pause(con, *outcome.pause)
            await sql.release(con, [], released)

        self._answered += len(outcome.missing)
        if outcome.missing or outcome.retry or outcome.pause or released:
            await self._write(write_faults)
        if outcome.pause is not None:
            log.warning("tracker paused for %.0f s: %s", *outcome.pause)
        _log_retries(
            "clan", outcome.retry, len(clans), min(self.interval, self.options.retry_delay)
        )
        return polled

    async def _until_stopped(self, requests: Sequence[Awaitable[T]]) -> list[T | None]:
        """The requests' results; once stop is set, those still in flight are cancelled (None).

        A stop must not wait for a batch of slow requests (500 at the API's pace
        take longer than a container's stop grace): what was answered is still
        written in one transaction, the rest is released and polled again.
        """
        tasks = [asyncio.ensure_future(r) for r in requests]
        # return_exceptions: a cancelled request must not leave the gather holding
        # an exception nobody retrieves (asyncio logs those with a traceback).
        batch = asyncio.gather(*tasks, return_exceptions=True)
        stopper = asyncio.ensure_future(self._stopping.wait())
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

    async def _write(self, write: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        """Run ``write`` in one transaction; on a database outage keep it and retry.

        The observations stay in memory until written; if the process stops
        first, their leases expire and the players are simply polled again.
        """
        attempt = 0
        while True:
            try:
                async with self.pool.acquire() as con, con.transaction():
                    await write(con)
                return
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                if self._stopping.is_set():
                    # Retrying forever here kept a stopping process alive while
                    # the database was down; the batch is dropped whole instead.
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
                await _wait(self._stopping, wait)


def _log_retries(kind: str, retry: dict[str, str], batch: int, delay: float) -> None:
    """One line per batch for requests that failed and are retried (timeouts, 5xx,
    unreadable bodies): without it an API outage left no trace in the log."""
    if retry:
        log.warning(
            "tracker: %d of %d %s request(s) failed (%s); retrying in %.1f s",
            len(retry),
            batch,
            kind,
            ", ".join(sorted(set(retry.values()))),
            delay,
        )


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
