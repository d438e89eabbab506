"""Queries on boards: each guild's auto-updating leaderboard messages and their refresh.

A refresh is leased (a holder token and a time limit) so that one process
renders and edits a board at a time; every write after the claim names the
holder, so a process whose lease ran out cannot overwrite another's work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.guild_locks import lock_guilds

# A board is named by (guild, channel, stat): adding one that exists changes its period
# and turns it back on. The content hash is forgotten so the next refresh sends it.
ADD = """
INSERT INTO boards (guild_id, channel_id, stat, period, created_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (guild_id, channel_id, stat) DO UPDATE SET
    period = EXCLUDED.period, created_by = EXCLUDED.created_by, created_at = now(),
    content_hash = NULL, next_refresh_at = now(), failures = 0,
    disabled_at = NULL, disabled_reason = NULL
RETURNING id, (xmax = 0) AS inserted
"""

COUNT = "SELECT count(*) FROM boards WHERE guild_id = $1"

EXISTS = "SELECT true FROM boards WHERE guild_id = $1 AND channel_id = $2 AND stat = $3"

REMOVE = """
DELETE FROM boards WHERE guild_id = $1 AND channel_id = $2 AND stat = $3
RETURNING id, channel_id, message_id
"""

LIST = """
SELECT id, guild_id, channel_id, stat, period, created_by, created_at, message_id,
       refreshed_at, checked_at, disabled_at, disabled_reason, failures
FROM boards WHERE guild_id = $1 ORDER BY channel_id, stat
"""

# Due boards not leased by anyone (or whose lease ran out), oldest due first.
CLAIM = """
UPDATE boards b SET leased_by = $1, leased_until = now() + make_interval(secs => $2)
FROM (
    SELECT id FROM boards
    WHERE disabled_at IS NULL AND next_refresh_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_refresh_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
) due
WHERE b.id = due.id
RETURNING b.id, b.guild_id, b.channel_id, b.stat, b.period, b.message_id, b.posts,
          b.content_hash, b.checked_at, b.failures
"""

RENEW = """
UPDATE boards SET leased_until = now() + make_interval(secs => $3)
WHERE id = ANY($1::bigint[]) AND leased_by = $2
"""

# The refresh's outcome. A message seen deleted meanwhile (``message_id`` no longer the
# one the refresh started from) stays deleted: the next refresh posts it anew.
RECORD = """
UPDATE boards SET
    message_id = CASE WHEN message_id IS NOT DISTINCT FROM $3 THEN $4 ELSE message_id END,
    posts = $5,
    content_hash = CASE WHEN message_id IS NOT DISTINCT FROM $3 THEN $6 ELSE NULL END,
    checked_at = coalesce($7, checked_at),
    refreshed_at = now(),
    next_refresh_at = CASE WHEN message_id IS NOT DISTINCT FROM $3
                           THEN now() + make_interval(secs => $8) ELSE now() END,
    failures = 0, leased_by = NULL, leased_until = NULL
WHERE id = $1 AND leased_by = $2
RETURNING id
"""

# Boards whose render had not changed: their next refresh, in one statement.
RELEASE = """
UPDATE boards SET refreshed_at = now(), next_refresh_at = now() + make_interval(secs => $3),
    failures = 0, leased_by = NULL, leased_until = NULL
WHERE id = ANY($1::bigint[]) AND leased_by = $2
"""

# Boards a stopping process did not get to: free for the next one at once, still due.
UNLEASE = """
UPDATE boards SET leased_by = NULL, leased_until = NULL
WHERE id = ANY($1::bigint[]) AND leased_by = $2
"""

# ``posts`` stays: a post that failed (or timed out, and may have landed) is retried
# with the same nonce, which Discord answers with the message if it did land.
FAILED = """
UPDATE boards SET failures = failures + 1,
    next_refresh_at = now() + make_interval(secs => $3), leased_by = NULL, leased_until = NULL
WHERE id = $1 AND leased_by = $2
"""

DISABLE = """
UPDATE boards SET disabled_at = now(), disabled_reason = $2, leased_by = NULL,
    leased_until = NULL
WHERE id = $1 AND disabled_at IS NULL
RETURNING id
"""

DISABLE_GUILD = """
UPDATE boards SET disabled_at = now(), disabled_reason = $2, leased_by = NULL,
    leased_until = NULL
WHERE guild_id = $1 AND disabled_at IS NULL
RETURNING id
"""

DISABLE_CHANNEL = """
UPDATE boards SET disabled_at = now(), disabled_reason = $2, leased_by = NULL,
    leased_until = NULL
WHERE channel_id = $1 AND disabled_at IS NULL
RETURNING id
"""

# Messages Discord said were deleted: their boards post anew at the next cycle.
MESSAGES_GONE = """
UPDATE boards SET message_id = NULL, content_hash = NULL, next_refresh_at = now()
WHERE message_id = ANY($1::bigint[])
RETURNING id
"""

NEXT_DUE = "SELECT min(next_refresh_at) FROM boards WHERE disabled_at IS NULL"


@dataclass(frozen=True, slots=True)
class BoardClaim:
    """A board as a refresh found it."""

    id: int
    guild_id: int
    channel_id: int
    stat: str
    period: str
    message_id: int | None
    posts: int
    content_hash: str | None
    checked_at: datetime | None
    failures: int


@dataclass(frozen=True, slots=True)
class Added:
    id: int
    inserted: bool


class TooManyBoards(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"a guild may have {limit} boards")
        self.limit = limit


async def add(
    con: asyncpg.Connection,
    guild_id: int,
    channel_id: int,
    stat: str,
    period: str,
    user_id: int,
    limit: int,
) -> Added:
    """Add (or change and turn back on) a board; TooManyBoards past ``limit`` per guild.

    The guild's lock makes the count and the insert one step, so two admins adding at
    once cannot pass the limit together.
    """
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        exists = await con.fetchval(EXISTS, guild_id, channel_id, stat)
        if not exists and await con.fetchval(COUNT, guild_id) >= limit:
            raise TooManyBoards(limit)
        row = await con.fetchrow(ADD, guild_id, channel_id, stat, period, user_id)
    return Added(row["id"], row["inserted"])


async def remove(
    con: asyncpg.Connection, guild_id: int, channel_id: int, stat: str
) -> asyncpg.Record | None:
    return await con.fetchrow(REMOVE, guild_id, channel_id, stat)


async def list_boards(con: asyncpg.Connection, guild_id: int) -> list[asyncpg.Record]:
    return await con.fetch(LIST, guild_id)


async def claim(
    con: asyncpg.Connection, holder: str, lease_seconds: float, limit: int
) -> list[BoardClaim]:
    rows = await con.fetch(CLAIM, holder, lease_seconds, limit)
    return [BoardClaim(**dict(r)) for r in rows]


async def renew(
    con: asyncpg.Connection, ids: Sequence[int], holder: str, lease_seconds: float
) -> None:
    await con.execute(RENEW, list(ids), holder, lease_seconds)


async def record(
    con: asyncpg.Connection,
    board: BoardClaim,
    holder: str,
    *,
    message_id: int | None,
    posts: int,
    content_hash: str | None,
    checked_at: datetime | None,
    refresh_seconds: float,
) -> bool:
    """Store a refresh's outcome; False if the lease was lost meanwhile."""
    row = await con.fetchval(
        RECORD,
        board.id,
        holder,
        board.message_id,
        message_id,
        posts,
        content_hash,
        checked_at,
        refresh_seconds,
    )
    return row is not None


async def release(
    con: asyncpg.Connection, ids: Sequence[int], holder: str, refresh_seconds: float
) -> None:
    if ids:
        await con.execute(RELEASE, list(ids), holder, refresh_seconds)


async def unlease(con: asyncpg.Connection, ids: Sequence[int], holder: str) -> None:
    if ids:
        await con.execute(UNLEASE, list(ids), holder)


async def failed(con: asyncpg.Connection, board_id: int, holder: str, retry_seconds: float) -> None:
    await con.execute(FAILED, board_id, holder, retry_seconds)


async def disable(con: asyncpg.Connection, board_id: int, reason: str) -> bool:
    return await con.fetchval(DISABLE, board_id, reason) is not None


async def disable_guild(con: asyncpg.Connection, guild_id: int, reason: str) -> int:
    return len(await con.fetch(DISABLE_GUILD, guild_id, reason))


async def disable_channel(con: asyncpg.Connection, channel_id: int, reason: str) -> int:
    return len(await con.fetch(DISABLE_CHANNEL, channel_id, reason))


async def messages_gone(con: asyncpg.Connection, message_ids: Sequence[int]) -> int:
    if not message_ids:
        return 0
    return len(await con.fetch(MESSAGES_GONE, list(message_ids)))


async def next_due(con: asyncpg.Connection) -> datetime | None:
    return await con.fetchval(NEXT_DUE)
