"""Queries on the live feed: per-guild settings and the transactional outbox.

The tracker queues events with ``enqueue_events`` in the transaction that
inserts them. The sender (``bot.feed.sender``) groups queued rows into batches, one
Discord message each, and records a batch as sent only after Discord
accepted it; a batch left unsent is posted again with the same nonce.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

NOTIFY_CHANNEL = "feed_outbox"
# Discord takes at most 10 embeds per message: one event each.
BATCH_SIZE = 10
# An arbitrary, fixed key for the sender's leader lock: "cocfeed1" in ASCII.
SENDER_LOCK_KEY = 0x636F636665656431

# Every (event, guild) where the guild tracks the player and its enabled feed
# admits the kind. The channel is the feed's at this moment; the sender posts
# to the feed's current channel in any case.
ENQUEUE_EVENTS = """
WITH queued AS (
    INSERT INTO feed_outbox (guild_id, channel_id, event_id)
    SELECT f.guild_id, f.channel_id, e.id
    FROM unnest($1::bigint[]) AS ids (id)
    JOIN player_events e ON e.id = ids.id
    JOIN tracked_players tp ON tp.tag = e.tag
    JOIN feeds f ON f.guild_id = tp.guild_id
    WHERE f.enabled AND (f.kinds IS NULL OR e.kind = ANY (f.kinds))
    ORDER BY e.id, f.guild_id
    ON CONFLICT (guild_id, event_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM queued
"""

# Events of a clan (a war attack, a war's end): for every guild tracking the clan.
ENQUEUE_CLAN_EVENTS = """
WITH queued AS (
    INSERT INTO feed_outbox (guild_id, channel_id, event_id)
    SELECT f.guild_id, f.channel_id, e.id
    FROM unnest($1::bigint[]) AS ids (id)
    JOIN player_events e ON e.id = ids.id
    JOIN tracked_clans tc ON tc.clan_tag = $2
    JOIN feeds f ON f.guild_id = tc.guild_id
    WHERE f.enabled AND (f.kinds IS NULL OR e.kind = ANY (f.kinds))
    ORDER BY e.id, f.guild_id
    ON CONFLICT (guild_id, event_id) DO NOTHING
    RETURNING 1
)
SELECT count(*) FROM queued
"""

# Delivered at commit, so the sender never wakes before the rows are visible.
NOTIFY = "SELECT pg_notify($1, '')"

SET_FEED = """
INSERT INTO feeds (guild_id, channel_id, kinds, enabled, updated_by, updated_at)
VALUES ($1, $2, $3::text[], true, $4, now())
ON CONFLICT (guild_id) DO UPDATE SET
    channel_id = EXCLUDED.channel_id, kinds = EXCLUDED.kinds, enabled = true,
    disabled_reason = NULL, disabled_at = NULL, updated_by = EXCLUDED.updated_by,
    updated_at = now(),
    enabled_since = CASE WHEN feeds.enabled THEN coalesce(feeds.enabled_since, now())
                         ELSE now() END
"""

# Queued rows the new filter no longer admits are not posted.
REFILTER_PENDING = """
DELETE FROM feed_outbox o USING player_events e
WHERE o.guild_id = $1 AND o.batch_id IS NULL AND e.id = o.event_id
  AND $2::text[] IS NOT NULL AND NOT e.kind = ANY ($2::text[])
"""

TURN_OFF = """
UPDATE feeds SET enabled = false, disabled_reason = $2, disabled_at = now(), updated_by = $3,
    updated_at = now()
WHERE guild_id = $1 AND enabled
RETURNING guild_id
"""

# Only while the feed still posts to the failing channel: a feed moved to
# another channel meanwhile stays on.
DISABLE_FEED = """
UPDATE feeds SET enabled = false, disabled_reason = $3, disabled_at = now(), updated_at = now()
WHERE guild_id = $1 AND channel_id = $2 AND enabled
RETURNING guild_id
"""

# A stopped feed's backlog is dropped: turned on again later, it starts fresh
# instead of flooding the channel with stale changes. Unsent batches take
# their rows with them (ON DELETE CASCADE, migration 0003).
DROP_UNSENT_BATCHES = """
DELETE FROM feed_batches
WHERE guild_id = $1 AND sent_at IS NULL AND ($2::bigint IS NULL OR channel_id = $2)
"""
DROP_UNBATCHED = "DELETE FROM feed_outbox WHERE guild_id = $1 AND batch_id IS NULL"

GET_FEED = """
SELECT f.guild_id, f.channel_id, f.kinds, f.enabled, f.disabled_reason, f.disabled_at,
       f.updated_by, f.updated_at,
       (SELECT count(*) FROM feed_outbox o LEFT JOIN feed_batches b ON b.id = o.batch_id
        WHERE o.guild_id = f.guild_id AND b.sent_at IS NULL) AS pending
FROM feeds f WHERE f.guild_id = $1
"""

# -- the sender's side ---------------------------------------------------------------

TRY_LEAD = "SELECT pg_try_advisory_lock($1)"

# The oldest unsent batches of each channel ($1 at most per channel), except the
# channels in back-off ($2): one channel with a long backlog in back-off must
# not hide every other channel's batches.
UNSENT_BATCHES = """
SELECT id, guild_id, channel_id, attempts FROM (
    SELECT b.id, b.guild_id, b.channel_id, b.attempts,
           row_number() OVER (PARTITION BY b.channel_id ORDER BY b.id) AS k
    FROM feed_batches b
    WHERE b.sent_at IS NULL AND NOT (b.channel_id = ANY ($2::bigint[]))
) AS heads
WHERE k <= $1
ORDER BY id
"""

# Seconds since the oldest row waiting for a batch was queued (NULL: none).
PENDING_AGE = """
SELECT extract(epoch FROM clock_timestamp() - min(o.created_at))::float8
FROM feed_outbox o JOIN feeds f ON f.guild_id = o.guild_id
WHERE o.batch_id IS NULL AND f.enabled
"""

# Anything still to post: an unsent batch or a row of an enabled feed.
BUSY = """
SELECT EXISTS (SELECT 1 FROM feed_batches WHERE sent_at IS NULL)
    OR EXISTS (SELECT 1 FROM feed_outbox o JOIN feeds f ON f.guild_id = o.guild_id
               WHERE o.batch_id IS NULL AND f.enabled)
"""

LOCK_PENDING = """
SELECT o.id, o.guild_id, f.channel_id, o.event_id
FROM feed_outbox o JOIN feeds f ON f.guild_id = o.guild_id
WHERE o.batch_id IS NULL AND f.enabled
ORDER BY o.id
LIMIT $1
FOR UPDATE OF o SKIP LOCKED
"""

RESERVE_BATCH_IDS = """
SELECT nextval(pg_get_serial_sequence('feed_batches', 'id')) FROM generate_series(1, $1)
"""

INSERT_BATCHES = """
INSERT INTO feed_batches (id, guild_id, channel_id)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])
"""

ASSIGN_BATCHES = """
UPDATE feed_outbox o SET batch_id = u.batch_id
FROM unnest($1::bigint[], $2::bigint[]) AS u (id, batch_id)
WHERE o.id = u.id
"""

BATCH_EVENTS = """
SELECT e.id, e.tag, p.name, e.occurred_at, e.kind, e.old_value, e.new_value, e.delta,
       e.detail
FROM feed_outbox o
JOIN player_events e ON e.id = o.event_id
LEFT JOIN players p ON p.tag = e.tag
WHERE o.batch_id = $1
ORDER BY e.id
"""

# Counted before the post, so a batch found unsent with attempts > 0 may
# already be in the channel: the nonce makes its repeat harmless.
NOTE_ATTEMPT = """
UPDATE feed_batches SET attempts = attempts + 1 WHERE id = $1 AND sent_at IS NULL
RETURNING attempts
"""

RECORD_SENT = """
UPDATE feed_batches SET sent_at = now(), message_id = $2 WHERE id = $1 AND sent_at IS NULL
"""

DROP_BATCH = "DELETE FROM feed_batches WHERE id = $1"

# Sent batches are kept a while for inspection; they hold no state the
# sender needs once Discord's nonce window has passed.
PRUNE_SENT = "DELETE FROM feed_batches WHERE sent_at < now() - make_interval(secs => $1)"

# Rows queued in the instant a feed was turned off (their transaction began
# before the switch) would otherwise wait forever.
PRUNE_ORPHANS = """
DELETE FROM feed_outbox o
WHERE o.batch_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM feeds f WHERE f.guild_id = o.guild_id AND f.enabled)
"""


@dataclass(frozen=True, slots=True)
class Feed:
    guild_id: int
    channel_id: int
    kinds: tuple[str, ...] | None  # None: every kind
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    updated_by: int
    updated_at: datetime
    pending: int


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    guild_id: int
    channel_id: int
    attempts: int


@dataclass(frozen=True, slots=True)
class FeedEvent:
    id: int
    tag: str
    name: str | None
    occurred_at: datetime
    kind: str
    old_value: str | None
    new_value: str | None
    delta: int | None
    detail: dict[str, Any]


async def enqueue_events(con: asyncpg.Connection, event_ids: Sequence[int]) -> int:
    """Queue the events for every guild feed that wants them; return the rows queued.

    Call it in the transaction that inserts the events: the rows and the
    wake-up notification become visible together, at commit.
    """
    if not event_ids:
        return 0
    queued: int = await con.fetchval(ENQUEUE_EVENTS, list(event_ids))
    if queued:
        await con.execute(NOTIFY, NOTIFY_CHANNEL)
    return queued


async def enqueue_clan_events(
    con: asyncpg.Connection, event_ids: Sequence[int], clan_tag: str
) -> int:
    """Queue a clan's events for every guild that tracks the clan and wants them."""
    if not event_ids:
        return 0
    queued: int = await con.fetchval(ENQUEUE_CLAN_EVENTS, list(event_ids), clan_tag)
    if queued:
        await con.execute(NOTIFY, NOTIFY_CHANNEL)
    return queued


async def set_feed(
    con: asyncpg.Connection,
    guild_id: int,
    channel_id: int,
    kinds: Sequence[str] | None,
    user_id: int,
) -> None:
    """Post the guild's changes to ``channel_id`` from now on (``kinds`` None: all)."""
    wanted = list(kinds) if kinds is not None else None
    async with con.transaction():
        await con.execute(SET_FEED, guild_id, channel_id, wanted, user_id)
        await con.execute(REFILTER_PENDING, guild_id, wanted)


async def turn_off(con: asyncpg.Connection, guild_id: int, reason: str, user_id: int) -> bool:
    """Stop the guild's feed and drop its backlog; False if it had no feed on."""
    async with con.transaction():
        stopped = await con.fetchval(TURN_OFF, guild_id, reason, user_id)
        await con.execute(DROP_UNSENT_BATCHES, guild_id, None)
        await con.execute(DROP_UNBATCHED, guild_id)
    return stopped is not None


async def disable_feed(
    con: asyncpg.Connection, guild_id: int, channel_id: int, reason: str
) -> bool:
    """Stop a feed Discord refuses to post to. True if this call stopped it.

    Unsent batches for that channel are dropped either way; if the feed has
    moved to another channel meanwhile, it keeps its queue and stays on.
    """
    async with con.transaction():
        stopped = await con.fetchval(DISABLE_FEED, guild_id, channel_id, reason)
        await con.execute(DROP_UNSENT_BATCHES, guild_id, None if stopped else channel_id)
        if stopped:
            await con.execute(DROP_UNBATCHED, guild_id)
    return stopped is not None


async def get_feed(con: asyncpg.Connection, guild_id: int) -> Feed | None:
    row = await con.fetchrow(GET_FEED, guild_id)
    if row is None:
        return None
    values = dict(row)
    values["kinds"] = tuple(row["kinds"]) if row["kinds"] is not None else None
    return Feed(**values)


async def try_lead(con: asyncpg.Connection) -> bool:
    """Take the sender's leader lock for as long as ``con`` lives (one sender at a time)."""
    return bool(await con.fetchval(TRY_LEAD, SENDER_LOCK_KEY))


async def unsent_batches(
    con: asyncpg.Connection, per_channel: int = 20, skip_channels: Sequence[int] = ()
) -> list[Batch]:
    """The oldest unsent batches, up to ``per_channel`` of each channel not skipped."""
    rows = await con.fetch(UNSENT_BATCHES, per_channel, list(skip_channels))
    return [Batch(**dict(r)) for r in rows]


async def pending_age(con: asyncpg.Connection) -> float | None:
    """Seconds the oldest row waiting for a batch has waited; None if there is none."""
    age: float | None = await con.fetchval(PENDING_AGE)
    return age


async def pending_batches_or_rows(con: asyncpg.Connection) -> bool:
    return bool(await con.fetchval(BUSY))


async def make_batches(con: asyncpg.Connection, limit: int = 1000) -> int:
    """Group waiting rows into batches of up to BATCH_SIZE per channel, in event order.

    Returns the number of rows batched (``limit`` at most).
    """
    async with con.transaction():
        rows = await con.fetch(LOCK_PENDING, limit)
        if not rows:
            return 0
        chunks: list[tuple[int, int, list[int]]] = []
        for row in sorted(rows, key=lambda r: (r["guild_id"], r["channel_id"], r["event_id"])):
            last = chunks[-1] if chunks else None
            if (
                last is None
                or (last[0], last[1]) != (row["guild_id"], row["channel_id"])
                or len(last[2]) == BATCH_SIZE
            ):
                chunks.append((row["guild_id"], row["channel_id"], []))
            chunks[-1][2].append(row["id"])
        ids = sorted(r[0] for r in await con.fetch(RESERVE_BATCH_IDS, len(chunks)))
        await con.execute(INSERT_BATCHES, ids, [c[0] for c in chunks], [c[1] for c in chunks])
        row_ids = [rid for c in chunks for rid in c[2]]
        batch_ids = [bid for bid, c in zip(ids, chunks, strict=True) for _ in c[2]]
        await con.execute(ASSIGN_BATCHES, row_ids, batch_ids)
    return len(rows)


async def batch_events(con: asyncpg.Connection, batch_id: int) -> list[FeedEvent]:
    events = []
    for row in await con.fetch(BATCH_EVENTS, batch_id):
        values = dict(row)
        values["detail"] = row["detail"] or {}
        events.append(FeedEvent(**values))
    return events


async def note_attempt(con: asyncpg.Connection, batch_id: int) -> int | None:
    """Count a post attempt; None if the batch is gone or already sent."""
    attempts: int | None = await con.fetchval(NOTE_ATTEMPT, batch_id)
    return attempts


async def record_sent(con: asyncpg.Connection, batch_id: int, message_id: int) -> None:
    await con.execute(RECORD_SENT, batch_id, message_id)


async def drop_batch(con: asyncpg.Connection, batch_id: int) -> None:
    await con.execute(DROP_BATCH, batch_id)


async def prune(con: asyncpg.Connection, keep_sent_seconds: float) -> None:
    await con.execute(PRUNE_SENT, keep_sent_seconds)
    await con.execute(PRUNE_ORPHANS)
