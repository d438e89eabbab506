"""The board refresher: re-renders due boards and edits their messages when they changed.

Each cycle claims the boards whose refresh is due (a lease per board, so that
with several processes each board is refreshed by one), renders each from the
database, and compares the render's hash with the one its message shows:

- unchanged: no request to Discord (the whole cycle's unchanged boards are
  released in one statement);
- changed: the message is edited in place;
- no message yet, or its message was deleted: posted (once: the post carries a
  nonce made from the board and its post count, so a post resumed after a crash
  is answered with the message already made);
- its channel is gone or the bot can no longer see it: the board is turned off
  with the reason, shown by /board list.

A deleted message is usually known at once (the gateway's message delete
events, see cogs/board.py). A message deleted while no process was connected
is found by a fetch: each board is checked once by each process that starts,
then every ``verify_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import discord
from discord.http import Route

from bot import leaderboards
from bot.boards.render import board_payload, content_hash
from bot.periods import Period
from db import boards
from db.boards import BoardClaim

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

REFRESH_TASK = "board refresher"
DB_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)
UNKNOWN_MESSAGE = 10008
DELETED_MEMORY = 300.0  # seconds a delete event is remembered


class Outcome(Enum):
    UNCHANGED = "unchanged"  # nothing sent; released with the cycle's others
    DONE = "done"  # recorded, failed or turned off on its own
    SKIPPED = "skipped"  # not refreshed (the process is stopping): its lease is given back


class BoardRefresher:
    def __init__(
        self,
        bot: TrackerBot,
        *,
        batch: int = 100,
        concurrency: int = 8,
        lease_seconds: float = 120.0,
        verify_seconds: float = 3600.0,
        retry_base: float = 30.0,
        retry_max: float = 1800.0,
    ) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.verify_seconds = verify_seconds
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.holder = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stopping = False
        # Boards whose message this process has seen exist (or posted): the others are
        # fetched once, so a message deleted while no process was connected is found.
        self._seen: set[int] = set()
        # Messages the gateway said were deleted lately (monotonic time heard): a delete
        # heard while the post that made the message was being recorded is not lost.
        self._deleted: dict[int, float] = {}
        # Set at the end of each cycle, then replaced (callers wait for a whole cycle).
        self.cycle_done = asyncio.Event()

    @property
    def refresh_seconds(self) -> float:
        return self.bot.settings.board_refresh_seconds

    # -- lifecycle

    def start(self) -> None:
        self._stopping = False
        self.bot.supervisor.start(REFRESH_TASK, self.run)

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        await self.bot.supervisor.stop(REFRESH_TASK, timeout=grace)

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Refresh until stopped; a database outage is waited out here."""
        await self.bot.wait_until_ready()  # the permission checks read the guild cache
        delay = 1.0
        while not self._stopping:
            self._wake.clear()
            try:
                wait = await self.run_once()
                delay = 1.0
            except DB_TROUBLE as exc:
                log.warning("board refresher lost the database (%s)", type(exc).__name__)
                wait, delay = delay, min(delay * 2, 60.0)
            done, self.cycle_done = self.cycle_done, asyncio.Event()
            done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(wait, 0.05))

    async def run_once(self) -> float:
        """Refresh every due board; return seconds until the next one is due."""
        while not self._stopping:
            async with self.pool.acquire() as con:
                claims = await boards.claim(con, self.holder, self.lease_seconds, self.batch)
            if not claims:
                break
            renewer = asyncio.create_task(self._renew([c.id for c in claims]))
            try:
                outcomes = await asyncio.gather(*(self._guarded(c) for c in claims))
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            pairs = list(zip(claims, outcomes, strict=True))
            unchanged = [c.id for c, o in pairs if o is Outcome.UNCHANGED]
            skipped = [c.id for c, o in pairs if o is Outcome.SKIPPED]
            async with self.pool.acquire() as con:
                await boards.release(con, unchanged, self.holder, self.refresh_seconds)
                await boards.unlease(con, skipped, self.holder)
            if len(claims) < self.batch:
                break
        async with self.pool.acquire() as con:
            due = await boards.next_due(con)
        if due is None:
            return self.refresh_seconds
        return min(self.refresh_seconds, (due - self.bot.clock()).total_seconds())

    async def _renew(self, ids: list[int]) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            with contextlib.suppress(*DB_TROUBLE):
                async with self.pool.acquire() as con:
                    await boards.renew(con, ids, self.holder, self.lease_seconds)

    async def _guarded(self, board: BoardClaim) -> Outcome:
        async with self._limit:
            if self._stopping:
                return Outcome.SKIPPED
            return await self.refresh(board)

    # -- one board

    async def refresh(self, board: BoardClaim) -> Outcome:
        problem = self.access_problem(board)
        if problem is not None:
            await self._turn_off(board, problem)
            return Outcome.DONE
        async with self.pool.acquire() as con:
            data = await leaderboards.board(
                con, board.guild_id, board.stat, Period(board.period), self.bot.clock(), 0
            )
        payload = board_payload(board.stat, Period(board.period), data, self.refresh_seconds)
        digest = content_hash(payload)
        message_id, posts = board.message_id, board.posts
        checked: datetime | None = None
        try:
            if message_id is not None and digest == board.content_hash:
                if not self._needs_check(board):
                    return Outcome.UNCHANGED
                if await self._exists(board.channel_id, message_id):
                    checked = self.bot.clock()
                else:
                    message_id = None
            elif message_id is not None:
                if await self._edit(board.channel_id, message_id, payload):
                    checked = self.bot.clock()
                else:
                    message_id = None
            if message_id is None:
                posts += 1
                message = await self._post(board, payload, posts)
                message_id, checked = int(message["id"]), self.bot.clock()
        except (discord.Forbidden, discord.NotFound) as exc:
            await self._turn_off(board, refusal(exc, board.channel_id))
            return Outcome.DONE
        except discord.HTTPException as exc:
            await self._failed(board, exc, rejected=exc.status < 500 and exc.status != 429)
            return Outcome.DONE
        except TRANSIENT as exc:
            await self._failed(board, exc, rejected=False)
            return Outcome.DONE
        async with self.pool.acquire() as con:
            kept = await boards.record(
                con,
                board,
                self.holder,
                message_id=message_id,
                posts=posts,
                content_hash=digest,
                checked_at=checked,
                refresh_seconds=self.refresh_seconds,
            )
        if kept:
            self._seen.add(board.id)
        else:
            log.warning("board %s: lease lost during its refresh", board.id)
        if message_id in self._deleted:
            async with self.pool.acquire() as con:
                await boards.messages_gone(con, [message_id])
            self.wake()
        return Outcome.DONE

    async def messages_deleted(self, message_ids: list[int]) -> None:
        """The gateway says these messages were deleted: their boards post anew."""
        now = time.monotonic()
        self._deleted = {m: t for m, t in self._deleted.items() if now - t < DELETED_MEMORY}
        self._deleted.update(dict.fromkeys(message_ids, now))
        async with self.pool.acquire() as con:
            if await boards.messages_gone(con, message_ids):
                self.wake()

    def access_problem(self, board: BoardClaim) -> str | None:
        """Why the board cannot be kept, as the gateway's cache shows it (no request).

        None when the cache does not know the guild (not connected yet, or another
        shard's): Discord's answers decide then.
        """
        guild = self.bot.get_guild(board.guild_id)
        if guild is None or guild.unavailable or guild.me is None:
            return None
        channel = guild.get_channel(board.channel_id)
        if channel is None:
            return f"Its channel <#{board.channel_id}> was deleted, or I can no longer see it."
        perms = channel.permissions_for(guild.me)
        if not perms.view_channel:
            return f"I can no longer see <#{board.channel_id}> (missing View Channel)."
        missing = [
            name
            for attr, name in (("send_messages", "Send Messages"), ("embed_links", "Embed Links"))
            if not getattr(perms, attr)
        ]
        if missing:
            return f"I am missing {', '.join(missing)} in <#{board.channel_id}>."
        return None

    def _needs_check(self, board: BoardClaim) -> bool:
        if board.id not in self._seen:
            return True
        if board.checked_at is None:
            return True
        return self.bot.clock() - board.checked_at >= timedelta(seconds=self.verify_seconds)

    # -- Discord (the bot's own HTTP client: it keeps to the rate limits, no cache needed)

    async def _exists(self, channel_id: int, message_id: int) -> bool:
        route = Route(
            "GET",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        try:
            await self.bot.http.request(route)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_MESSAGE:
                return False
            raise
        return True

    async def _edit(self, channel_id: int, message_id: int, payload: dict[str, Any]) -> bool:
        """Edit the message; False if it was deleted."""
        route = Route(
            "PATCH",
            "/channels/{channel_id}/messages/{message_id}",
            channel_id=channel_id,
            message_id=message_id,
        )
        try:
            await self.bot.http.request(route, json=payload)
        except discord.NotFound as exc:
            if exc.code == UNKNOWN_MESSAGE:
                return False
            raise
        return True

    async def _post(self, board: BoardClaim, payload: dict[str, Any], posts: int) -> Any:
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=board.channel_id)
        body = {**payload, "nonce": f"board-{board.id}-{posts}", "enforce_nonce": True}
        if posts > 1:
            log.info("board %s: its message is gone; posting it again", board.id)
        return await self.bot.http.request(route, json=body)

    # -- outcomes

    async def _turn_off(self, board: BoardClaim, reason: str) -> None:
        async with self.pool.acquire() as con:
            if await boards.disable(con, board.id, reason):
                log.warning("board %s of guild %s turned off: %s", board.id, board.guild_id, reason)

    async def _failed(self, board: BoardClaim, exc: BaseException, *, rejected: bool) -> None:
        delay = min(self.retry_base * 2.0 ** min(board.failures, 16), self.retry_max)
        if rejected:
            # A request Discord will never accept (a bug of ours): said loudly, retried slowly.
            log.error("Discord rejected board %s (%r); retrying in %.0f s", board.id, exc, delay)
        else:
            log.warning("could not refresh board %s (%r); retrying in %.0f s", board.id, exc, delay)
        async with self.pool.acquire() as con:
            await boards.failed(con, board.id, self.holder, delay)


def refusal(exc: discord.HTTPException, channel_id: int) -> str:
    """Why Discord refused a board's channel, for /board list."""
    if isinstance(exc, discord.NotFound):
        return f"Its channel <#{channel_id}> was deleted (Discord: {exc.text or 'not found'})."
    return (
        f"Discord refused me in <#{channel_id}> ({exc.text or 'missing access'}): "
        "I can no longer see it or post there."
    )
