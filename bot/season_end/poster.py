"""The season-end poster: one summary per guild with a feed, at each season end.

Exactly once per guild and season, also across restarts, downtime over the
boundary and several processes: the summary is claimed in the database first
(its primary key is the guild and the season's end, so one claim exists
whoever makes it and however late), taken under a lease by one process, posted
with a nonce made from the guild and the season, and marked sent. A process
that dies after the post leaves the claim unsent; the next one to take it posts
with the same nonce and Discord answers with the message already made (within
the minutes Discord remembers nonces).

A bot that was down over the boundary posts the summary when it is back, late,
while that season is still the latest one ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import discord
from discord.http import Route

from bot.clangames.credit import month_of
from bot.season_end.summary import SUMMARY_DELAY, TOP, next_due_at, season_due, summary_payload
from db import season_summaries
from db.season_summaries import Claim

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

SUMMARY_TASK = "season summaries"
DB_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)


def summary_nonce(guild_id: int, season_end: datetime) -> str:
    """At most 25 characters, as Discord allows, and the same on every try."""
    digest = hashlib.sha256(f"{guild_id}:{season_end.isoformat()}".encode()).hexdigest()
    return "season-" + digest[:18]


class SeasonSummaries:
    def __init__(
        self,
        bot: TrackerBot,
        *,
        poll_interval: float = 300.0,
        lease_seconds: float = 120.0,
        retry_base: float = 60.0,
        retry_max: float = 3600.0,
        delay: timedelta = SUMMARY_DELAY,
    ) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.delay = delay
        self.holder = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._stopping = False
        # Set at the end of each cycle, then replaced (callers wait for a whole cycle).
        self.cycle_done = asyncio.Event()

    def start(self) -> None:
        self._stopping = False
        self.bot.supervisor.start(SUMMARY_TASK, self.run)

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        await self.bot.supervisor.stop(SUMMARY_TASK, timeout=grace)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        delay = 1.0
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self.run_once()
                delay = 1.0
            except DB_TROUBLE as exc:
                log.warning("season summaries lost the database (%s)", type(exc).__name__)
                wait, delay = delay, min(delay * 2, 60.0)
            done, self.cycle_done = self.cycle_done, asyncio.Event()
            done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))

    async def run_once(self) -> float:
        """Claim and post the latest season's summaries; seconds until the next look."""
        now = self.bot.clock()
        start, end = season_due(now, self.delay)
        async with self.pool.acquire() as con:
            for guild in await season_summaries.owed(con, end):
                await season_summaries.claim(con, guild["guild_id"], end, guild["channel_id"])
        while not self._stopping:
            async with self.pool.acquire() as con:
                claims = await season_summaries.take_unsent(
                    con, end, self.holder, self.lease_seconds, 20
                )
            for claim in claims:
                await self.post(claim, start)
            if len(claims) < 20:
                break
        following = (next_due_at(now, self.delay) - self.bot.clock()).total_seconds()
        return min(self.poll_interval, following)

    async def post(self, claim: Claim, start: datetime) -> None:
        now = self.bot.clock()
        async with self.pool.acquire() as con:
            leaders = await season_summaries.leaders(
                con, claim.guild_id, start, claim.season_end, month_of(claim.season_end), TOP
            )
        if not any(leaders.values()):
            async with self.pool.acquire() as con:
                await season_summaries.skip(
                    con, claim, self.holder, "no tracked player has data for the season"
                )
            return
        payload: dict[str, Any] = {
            **summary_payload(start, claim.season_end, leaders, now),
            "nonce": summary_nonce(claim.guild_id, claim.season_end),
            "enforce_nonce": True,
        }
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=claim.channel_id)
        try:
            message = await self.bot.http.request(route, json=payload)
        except (discord.Forbidden, discord.NotFound) as exc:
            await self._skip(claim, f"Discord refused the channel: {exc.status} {exc.text}")
            return
        except discord.HTTPException as exc:
            if exc.status >= 500 or exc.status == 429:
                await self._retry(claim, exc)
            else:
                log.error(
                    "Discord rejected the season summary of guild %s: %r", claim.guild_id, exc
                )
                await self._skip(claim, f"Discord rejected it: {exc.status} {exc.text}")
            return
        except TRANSIENT as exc:
            await self._retry(claim, exc)
            return
        async with self.pool.acquire() as con:
            await season_summaries.sent(con, claim, self.holder, int(message["id"]))
        log.info(
            "season summary posted for guild %s (season ending %s)",
            claim.guild_id,
            claim.season_end,
        )

    async def _skip(self, claim: Claim, reason: str) -> None:
        log.warning("season summary of guild %s not posted: %s", claim.guild_id, reason)
        async with self.pool.acquire() as con:
            await season_summaries.skip(con, claim, self.holder, reason)

    async def _retry(self, claim: Claim, exc: BaseException) -> None:
        delay = min(self.retry_base * 2.0 ** min(claim.attempts - 1, 16), self.retry_max)
        log.warning(
            "season summary of guild %s not posted yet (%r); retrying in %.0f s",
            claim.guild_id,
            exc,
            delay,
        )
        async with self.pool.acquire() as con:
            await season_summaries.retry_at(con, claim, self.holder, delay)
