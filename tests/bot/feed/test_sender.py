"""The feed sender end to end (fake Discord, real PostgreSQL): exactly once, in order."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg
import discord
import pytest

from bot.feed.sender import FeedSender
from cogs.feed import FeedCog
from db import feeds
from db.feeds import Batch, FeedEvent
from tests.bot.feed.helpers import settled
from tests.db.test_feeds import add_player, emit, track, trophies
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, sub

CHANNEL = 5001
TAG = "#2PP0JCCL"
WHEN = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def event(kind: str, old: str | None = None, new: str | None = None, **kw: Any) -> FeedEvent:
    return FeedEvent(
        id=kw.get("id", 1),
        tag=TAG,
        name=kw.get("name", "Bob"),
        occurred_at=WHEN,
        kind=kind,
        old_value=old,
        new_value=new,
        delta=kw.get("delta"),
        detail=kw.get("detail", {}),
    )


# -- the sender, end to end -------------------------------------------------------------


def cog(harness: Harness) -> FeedCog:
    # Not isinstance: discord.py loads the extension as a fresh module object.
    found = harness.bot.get_cog("FeedCog")
    assert found is not None and type(found).__name__ == "FeedCog"
    return found  # type: ignore[return-value]


async def setup_feed(
    harness: Harness,
    guild_id: int = GUILD_ID,
    channel_id: int = CHANNEL,
    kinds: list[str] | None = None,
) -> None:
    if guild_id not in harness.discord.guilds:
        harness.discord.add_guild(guild_id, channels=[])
    harness.discord.add_channel(guild_id, channel_id, name="feed")
    async with harness.pool.acquire() as con:
        await add_player(con, TAG, "Bob")
        await track(con, guild_id, TAG)
        await feeds.set_feed(con, guild_id, channel_id, kinds, 1)


async def batches(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as con:
        return await con.fetch("SELECT * FROM feed_batches ORDER BY id")


async def test_a_change_becomes_exactly_one_post(harness: Harness) -> None:
    await setup_feed(harness)
    async with harness.pool.acquire() as con:
        await emit(con, TAG, [trophies(5000, 5031)])
    (message,) = await harness.discord.wait_channel_messages(CHANNEL, 1)
    await settled(cog(harness).sender)
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    (embed,) = message.embeds
    assert embed["description"] == "**Bob** (#2PP0JCCL): Trophies +31 (5,000 → 5,031)"
    assert message.allowed_mentions == {"parse": []}
    (batch,) = await batches(harness.pool)
    assert message.nonce == f"feed-{batch['id']}"
    assert batch["message_id"] == message.id and batch["sent_at"] is not None
    assert batch["attempts"] == 1


async def test_a_burst_becomes_batched_posts_in_order(harness: Harness) -> None:
    await setup_feed(harness)
    async with harness.pool.acquire() as con:
        await emit(con, TAG, [trophies(1000 + i, 1001 + i) for i in range(25)])
    messages = await harness.discord.wait_channel_messages(CHANNEL, 3)
    await settled(cog(harness).sender)
    assert [len(m.embeds) for m in harness.discord.channel_messages[CHANNEL]] == [10, 10, 5]
    shown = [e["description"] for m in messages for e in m.embeds]
    assert shown == [
        f"**Bob** (#2PP0JCCL): Trophies +1 ({1000 + i:,} → {1001 + i:,})" for i in range(25)
    ]


async def test_a_kill_between_post_and_record_does_not_double_post(harness: Harness) -> None:
    await cog(harness).sender.stop()
    await setup_feed(harness)
    posted = asyncio.Event()

    class DiesBeforeRecording(FeedSender):
        async def record_sent(self, batch: Batch, message_id: int) -> None:
            posted.set()
            await asyncio.Event().wait()  # killed here, before the record

    first = DiesBeforeRecording(harness.bot, batch_window=0)
    first.start()
    async with harness.pool.acquire() as con:
        await emit(con, TAG, [trophies(1, 2), trophies(2, 3)])
    await asyncio.wait_for(posted.wait(), 10)
    # The process dies: cancelled at once, nothing after the post runs.
    await harness.bot.supervisor.stop("feed sender", timeout=0)
    (unsent,) = await batches(harness.pool)
    assert unsent["sent_at"] is None and unsent["attempts"] == 1

    second = FeedSender(harness.bot, batch_window=0)
    second.start()
    try:
        await settled(second)
    finally:
        await second.stop()
    (message,) = harness.discord.channel_messages[CHANNEL]
    assert len(message.embeds) == 2
    (sent,) = await batches(harness.pool)
    assert sent["message_id"] == message.id and sent["attempts"] == 2  # posted twice, shown once
    posts = [r for r in harness.discord.requests if r == ("POST", f"/channels/{CHANNEL}/messages")]
    assert len(posts) == 2


async def test_events_during_downtime_are_posted_after_restart(harness: Harness) -> None:
    await cog(harness).sender.stop()
    await setup_feed(harness)
    async with harness.pool.acquire() as con:
        await emit(con, TAG, [trophies(1, 2)])
        await emit(con, TAG, [("town_hall", "15", "16", 1, {})])
    assert harness.discord.channel_messages[CHANNEL] == []  # no sender runs

    restarted = FeedSender(harness.bot)
    restarted.start()
    try:
        (message,) = await harness.discord.wait_channel_messages(CHANNEL, 1)
        await settled(restarted)
    finally:
        await restarted.stop()
    assert [e["description"].split(": ")[1] for e in message.embeds] == [
        "Trophies +1 (1 → 2)",
        "Town Hall 15 → 16",
    ]


@pytest.mark.parametrize(("status", "why"), [(403, "Missing Permissions"), (404, "no longer")])
async def test_a_refusing_channel_turns_that_feed_off_and_others_keep_posting(
    harness: Harness, caplog: pytest.LogCaptureFixture, status: int, why: str
) -> None:
    await setup_feed(harness)
    await setup_feed(harness, guild_id=6000, channel_id=6001)
    harness.discord.fail_channel(CHANNEL, status)
    with caplog.at_level(logging.WARNING, logger="bot.feed.sender"):
        async with harness.pool.acquire() as con:
            await emit(con, TAG, [trophies(1, 2)])
        await harness.discord.wait_channel_messages(6001, 1)
        await settled(cog(harness).sender)
        async with harness.pool.acquire() as con:
            await emit(con, TAG, [trophies(2, 3)])  # not queued for the stopped feed
            feed = await feeds.get_feed(con, GUILD_ID)
        await harness.discord.wait_channel_messages(6001, 2)
        await settled(cog(harness).sender)
    assert feed is not None and not feed.enabled and feed.pending == 0
    assert why in (feed.disabled_reason or "") and str(status) in (feed.disabled_reason or "")
    refusals = [r for r in caplog.records if "turned off" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.WARNING
    posts = [r for r in harness.discord.requests if r == ("POST", f"/channels/{CHANNEL}/messages")]
    assert len(posts) == 1  # never retried
    assert harness.discord.channel_messages[CHANNEL] == []

    reply = await harness.run("feed", sub("show"), permissions=MANAGE_GUILD)
    assert "off" in (reply.content or "") and why in (reply.content or "")


async def test_a_filter_on_event_kinds_holds(harness: Harness) -> None:
    await setup_feed(harness, kinds=["town_hall", "hero"])
    async with harness.pool.acquire() as con:
        await emit(
            con,
            TAG,
            [
                trophies(1, 2),
                ("town_hall", "15", "16", 1, {}),
                ("donations", None, None, 50, {}),
                ("hero", "1", "2", 1, {"hero": "Barbarian King"}),
            ],
        )
    (message,) = await harness.discord.wait_channel_messages(CHANNEL, 1)
    await settled(cog(harness).sender)
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    assert [e["description"].split(": ", 1)[1] for e in message.embeds] == [
        "Town Hall 15 → 16",
        "Hero upgrade: Barbarian King 1 → 2",
    ]


async def test_a_network_error_is_retried_with_backoff(harness: Harness) -> None:
    await cog(harness).sender.stop()
    await setup_feed(harness)
    failures = [aiohttp.ClientConnectionError("reset"), OSError("unreachable")]

    class Flaky(FeedSender):
        async def send(self, channel_id: int, payload: dict[str, Any]) -> dict[str, Any]:
            if failures:
                raise failures.pop(0)
            return await super().send(channel_id, payload)

    sender = Flaky(harness.bot, batch_window=0, retry_base=0.01)
    async with harness.pool.acquire() as con:
        await emit(con, TAG, [trophies(1, 2)])
    for _ in range(50):
        await sender.run_once()
        if harness.discord.channel_messages[CHANNEL]:
            break
        await asyncio.sleep(0.02)  # the (shortened) backoff; nothing to wait on
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    (batch,) = await batches(harness.pool)
    assert batch["attempts"] == 3 and batch["sent_at"] is not None


async def test_a_tracked_change_reaches_the_channel(harness: Harness) -> None:
    """Through the real tracker: a poll's change is posted once, within seconds."""
    from bot.tracker.engine import Tracker
    from db import guild_tracking
    from tests.fakes.coc_api import make_player

    harness.discord.add_channel(GUILD_ID, CHANNEL)
    harness.coc.set_player(make_player(TAG, name="Bob", trophies=5000, best_trophies=5500))
    async with harness.pool.acquire() as con:
        await guild_tracking.track_player(con, GUILD_ID, TAG, 1)
        await feeds.set_feed(con, GUILD_ID, CHANNEL, None, 1)
    tracker = Tracker(settings=harness.settings, pool=harness.pool, clash=harness.bot.clash)
    await tracker.run_once()  # first sighting: history, no event
    harness.coc.set_player(make_player(TAG, name="Bob", trophies=5031, best_trophies=5500))
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()
    (message,) = await harness.discord.wait_channel_messages(CHANNEL, 1, timeout=5)
    await settled(cog(harness).sender)
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    assert [e["description"] for e in message.embeds] == [
        "**Bob** (#2PP0JCCL): Trophies +31 (5,000 → 5,031)"
    ]


async def test_a_clan_only_member_who_leaves_gets_one_leave_post_and_no_donations(
    harness: Harness,
) -> None:
    """Issue 10: the leave is posted (queued before the member is untracked), and the
    game zeroing the counters is no donation."""
    from bot.tracker.engine import Tracker
    from db import guild_tracking
    from tests.fakes.coc_api import make_clan, make_player

    clan = "#2Q9VRJ0"
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    stays = make_player("#9P9PRYQ0", name="Stays", clan=(clan, "Home"))
    leaves = make_player(TAG, name="Bob", clan=(clan, "Home"), donations=500, received=60)
    harness.coc.set_player(stays)
    harness.coc.set_player(leaves)
    harness.coc.set_clan(make_clan(clan, [stays, leaves], name="Home"))
    async with harness.pool.acquire() as con:
        await guild_tracking.track_clan(con, GUILD_ID, clan, "Home", 1)
        await feeds.set_feed(con, GUILD_ID, CHANNEL, None, 1)
    tracker = Tracker(settings=harness.settings, pool=harness.pool, clash=harness.bot.clash)
    await tracker.run_once()  # the clan's baseline and the members' first profiles

    harness.coc.set_player(make_player(TAG, name="Bob", clan=None))
    harness.coc.set_clan(make_clan(clan, [stays], name="Home"))
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()
    await harness.discord.wait_channel_messages(CHANNEL, 1, timeout=5)
    await settled(cog(harness).sender)
    posted = [e["description"] for m in harness.discord.channel_messages[CHANNEL] for e in m.embeds]
    assert posted == ["**Bob** (#2PP0JCCL): Left clan Home (#2Q9VRJ0)"]
    async with harness.pool.acquire() as con:
        assert not await guild_tracking.tracking_info(con, GUILD_ID, TAG)
        assert await con.fetchval("SELECT donations_total FROM players WHERE tag = $1", TAG) == 500


async def test_a_channel_in_back_off_does_not_hold_up_the_others(harness: Harness) -> None:
    """Issue 10: 600 unsent batches of a failing channel neither hide another guild's
    batch nor make the sender spin."""
    await cog(harness).sender.stop()
    await setup_feed(harness)
    await setup_feed(harness, guild_id=6000, channel_id=6001)

    class Down(FeedSender):
        async def send(self, channel_id: int, payload: dict[str, Any]) -> dict[str, Any]:
            if channel_id == CHANNEL:
                raise discord.DiscordServerError(_Response(503), "unavailable")
            return await super().send(channel_id, payload)

    async with harness.pool.acquire() as con:
        await con.execute(
            "INSERT INTO feed_batches (guild_id, channel_id) "
            "SELECT $1, $2 FROM generate_series(1, 600)",
            GUILD_ID,
            CHANNEL,
        )
        await con.execute(
            "INSERT INTO player_events (tag, occurred_at, kind) "
            "SELECT $1, now(), 'trophies' FROM generate_series(1, 600)",
            TAG,
        )
        await con.execute(
            "INSERT INTO feed_outbox (guild_id, channel_id, event_id, batch_id) "
            "SELECT $1, $2, e.id, b.id FROM "
            "(SELECT id, row_number() OVER (ORDER BY id) AS n FROM player_events) e "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM feed_batches) b USING (n)",
            GUILD_ID,
            CHANNEL,
        )
    sender = Down(harness.bot, batch_window=0, retry_base=60)
    assert await sender.run_once() >= 0.05  # the failing channel is now in back-off
    async with harness.pool.acquire() as con:
        await emit(con, TAG, [trophies(1, 2)])  # queued for both guilds
    wait = 0.0
    for _ in range(3):
        wait = await sender.run_once()
    assert len(harness.discord.channel_messages[6001]) == 1
    # Nothing to do but wait (the back-off, or the next poll): no 50 ms spin.
    assert wait >= sender.poll_interval
    posts = [r for r in harness.discord.requests if r == ("POST", f"/channels/{CHANNEL}/messages")]
    assert posts == []  # the fake never saw it: Down failed it before the request


class _Response:
    """The minimum of an aiohttp response that discord.py's HTTP errors read."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "Service Unavailable"
