"""The season-end poster: one summary per guild with a feed, at each season end.

Exactly once per guild and season, also across restarts, downtime over the
boundary and several processes: the summary is claimed in the database first
(its primary key is the guild and the season's end, so one claim exists
whoever makes it and however late), taken under a lease by one process, posted
with a nonce made from the guild and the season, and marked sent. A process
that dies after the post leaves the claim unsent; the next one to take it posts
with the same nonce and Discord answers with the message already made (within
the minutes Discord remembers nonces).

A bot that was down over the boundary posts the summary when it is back, late
(up to SUMMARY_GRACE after the end). Discord remembers nonces for minutes only: a
retry after an answer that never came (a timeout, a 5xx: the message may have
been made) first looks for the summary in that channel's history. If the history
cannot be read, it tries again later and gives up after MAX_ATTEMPTS rather than
risk a second post.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.http import Route

from bot.cycles import CycleTask
from bot.season_end.summary import (
    SUMMARY_GRACE,
    TOP,
    next_due_at,
    season_due,
    season_games,
    summary_delay,
    summary_payload,
    summary_title,
)
from bot.tracker.engine import owner_id
from db import season_summaries
from db.season_summaries import Claim

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

SUMMARY_TASK = "season summaries"
LOOKBACK = timedelta(hours=1)
HISTORY_PAGES = 20  # of 100 messages: how far a retry looks for its first try
UNKNOWN = "unknown"  # the history could not tell whether a try landed
MAX_ATTEMPTS = 10  # then a summary that cannot be told posted or not is given up
TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)


def summary_nonce(guild_id: int, season_end: datetime) -> str:
    """At most 25 characters, as Discord allows, and the same on every try."""
    digest = hashlib.sha256(f"{guild_id}:{season_end.isoformat()}".encode()).hexdigest()
    return "season-" + digest[:18]


class SeasonSummaries(CycleTask):
    task_name = SUMMARY_TASK

    def __init__(
        self,
        bot: TrackerBot,
        *,
        poll_interval: float = 300.0,
        lease_seconds: float = 120.0,
        retry_base: float = 60.0,
        retry_max: float = 3600.0,
        delay: timedelta | None = None,
    ) -> None:
        """``delay``: after a season end (default: past the last raid reading)."""
        super().__init__(bot)
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.delay = delay or summary_delay(bot.settings.raid_interval_seconds)
        self.holder = owner_id()

    async def run_once(self) -> float:
        """Claim and post the latest season's summaries; seconds until the next look."""
        now = self.bot.clock()
        start, end = season_due(now, self.delay)
        async with self.pool.acquire() as con:
            if now - end - self.delay <= SUMMARY_GRACE:
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
        games = season_games(start, claim.season_end)
        async with self.pool.acquire() as con:
            leaders = await season_summaries.leaders(
                con, claim.guild_id, start, claim.season_end, games, TOP
            )
        if not any(leaders.values()):
            async with self.pool.acquire() as con:
                await season_summaries.skip(
                    con, claim, self.holder, "no tracked player has data for the season"
                )
            return
        if claim.unsure_channel is not None:
            found = await self._posted_already(claim, claim.unsure_channel)
            if found is UNKNOWN:
                if claim.attempts >= MAX_ATTEMPTS:
                    await self._skip(claim, "could not tell whether an earlier try was posted")
                else:
                    await self._retry(claim, RuntimeError("the channel's history is unreadable"))
                return
            if found is not None:
                async with self.pool.acquire() as con:
                    await season_summaries.sent(con, claim, self.holder, int(found))
                return
        payload: dict[str, Any] = {
            **summary_payload(start, claim.season_end, leaders, games),
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
            if exc.status == 429:
                await self._retry(claim, exc)  # refused before anything was made
            elif exc.status >= 500:
                await self._retry(claim, exc, unsure=True)
            else:
                log.error(
                    "Discord rejected the season summary of guild %s: %r", claim.guild_id, exc
                )
                await self._skip(claim, f"Discord rejected it: {exc.status} {exc.text}")
            return
        except TRANSIENT as exc:
            await self._retry(claim, exc, unsure=True)  # the message may have been made
            return
        async with self.pool.acquire() as con:
            await season_summaries.sent(con, claim, self.holder, int(message["id"]))
        log.info(
            "season summary posted for guild %s (season ending %s)",
            claim.guild_id,
            claim.season_end,
        )

    async def _posted_already(self, claim: Claim, channel_id: int) -> int | str | None:
        """The summary's message if an earlier try made it (its answer lost), None if
        not, UNKNOWN if the history could not be read to the end.

        The channel's history from well before the claim (the database's clock and
        Discord's may differ), page by page: a busy feed channel may hold many messages
        since.
        """
        route = Route("GET", "/channels/{channel_id}/messages", channel_id=channel_id)
        after = discord.utils.time_snowflake(claim.claimed_at - LOOKBACK)
        title = summary_title(claim.season_end)
        me = str(self.bot.user.id) if self.bot.user else None
        for _ in range(HISTORY_PAGES):
            try:
                page = await self.bot.http.request(route, params={"after": after, "limit": 100})
            except (discord.HTTPException, *TRANSIENT) as exc:
                log.info("could not look for guild %s's summary: %r", claim.guild_id, exc)
                return UNKNOWN
            for message in page:
                embeds = message.get("embeds") or []
                mine = str(message.get("author", {}).get("id")) == me
                if mine and embeds and embeds[0].get("title") == title:
                    return int(message["id"])
            if len(page) < 100:
                return None
            after = max(int(m["id"]) for m in page)
        return UNKNOWN

    async def _skip(self, claim: Claim, reason: str) -> None:
        log.warning("season summary of guild %s not posted: %s", claim.guild_id, reason)
        async with self.pool.acquire() as con:
            await season_summaries.skip(con, claim, self.holder, reason)

    async def _retry(self, claim: Claim, exc: BaseException, *, unsure: bool = False) -> None:
        delay = min(self.retry_base * 2.0 ** min(claim.attempts - 1, 16), self.retry_max)
        log.warning(
            "season summary of guild %s not posted yet (%r); retrying in %.0f s",
            claim.guild_id,
            exc,
            delay,
        )
        async with self.pool.acquire() as con:
            await season_summaries.retry_at(
                con, claim, self.holder, delay, claim.channel_id if unsure else None
            )
