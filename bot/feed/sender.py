"""The feed sender: posts the outbox to Discord, exactly once.

Exactly once: a batch (one message, up to 10 events) is recorded before it is
posted, posted with a nonce derived from its id and ``enforce_nonce``, and
marked sent afterwards. A sender that dies between the post and the record
leaves the batch unsent; the next one posts it again with the same nonce and
Discord answers with the original message instead of a second one. Discord
remembers nonces for a few minutes only, so a batch resumed much later than
that could show twice if its first post did land.

One sender runs at a time (an advisory lock held by its LISTEN connection);
others stand by and take over when that connection goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import asyncpg
import discord
from discord.http import Route

from bot.feed.render import batch_payload, refusal_reason
from db import feeds
from db.errors import DB_TROUBLE
from db.feeds import Batch

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)
SENDER_TASK = "feed sender"


class FeedSender:
    def __init__(
        self,
        bot: TrackerBot,
        *,
        batch_window: float = 1.0,
        poll_interval: float = 2.0,
        retry_base: float = 2.0,
        retry_max: float = 300.0,
        keep_sent: float = 2 * 86400.0,
        concurrency: int = 8,
    ) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        self.batch_window = batch_window
        self.poll_interval = poll_interval
        self.retry_base = retry_base
        self.retry_max = retry_max
        self.keep_sent = keep_sent
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        # Set at the end of each cycle, then replaced: a caller can wait until the
        # sender has looked at the outbox once more (see ``wake``).
        self.cycle_done = asyncio.Event()
        self._stopping = False
        self._retry_at: dict[int, float] = {}  # channel id -> monotonic time of the next try
        self._next_prune = 0.0

    # -- lifecycle

    def start(self) -> None:
        """Run under the bot's supervisor: a bug that escapes is logged, the sender
        restarted with back-off, and the health check fails meanwhile."""
        self._stopping = False
        self.bot.supervisor.start(SENDER_TASK, self.run)

    async def stop(self, grace: float = 5.0) -> None:
        """Finish the batch being posted (up to ``grace`` seconds), then stop.

        Cut off mid-post, the batch stays unsent and is resumed with its nonce.
        """
        self._stopping = True
        self._wake.set()
        await self.bot.supervisor.stop(SENDER_TASK, timeout=grace)

    async def run(self) -> None:
        """Post until stopped. A database outage is waited out here; anything else
        ends the run for the supervisor to log and restart."""
        delay = 1.0
        while not self._stopping:
            try:
                await self._serve()
                delay = 1.0
            except DB_TROUBLE as exc:
                log.warning("feed sender lost the database (%s); retrying in %.0f s", exc, delay)
            if not self._stopping:
                await self._sleep(delay)
                delay = min(delay * 2, 60.0)

    async def _serve(self) -> None:
        async with self.pool.acquire() as listen:
            await listen.add_listener(feeds.NOTIFY_CHANNEL, self._notified)
            try:
                standby_logged = False
                while not await feeds.try_lead(listen):
                    if not standby_logged:
                        log.info("another process posts the feed; this one stands by")
                        standby_logged = True
                    if self._stopping:
                        return
                    await self._sleep(self.poll_interval)
                log.info("feed sender running")
                while not self._stopping:
                    self._wake.clear()
                    wait = await self.run_once()
                    done, self.cycle_done = self.cycle_done, asyncio.Event()
                    done.set()
                    await self._sleep(wait)
                    if listen.is_closed():
                        raise ConnectionError("the LISTEN connection closed")
            finally:
                if not listen.is_closed():
                    with contextlib.suppress(*DB_TROUBLE):
                        await listen.remove_listener(feeds.NOTIFY_CHANNEL, self._notified)

    def _notified(self, *_: object) -> None:
        self.wake()

    def wake(self) -> None:
        """Start the next cycle now instead of after the wait."""
        self._wake.set()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), max(seconds, 0.0))

    # -- one cycle

    async def run_once(self) -> float:
        """Batch ripe rows, post every unsent batch; return seconds until the next cycle."""
        wait = self.poll_interval
        async with self.pool.acquire() as con:
            age = await feeds.pending_age(con)
            if age is not None and age >= self.batch_window:
                await feeds.make_batches(con)
                wait = 0.0 if await feeds.pending_age(con) is not None else wait
            elif age is not None:
                # Wait for the rest of a burst so it becomes few messages.
                wait = min(wait, self.batch_window - age)
            if time.monotonic() >= self._next_prune:
                await feeds.prune(con, self.keep_sent)
                self._next_prune = time.monotonic() + 3600.0
        if await self.deliver_unsent():
            wait = 0.0
        if self._retry_at:
            wait = min(wait, min(self._retry_at.values()) - time.monotonic())
        return max(wait, 0.05)

    async def deliver_unsent(self, per_channel: int = 20) -> bool:
        """Post unsent batches, oldest first per channel. True if more are waiting.

        Channels in back-off are left out of the query, so their backlog neither
        hides other channels' batches nor makes the loop spin.
        """
        now = time.monotonic()
        self._retry_at = {c: t for c, t in self._retry_at.items() if t > now}
        async with self.pool.acquire() as con:
            batches = await feeds.unsent_batches(con, per_channel, list(self._retry_at))
        by_channel: dict[int, list[Batch]] = {}
        for batch in batches:
            by_channel.setdefault(batch.channel_id, []).append(batch)
        # Every channel finishes before an error surfaces: none is left posting
        # on its own while the sender restarts.
        results = await asyncio.gather(
            *(self._deliver_channel(b) for b in by_channel.values()), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return any(
            len(group) == per_channel and group[0].channel_id not in self._retry_at
            for group in by_channel.values()
        )

    async def _deliver_channel(self, batches: list[Batch]) -> None:
        async with self._limit:
            for batch in batches:
                if self._stopping:
                    return
                message_id = await self.post_batch(batch)
                if message_id is None:
                    return  # later batches wait, so the channel keeps its order
                await self.record_sent(batch, message_id)

    async def post_batch(self, batch: Batch) -> int | None:
        """Post one batch; the message id, or None if it was not posted."""
        async with self.pool.acquire() as con:
            events = await feeds.batch_events(con, batch.id)
            attempts = await feeds.note_attempt(con, batch.id) if events else None
            if not events:
                await feeds.drop_batch(con, batch.id)
        if attempts is None:
            return None  # turned off, sent elsewhere, or its events were deleted
        try:
            message = await self.send(batch.channel_id, batch_payload(batch, events))
        except (discord.Forbidden, discord.NotFound) as exc:
            await self._refused(batch, exc)
            return None
        except discord.HTTPException as exc:
            # 401: the bot's token is being replaced; 429: a ban without retry info.
            if exc.status >= 500 or exc.status in (401, 429):
                self._back_off(batch, attempts, exc)
            else:
                # A request Discord will never accept: retrying cannot help.
                log.error(
                    "Discord rejected feed batch %s for channel %s (%s %s); dropped it",
                    batch.id,
                    batch.channel_id,
                    exc.status,
                    exc.text,
                )
                async with self.pool.acquire() as con:
                    await feeds.drop_batch(con, batch.id)
            return None
        except TRANSIENT as exc:
            self._back_off(batch, attempts, exc)
            return None
        self._retry_at.pop(batch.channel_id, None)
        return int(message["id"])

    async def send(self, channel_id: int, payload: dict[str, Any]) -> dict[str, Any]:
        # The bot's own HTTP client: discord.py keeps to the rate limits (and
        # retries 5xx a few times itself); the raw route needs no channel cache.
        route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id)
        message: dict[str, Any] = await self.bot.http.request(route, json=payload)
        return message

    async def record_sent(self, batch: Batch, message_id: int) -> None:
        async with self.pool.acquire() as con:
            await feeds.record_sent(con, batch.id, message_id)

    def _back_off(self, batch: Batch, attempts: int, exc: BaseException) -> None:
        delay = min(self.retry_base * 2.0 ** min(attempts - 1, 16), self.retry_max)
        self._retry_at[batch.channel_id] = time.monotonic() + delay
        log.warning(
            "could not post feed batch %s to channel %s (attempt %d): %r; retrying in %.0f s",
            batch.id,
            batch.channel_id,
            attempts,
            exc,
            delay,
        )

    async def _refused(self, batch: Batch, exc: discord.HTTPException) -> None:
        reason = refusal_reason(exc, batch.channel_id)
        async with self.pool.acquire() as con:
            stopped = await feeds.disable_feed(con, batch.guild_id, batch.channel_id, reason)
        self._retry_at.pop(batch.channel_id, None)
        if stopped:
            log.warning("feed of guild %s turned off: %s", batch.guild_id, reason)
        else:
            log.info("dropped feed batch %s for old channel %s", batch.id, batch.channel_id)
