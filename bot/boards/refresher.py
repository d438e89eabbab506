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
- the bot can no longer see its channel or post there: the board is turned off
  with the reason, shown by /board list; a channel deleted takes its boards along.

Whatever makes a refresh in flight stale (the period changed, the message seen
deleted) raises the board's revision, and the refresh's outcome then leaves the
board due at once (db/boards.py).

A deleted message is usually known at once (the gateway's message delete
events, see cogs/board.py). A message deleted while no process heard it is
found by a fetch: each board's message is checked once after each new gateway
session (a start, or a reconnect that could not resume and so replays no
events), and besides once a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot import leaderboards
from bot.boards import messages
from bot.boards.render import board_payload, content_hash
from bot.cycles import CycleTask, lost_database
from bot.periods import Period
from bot.tracker.engine import owner_id
from db import boards
from db.boards import BoardClaim
from db.errors import DB_TROUBLE

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

REFRESH_TASK = "board refresher"
TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)
DELETED_MEMORY = 300.0  # seconds a delete event is remembered
CHANNEL_GONE = "the channel was deleted"
RECORD_TRIES = 3
CHANNELS_MAX_AGE = 10.0  # seconds the set of board channels is trusted


class Outcome(Enum):
    UNCHANGED = "unchanged"  # nothing sent; released with the cycle's others
    DONE = "done"  # recorded, failed or turned off on its own
    SKIPPED = "skipped"  # not refreshed (stopping, or its render failed): lease given back


class BoardRefresher(CycleTask):
    task_name = REFRESH_TASK

    def __init__(
        self,
        bot: TrackerBot,
        *,
        batch: int = 100,
        concurrency: int = 8,
        lease_seconds: float = 120.0,
        verify_seconds: float = 86_400.0,
        retry_base: float = 30.0,
        retry_max: float = 1800.0,
    ) -> None:
        super().__init__(bot)
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.verify_seconds = verify_seconds
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.holder = owner_id()
        self._limit = asyncio.Semaphore(concurrency)
        # Boards whose message this process has seen exist (or posted) since its gateway
        # session began: the others are fetched once, so a deletion nobody heard is found.
        self._seen: set[int] = set()
        # Messages the gateway said were deleted lately (monotonic time heard): a delete
        # heard while the post that made the message was being recorded is not lost.
        self._deleted: dict[int, float] = {}
        # Channels holding a board (and when read): delete events elsewhere cost nothing.
        self._channels: set[int] = set()
        self._channels_at = -CHANNELS_MAX_AGE
        self._added: dict[int, float] = {}  # channels given a board here lately

    @property
    def refresh_seconds(self) -> float:
        return self.bot.settings.board_refresh_seconds

    async def before_cycles(self) -> None:
        await self.bot.wait_until_ready()  # the permission checks read the guild cache

    async def run_once(self) -> float:
        """Refresh every due board; return seconds until one can next be claimed."""
        while not self._stopping:
            async with self.pool.acquire() as con:
                claims = await boards.claim(con, self.holder, self.lease_seconds, self.batch)
            if not claims:
                break
            renewer = asyncio.create_task(self._renew([c.id for c in claims]))
            try:
                renders = await self._render_all(claims)
                outcomes = await asyncio.gather(
                    *(self._guarded(c, renders.get(c.id)) for c in claims)
                )
            finally:
                renewer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renewer
            pairs = list(zip(claims, outcomes, strict=True))
            async with self.pool.acquire() as con:
                unchanged = [c for c, o in pairs if o is Outcome.UNCHANGED]
                await boards.release(con, unchanged, self.holder, self.refresh_seconds)
                skipped = [c.id for c, o in pairs if o is Outcome.SKIPPED]
                await boards.unlease(con, skipped, self.holder)
            if len(claims) < self.batch:
                break
        async with self.pool.acquire() as con:
            wait = await boards.seconds_to_next(con)
        return self.refresh_seconds if wait is None else min(self.refresh_seconds, wait)

    async def _renew(self, ids: list[int]) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            with contextlib.suppress(*DB_TROUBLE):
                async with self.pool.acquire() as con:
                    await boards.renew(con, ids, self.holder, self.lease_seconds)

    async def _render_all(self, claims: list[BoardClaim]) -> dict[int, dict[str, Any]]:
        """Each claimed board's payload, rendered on one connection (one query a board).

        A board whose render fails (a bug, a stat that no longer exists) is left out and
        retried later; it does not hold up the others.
        """
        renders: dict[int, dict[str, Any]] = {}
        async with self.pool.acquire() as con:
            for board in claims:
                if self._stopping:
                    break
                try:
                    period = Period(board.period)
                    data = await leaderboards.board(
                        con, board.guild_id, board.stat, period, self.bot.clock(), 0
                    )
                    renders[board.id] = board_payload(board.stat, period, data)
                except Exception as exc:
                    if lost_database(exc):
                        raise
                    # A query of this board's that fails is its own trouble; one that timed
                    # out may be the database's: the rest of the batch waits for the next
                    # cycle (given back, still due) rather than time out one by one.
                    log.exception("board %s could not be rendered", board.id)
                    delay = min(self.retry_base * 2.0 ** min(board.failures, 16), self.retry_max)
                    await boards.failed(con, board.id, self.holder, delay)
                    if isinstance(exc, TimeoutError):
                        break
        return renders

    async def _guarded(self, board: BoardClaim, payload: dict[str, Any] | None) -> Outcome:
        async with self._limit:
            if self._stopping or payload is None:
                return Outcome.SKIPPED
            try:
                return await self.refresh(board, payload)
            except Exception as exc:
                if lost_database(exc):
                    raise
                log.exception("board %s could not be refreshed", board.id)
                await self._failed(board, exc, rejected=True)
                return Outcome.DONE

    # -- one board

    async def refresh(self, board: BoardClaim, payload: dict[str, Any]) -> Outcome:
        """Bring the board's message to ``payload`` (its render now)."""
        problem = self.access_problem(board)
        if problem is CHANNEL_GONE:
            await self._channel_gone(board)
            return Outcome.DONE
        if problem is not None:
            await self._turn_off(board, problem)
            return Outcome.DONE
        http = self.bot.http
        digest = content_hash(payload)
        message_id, posts = board.message_id, board.posts
        checked: datetime | None = None
        try:
            if message_id is not None and digest == board.content_hash:
                if not self._needs_check(board):
                    return Outcome.UNCHANGED
                if await messages.exists(http, board.channel_id, message_id):
                    checked = self.bot.clock()
                else:
                    message_id = None
            elif message_id is not None:
                if await messages.edit(http, board.channel_id, message_id, payload):
                    checked = self.bot.clock()
                else:
                    message_id = None
            if message_id is None:
                posts += 1
                if posts > 1:
                    log.info("board %s: its message is gone; posting it again", board.id)
                nonce = f"board-{board.id}-{posts}"
                message_id = await messages.post(http, board.channel_id, payload, nonce)
                checked = self.bot.clock()
        except discord.NotFound as exc:
            if exc.code == messages.UNKNOWN_CHANNEL:
                await self._channel_gone(board)
            else:
                await self._turn_off(board, messages.refusal(exc, board.channel_id))
            return Outcome.DONE
        except discord.Forbidden as exc:
            await self._turn_off(board, messages.refusal(exc, board.channel_id))
            return Outcome.DONE
        except discord.HTTPException as exc:
            await self._failed(board, exc, rejected=exc.status < 500 and exc.status != 429)
            return Outcome.DONE
        except TRANSIENT as exc:
            await self._failed(board, exc, rejected=False)
            return Outcome.DONE
        await self._record(board, message_id, posts, digest, checked)
        return Outcome.DONE

    async def _record(
        self,
        board: BoardClaim,
        message_id: int,
        posts: int,
        digest: str,
        checked: datetime | None,
    ) -> None:
        # The message is out: its record must not be lost to one failed write (a board
        # whose post count is lost would post again once Discord forgot the nonce).
        for attempt in range(RECORD_TRIES):
            try:
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
                    removed = not kept and not await boards.still_there(con, board.id)
                break
            except Exception as exc:
                if lost_database(exc) or attempt == RECORD_TRIES - 1:
                    raise
                log.warning("board %s: recording its message failed (%r); again", board.id, exc)
                await asyncio.sleep(1.0)
        if kept:
            self._seen.add(board.id)
        elif removed and message_id != board.message_id:
            # /board remove ran while this message was being posted: nobody would ever
            # edit or delete it.
            await messages.delete(self.bot.http, board.channel_id, message_id)
        elif not removed:
            log.warning("board %s: lease lost during its refresh", board.id)
        if message_id in self._deleted:
            async with self.pool.acquire() as con:
                await boards.messages_gone(con, [message_id])
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
            # A bot is sent every channel of its guilds, seen or not: this one was deleted
            # (while no process heard it).
            return CHANNEL_GONE
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
        if board.id not in self._seen or board.checked_at is None:
            return True
        return self.bot.clock() - board.checked_at >= timedelta(seconds=self.verify_seconds)

    # -- what the gateway says

    def new_session(self) -> None:
        """The gateway started a new session: deletes made meanwhile were not heard, so
        every message is checked once more."""
        self._seen.clear()

    def board_added(self, channel_id: int) -> None:
        self._channels.add(channel_id)
        self._added[channel_id] = time.monotonic()
        self.wake()

    async def messages_deleted(self, channel_id: int, message_ids: list[int]) -> None:
        """The gateway says these messages were deleted: their boards post anew."""
        now = time.monotonic()
        if now - self._channels_at > CHANNELS_MAX_AGE:
            async with self.pool.acquire() as con:
                fresh = await boards.channels(con)
            # A board added here while the query ran may be missing from its answer.
            self._added = {c: t for c, t in self._added.items() if now - t < CHANNELS_MAX_AGE}
            self._channels = fresh | set(self._added)
            self._channels_at = now
        if channel_id not in self._channels:
            return
        self._deleted = {m: t for m, t in self._deleted.items() if now - t < DELETED_MEMORY}
        self._deleted.update(dict.fromkeys(message_ids, now))
        async with self.pool.acquire() as con:
            if await boards.messages_gone(con, message_ids):
                self.wake()

    # -- outcomes

    async def _turn_off(self, board: BoardClaim, reason: str) -> None:
        async with self.pool.acquire() as con:
            if await boards.disable(con, board, self.holder, reason):
                log.warning("board %s of guild %s turned off: %s", board.id, board.guild_id, reason)
            else:
                # Changed meanwhile (turned back on, its message seen deleted): the verdict
                # is stale, and the board due again at once.
                await boards.unlease(con, [board.id], self.holder)

    async def _channel_gone(self, board: BoardClaim) -> None:
        # Discord says the channel does not exist: the board goes with it (its message
        # did), as when the gateway reports the deletion.
        async with self.pool.acquire() as con:
            await boards.delete_board(con, board.id)
        log.warning("board %s removed: its channel %s was deleted", board.id, board.channel_id)

    async def _failed(self, board: BoardClaim, exc: BaseException, *, rejected: bool) -> None:
        delay = min(self.retry_base * 2.0 ** min(board.failures, 16), self.retry_max)
        if rejected:
            # A request Discord will never accept (a bug of ours): said loudly, retried slowly.
            log.error("board %s failed (%r); retrying in %.0f s", board.id, exc, delay)
        else:
            log.warning("could not refresh board %s (%r); retrying in %.0f s", board.id, exc, delay)
        async with self.pool.acquire() as con:
            await boards.failed(con, board.id, self.holder, delay)
