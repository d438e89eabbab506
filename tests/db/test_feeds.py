"""db.feeds on a real PostgreSQL: the outbox's queue, batches and feed settings."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from bot.timeutil import utcnow
from db import feeds

GUILD, OTHER, THIRD = 5000, 6000, 7000


async def add_player(con: asyncpg.Connection, tag: str, name: str = "Player") -> None:
    await con.execute(
        """
        INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies, war_stars,
            attack_wins, defense_wins, donations, donations_received, builder_trophies,
            best_builder_trophies, builder_hall, capital_contributions, fetched_at)
        VALUES ($1, $2, 15, 200, 5000, 5100, 900, 10, 5, 0, 0, 4000, 4100, 10, 0, now())
        ON CONFLICT (tag) DO UPDATE SET name = EXCLUDED.name
        """,
        tag,
        name,
    )


async def track(con: asyncpg.Connection, guild_id: int, tag: str) -> None:
    await con.execute(
        "INSERT INTO tracked_players (guild_id, tag, direct, added_by) VALUES ($1, $2, true, 1)"
        " ON CONFLICT DO NOTHING",
        guild_id,
        tag,
    )


Spec = tuple[str, str | None, str | None, int | None, dict[str, Any]]


def trophies(old: int, new: int) -> Spec:
    return ("trophies", str(old), str(new), new - old, {})


async def add_events(con: asyncpg.Connection, tag: str, specs: Sequence[Spec]) -> list[int]:
    """Insert events as the tracker would; returns their ids (not yet queued)."""
    rows = await con.fetch(
        """
        INSERT INTO player_events (tag, occurred_at, kind, old_value, new_value, delta, detail)
        SELECT $1, $2, k, o, n, d, x::jsonb
        FROM unnest($3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
            WITH ORDINALITY AS u (k, o, n, d, x, i)
        ORDER BY i
        RETURNING id
        """,
        tag,
        utcnow(),
        [s[0] for s in specs],
        [s[1] for s in specs],
        [s[2] for s in specs],
        [s[3] for s in specs],
        [json.dumps(s[4]) for s in specs],
    )
    return sorted(r["id"] for r in rows)


async def emit(con: asyncpg.Connection, tag: str, specs: Sequence[Spec]) -> list[int]:
    """Events and their outbox rows in one transaction, as the tracker's write path does."""
    async with con.transaction():
        ids = await add_events(con, tag, specs)
        await feeds.enqueue_events(con, ids)
    return ids


async def outbox(con: asyncpg.Connection) -> list[tuple[int, int, int, int | None]]:
    rows = await con.fetch(
        "SELECT guild_id, channel_id, event_id, batch_id FROM feed_outbox ORDER BY id"
    )
    return [tuple(r) for r in rows]


async def test_enqueue_targets_guilds_that_track_the_player_and_want_the_kind(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as con:
        await add_player(con, "#AAA")
        for guild in (GUILD, OTHER, THIRD):
            await track(con, guild, "#AAA")
        await track(con, GUILD, "#BBB")
        await add_player(con, "#BBB")
        await feeds.set_feed(con, GUILD, 11, None, 1)
        await feeds.set_feed(con, OTHER, 22, ["hero"], 1)
        await feeds.set_feed(con, THIRD, 33, None, 1)
        await feeds.turn_off(con, THIRD, "off", 1)
        await feeds.set_feed(con, 8000, 44, None, 1)  # a feed, but the guild tracks nobody

        ids = await add_events(
            con, "#AAA", [trophies(5000, 5031), ("hero", "94", "95", 1, {"hero": "Archer Queen"})]
        )
        assert await feeds.enqueue_events(con, ids) == 3
        assert await feeds.enqueue_events(con, ids) == 0  # ON CONFLICT: never twice
        assert await feeds.enqueue_events(con, []) == 0
        assert sorted(await outbox(con)) == sorted(
            [(GUILD, 11, ids[0], None), (GUILD, 11, ids[1], None), (OTHER, 22, ids[1], None)]
        )


async def test_notification_is_delivered_at_commit_and_only_when_queued(
    pool: asyncpg.Pool,
) -> None:
    got: asyncio.Queue[str] = asyncio.Queue()
    async with pool.acquire() as listener, pool.acquire() as con:

        def heard(_con: object, _pid: int, channel: str, payload: str) -> None:
            got.put_nowait(f"{channel}:{payload}")

        await listener.add_listener(feeds.NOTIFY_CHANNEL, heard)
        await add_player(con, "#AAA")
        await track(con, GUILD, "#AAA")
        await feeds.set_feed(con, GUILD, 11, ["town_hall"], 1)

        async with con.transaction():
            ids = await add_events(con, "#AAA", [trophies(1, 2)])
            assert await feeds.enqueue_events(con, ids) == 0  # filtered out: nothing to wake
        async with con.transaction():
            ids = await add_events(con, "#AAA", [("town_hall", "15", "16", 1, {})])
            assert await feeds.enqueue_events(con, ids) == 1
            await listener.execute("SELECT 1")  # a round trip: a notification would be here
            assert got.empty()
        assert await asyncio.wait_for(got.get(), 5) == "feed_outbox:"
        await listener.execute("SELECT 1")
        assert got.empty()
        await listener.remove_listener(feeds.NOTIFY_CHANNEL, heard)


async def test_batches_hold_ten_events_per_channel_in_event_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await add_player(con, "#AAA")
        await add_player(con, "#BBB")
        await track(con, GUILD, "#AAA")
        await track(con, GUILD, "#BBB")
        await track(con, OTHER, "#BBB")
        await feeds.set_feed(con, GUILD, 11, None, 1)
        await feeds.set_feed(con, OTHER, 22, None, 1)
        a = await emit(con, "#AAA", [trophies(i, i + 1) for i in range(12)])
        b = await emit(con, "#BBB", [trophies(i, i + 1) for i in range(13)])

        assert await feeds.pending_age(con) is not None
        assert await feeds.make_batches(con) == 25 + 13
        assert await feeds.pending_age(con) is None
        assert await feeds.make_batches(con) == 0
        batches = await feeds.unsent_batches(con)
        assert [(x.guild_id, x.channel_id) for x in batches] == [(GUILD, 11)] * 3 + [
            (OTHER, 22)
        ] * 2
        contents = [[e.id for e in await feeds.batch_events(con, x.id)] for x in batches]
        ours = sorted(a + b)
        assert contents == [ours[:10], ours[10:20], ours[20:], b[:10], b[10:]]
        assert all(x.attempts == 0 for x in batches)


async def test_a_batch_is_sent_once_and_deleting_it_takes_its_rows(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await add_player(con, "#AAA", "Queen *B*")
        await track(con, GUILD, "#AAA")
        await feeds.set_feed(con, GUILD, 11, None, 1)
        await emit(con, "#AAA", [("clan_join", None, "#2PP", None, {"clan_name": "X"})])
        await feeds.make_batches(con)
        (batch,) = await feeds.unsent_batches(con)
        (event,) = await feeds.batch_events(con, batch.id)
        assert event.name == "Queen *B*" and event.detail == {"clan_name": "X"}
        assert await feeds.note_attempt(con, batch.id) == 1
        await feeds.record_sent(con, batch.id, 999)
        assert await feeds.note_attempt(con, batch.id) is None  # sent: never posted again
        assert await feeds.unsent_batches(con) == []
        assert not await feeds.pending_batches_or_rows(con)

        await feeds.drop_batch(con, batch.id)
        # With ON DELETE SET NULL the row would be unbatched again, and posted again.
        assert await outbox(con) == []


async def test_turning_off_drops_the_backlog_and_disable_respects_a_moved_feed(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as con:
        await add_player(con, "#AAA")
        await track(con, GUILD, "#AAA")
        await feeds.set_feed(con, GUILD, 11, None, 1)
        await emit(con, "#AAA", [trophies(1, 2)])
        await feeds.make_batches(con)
        await emit(con, "#AAA", [trophies(2, 3)])
        assert (await feeds.get_feed(con, GUILD)).pending == 2  # type: ignore[union-attr]

        # Moved to channel 12: the old channel's refusal does not turn the feed off.
        await feeds.set_feed(con, GUILD, 12, ["trophies"], 2)
        assert not await feeds.disable_feed(con, GUILD, 11, "gone")
        feed = await feeds.get_feed(con, GUILD)
        assert feed is not None and feed.enabled and feed.channel_id == 12
        assert feed.kinds == ("trophies",) and feed.updated_by == 2
        assert feed.pending == 1  # the old channel's unsent batch went; the queued row stays

        assert await feeds.disable_feed(con, GUILD, 12, "Missing Access")
        assert not await feeds.disable_feed(con, GUILD, 12, "again")  # logged once, by the first
        feed = await feeds.get_feed(con, GUILD)
        assert feed is not None and not feed.enabled
        assert feed.disabled_reason == "Missing Access" and feed.disabled_at is not None
        assert feed.pending == 0 and await outbox(con) == []
        assert not await feeds.turn_off(con, GUILD, "off", 1)  # already off

        await feeds.set_feed(con, GUILD, 12, None, 1)
        feed = await feeds.get_feed(con, GUILD)
        assert feed is not None and feed.enabled and feed.disabled_reason is None
        assert await feeds.get_feed(con, OTHER) is None


async def test_a_narrower_filter_drops_queued_rows_it_no_longer_admits(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await add_player(con, "#AAA")
        await track(con, GUILD, "#AAA")
        await feeds.set_feed(con, GUILD, 11, None, 1)
        ids = await emit(con, "#AAA", [trophies(1, 2), ("town_hall", "15", "16", 1, {})])
        await feeds.set_feed(con, GUILD, 11, ["town_hall"], 1)
        assert [r[2] for r in await outbox(con)] == [ids[1]]


async def test_enqueue_is_one_quick_statement_for_a_big_sweep(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        tags = [f"#P{i}" for i in range(200)]
        for tag in tags:
            await add_player(con, tag)
        for guild in range(20):
            await con.executemany(
                "INSERT INTO tracked_players (guild_id, tag, direct, added_by)"
                " VALUES ($1, $2, true, 1)",
                [(guild, t) for t in tags],
            )
            await feeds.set_feed(con, guild, 100 + guild, None, 1)
        ids: list[int] = []
        for tag in tags:
            ids += await add_events(con, tag, [trophies(1, 2), trophies(2, 3)])
        started = time.perf_counter()
        async with con.transaction():
            queued = await feeds.enqueue_events(con, ids)
        elapsed = time.perf_counter() - started
        assert queued == 400 * 20
        assert elapsed < 2.0, elapsed  # about 0.1 s here; generous for slow CI
        started = time.perf_counter()
        assert await feeds.make_batches(con, limit=10_000) == 8000
        assert time.perf_counter() - started < 3.0
        assert len(await feeds.unsent_batches(con, 10_000)) == 800
