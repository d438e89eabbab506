"""The war poller: every tracked clan's current war (and CWL round wars), every attack kept.

The API keeps no per-member attacks once a war is over (the war log has only
results), so wars are read while they run: one ``/currentwar`` request per
tracked clan per WAR_INTERVAL_SECONDS. During the Clan War League (the first
days of a month) ``/currentwar`` says notInWar and the clan's league group
names the round wars; the clan's war of each round is found once (the group
is read at most as often as the API refreshes it, 10 minutes), then read by
its war tag on every poll until it is seen ended.

Friendly wars are not tracked: they count for nothing in the game.

A war seen ended is closed with its result; a war that ended between two
polls (the next war's preparation, or nothing, is seen first) is closed from
its last snapshot, marked so, and completed from the war log when it is
public.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.clash import ClashApi
from bot.errors import (
    ApiAccessDenied,
    ApiMaintenance,
    ApiRateLimited,
    ClanNotFound,
    UserFacingError,
    WarLogPrivate,
)
from bot.poll_loop import ClanPoller
from bot.settings import Settings
from bot.timeutil import utcnow
from bot.tracker.budget import Budget
from bot.wars import store
from bot.wars.parse import WarPayloadError, parse_war
from db import wars
from db.model import WarSnapshot

log = logging.getLogger(__name__)

# A round war the API no longer serves (404) is closed as it stands this long after its end.
CWL_CLOSE_AFTER = timedelta(hours=2)
# Seconds the API may serve a cached answer (max-age): /currentwar, and a league war.
CACHE_AGE = 120.0
LEAGUE_CACHE_AGE = 600.0


@dataclass
class WarOptions:
    batch_size: int = 20
    concurrency: int = 8
    request_deadline: float = 15.0
    # Longer than a clan's poll can take: a first league read is up to 29 requests.
    lease_seconds: float = 300.0
    retry_delay: float = 30.0
    # A clan whose war log is private is asked this many times less often.
    private_factor: float = 4.0
    # The API refreshes a league group and its round wars every 10 minutes.
    league_refresh: float = 600.0
    # The league runs in the first days of a month: the group is asked for then only.
    league_days: int = 12
    idle_wait: float = 1.0


class WarPoller(ClanPoller):
    name = "war poller"

    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        options: WarOptions | None = None,
        clock: Callable[[], datetime] = utcnow,
        budget: Budget | None = None,
    ) -> None:
        self.options = options or WarOptions()
        super().__init__(
            pool=pool,
            clash=clash,
            interval=budget.wars if budget is not None else settings.war_interval_seconds,
            concurrency=self.options.concurrency,
            idle_wait=self.options.idle_wait,
            clock=clock,
        )

    async def step(self) -> int:
        async with self.pool.acquire() as con:
            if await self.paused(con):
                return 0
            due = await wars.lease(
                con, self.options.batch_size, self.options.lease_seconds, self.owner
            )
        if not due:
            return 0
        tags = [r["clan_tag"] for r in due]
        return await self.poll_leased(
            due, self._poll_clan, lambda con: wars.release(con, tags, self.owner)
        )

    # -- one clan --------------------------------------------------------------------

    async def _poll_clan(self, row: asyncpg.Record) -> None:
        clan_tag = row["clan_tag"]
        private_since = row["private_since"]
        delay, error = self.interval, None
        try:
            # A clan war in preparation or battle: no league round runs. (A clan's last war
            # is answered warEnded for days, also during the league.)
            at_war = False
            try:
                async with self._requests:
                    body = await self.clash.get_current_war(
                        clan_tag, deadline=self.options.request_deadline
                    )
            except WarLogPrivate:
                # Nothing to read, but the leaders may open the log: asked less often. A
                # war that was open when the log closed ends unseen once its end passed.
                private_since = private_since or self.clock()
                delay = self.interval * self.options.private_factor
                await self._write(clan_tag, None, self.clock(), None)
            else:
                private_since = None
                at = self.clock()
                war = parse_war(body, clan_tag=clan_tag)
                at_war = war is not None and war.state != "warEnded"
                if war is not None and war.is_friendly:
                    # Friendly wars count for nothing in the game: not tracked. Seeing one
                    # still tells that no clan war runs.
                    war = None
                # A war that ended between two polls is completed from the war log before
                # it is closed, so that its war_end post carries the final result.
                log_entries = None
                if await self._ends_unseen(clan_tag, war, at):
                    log_entries = await self._war_log(clan_tag)
                await self._write(clan_tag, war, at, log_entries)
                delay = self._until_settled(war, at, delay)
            # League wars are public even when the war log is private. The open round
            # wars are read whatever /currentwar shows (a clan war may follow the last
            # round at once); the group, to find new rounds, in the league's days.
            delay = await self._poll_rounds(clan_tag, delay)
            if not at_war and self._league_time(self.clock(), row):
                await self._poll_league(clan_tag, self.clock())
        except (ApiMaintenance, ApiRateLimited, ApiAccessDenied) as exc:
            # The player tracker pauses every process on these; this clan is simply due
            # again soon.
            error, delay = type(exc).__name__, min(self.interval, self.options.retry_delay)
        except ClanNotFound:
            # The clan is gone (the clan tracker marks it so): no hurry to ask again.
            error = "ClanNotFound"
        except (UserFacingError, WarPayloadError) as exc:
            error, delay = (
                f"{type(exc).__name__}: {exc}"[:200],
                min(self.interval, self.options.retry_delay),
            )
            log.warning("war poll of %s failed: %s", clan_tag, error)
        async with self.pool.acquire() as con:
            await wars.polled(con, clan_tag, delay, private_since, error, self.owner)

    def _until_settled(self, war: WarSnapshot | None, at: datetime, delay: float) -> float:
        """Poll again as soon as a running war's end is surely in the API's answers (its
        cache may serve a reading from before the end for CACHE_AGE), so that its last
        attacks and its end are seen before the next war's preparation hides them."""
        if war is None or war.state == "warEnded":
            return delay
        settled = (war.end_time - at).total_seconds() + CACHE_AGE + 5.0
        return min(delay, settled) if settled > 0 else delay

    def _league_time(self, at: datetime, row: asyncpg.Record) -> bool:
        if at.day > self.options.league_days:
            return False
        read = row["league_read_at"]
        return read is None or (at - read).total_seconds() >= self.options.league_refresh

    @staticmethod
    def _ended_unseen(w: wars.OpenWar, war: WarSnapshot | None, at: datetime) -> bool:
        """Whether open clan war ``w`` ended between two polls: a war prepared after it was
        seen (an answer about an earlier war, from another cache, ends nothing), or no war
        once its end has passed (a war in progress is not replaced)."""
        if w.war_tag is not None:
            return False  # round wars are read by their war tag (_poll_rounds)
        if war is None:
            return w.end_time <= at
        return w.preparation_start < war.preparation_start

    async def _ends_unseen(self, clan_tag: str, war: WarSnapshot | None, at: datetime) -> bool:
        async with self.pool.acquire() as con:
            open_wars = await wars.open_wars(con, clan_tag)
        return any(self._ended_unseen(w, war, at) for w in open_wars)

    async def _write(
        self,
        clan_tag: str,
        war: WarSnapshot | None,
        at: datetime,
        log_entries: list[dict[str, Any]] | None,
    ) -> None:
        """Store a reading of the clan's war and close what ended."""
        async with self.pool.acquire() as con, con.transaction():
            if not await wars.still_polled(con, clan_tag):
                return  # untracked meanwhile: its open wars were closed then
            open_wars = await wars.open_wars(con, clan_tag)
            if war is not None:
                await store.save(con, war, at)
            for w in open_wars:
                if not self._ended_unseen(w, war, at):
                    continue
                if war is not None and w.end_time > war.preparation_start:
                    # A war never ends early: one replaced by a war prepared before its end
                    # was cancelled (or never was, an odd answer): nothing to post, nobody
                    # missed anything.
                    await store.close(con, w.id, clan_tag, at, "cancelled", post=False)
                    continue
                entry = await store.complete(con, w.id, log_entries)
                result = entry.get("result") if entry else None
                if not isinstance(result, str):
                    result = None
                await store.close(con, w.id, clan_tag, at, "unseen", result)

    async def _war_log(self, clan_tag: str) -> list[dict[str, Any]] | None:
        try:
            async with self._requests:
                return await self.clash.get_war_log(
                    clan_tag, deadline=self.options.request_deadline
                )
        except UserFacingError as exc:
            log.info("war log of %s not read (%s): totals from the last poll", clan_tag, exc)
            return None

    # -- the league ------------------------------------------------------------------

    async def _poll_rounds(self, clan_tag: str, delay: float) -> float:
        """Read each open round war of the clan by its war tag; return ``delay``, shortened
        to when a round's end surely shows (so that its last attacks are read). A round the
        API no longer serves is closed as it stands, well after its end."""
        async with self.pool.acquire() as con:
            rounds = [w for w in await wars.open_wars(con, clan_tag) if w.war_tag is not None]
        for w in rounds:
            assert w.war_tag is not None
            async with self._requests:
                body = await self.clash.get_league_war(
                    w.war_tag, deadline=self.options.request_deadline
                )
            at = self.clock()
            war = None
            if body is not None and clan_tag in _clan_tags(body):
                war = parse_war(
                    body,
                    clan_tag=clan_tag,
                    war_tag=w.war_tag,
                    league_season=w.league_season,
                    cwl_round=w.cwl_round,
                )
            async with self.pool.acquire() as con, con.transaction():
                if not await wars.still_polled(con, clan_tag):
                    return delay
                if war is not None:
                    await store.save(con, war, at)
                elif w.end_time + CWL_CLOSE_AFTER <= at:
                    await store.close(con, w.id, clan_tag, at, "unseen")
            if war is None or war.state != "warEnded":
                settled = (w.end_time - at).total_seconds() + LEAGUE_CACHE_AGE + 5.0
                if settled > 0:
                    delay = min(delay, settled)
        return delay

    async def _poll_league(self, clan_tag: str, at: datetime) -> None:
        """Find the clan's war of each round not known yet (the group names a round's wars,
        not which is the clan's)."""
        async with self._requests:
            group = await self.clash.get_league_group(
                clan_tag, deadline=self.options.request_deadline
            )
        season = group.get("season") if group else None
        async with self.pool.acquire() as con:
            await wars.league_read(con, clan_tag, season if isinstance(season, str) else None, at)
        if not group or not isinstance(season, str):
            return
        for number, round_ in enumerate(group.get("rounds") or (), start=1):
            listed = round_.get("warTags") if isinstance(round_, dict) else None
            tags = [t for t in listed or () if isinstance(t, str) and t != "#0"]
            if not tags:
                continue
            async with self.pool.acquire() as con:
                if await wars.cwl_round_war(con, clan_tag, season, number):
                    continue  # found before: read by its war tag while open
            for war_tag in tags:
                async with self._requests:
                    body = await self.clash.get_league_war(
                        war_tag, deadline=self.options.request_deadline
                    )
                if body is None or clan_tag not in _clan_tags(body):
                    continue
                war = parse_war(
                    body,
                    clan_tag=clan_tag,
                    war_tag=war_tag,
                    league_season=season,
                    cwl_round=number,
                )
                if war is not None:  # else found again on a later read
                    async with self.pool.acquire() as con, con.transaction():
                        if not await wars.still_polled(con, clan_tag):
                            return
                        await wars.save_cwl_round(con, clan_tag, season, number, war_tag)
                        await store.save(con, war, self.clock())
                break


def _clan_tags(body: dict[str, Any]) -> set[str]:
    return {
        side.get("tag")
        for side in (body.get("clan"), body.get("opponent"))
        if isinstance(side, dict) and isinstance(side.get("tag"), str)
    }
