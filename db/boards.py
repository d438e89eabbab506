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
    content_hash = NULL, next_refresh_at = now(), failures = 0, revision = boards.revision + 1,
    disabled_at = NULL, disabled_reason = NULL
RETURNING id, (xmax = 0) AS inserted
"""

# Boards turned off do not count: a board whose channel is gone could not be removed.
COUNT = "SELECT count(*) FROM boards WHERE guild_id = $1 AND disabled_at IS NULL"

# Whether the board exists and is on (NULL: no such board).
ENABLED = """
SELECT disabled_at IS NULL FROM boards WHERE guild_id = $1 AND channel_id = $2 AND stat = $3
"""

REMOVE = """
DELETE FROM boards WHERE guild_id = $1 AND channel_id = $2 AND stat = $3
RETURNING message_id
"""

STILL_THERE = "SELECT true FROM boards WHERE id = $1"

# The channels that hold a board: the gateway's delete events elsewhere are ignored.
CHANNELS = "SELECT DISTINCT channel_id FROM boards WHERE disabled_at IS NULL"

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
          b.content_hash, b.checked_at, b.failures, b.revision
"""

RENEW = """
UPDATE boards SET leased_until = now() + make_interval(secs => $3)
WHERE id = ANY($1::bigint[]) AND leased_by = $2
"""

# The refresh's outcome ($3: the message it started from, $4: the one it leaves). A
# message it posted is always kept (it is the live one). Otherwise a message seen deleted
# meanwhile (the stored one is no longer $3) stays deleted, to be posted anew. If the
# board changed meanwhile ($9: the revision claimed), it is due again at once.
RECORD = """
UPDATE boards SET
    message_id = CASE WHEN $4::bigint IS DISTINCT FROM $3::bigint
                        OR message_id IS NOT DISTINCT FROM $3::bigint
                      THEN $4 ELSE message_id END,
    posts = $5,
    content_hash = CASE WHEN revision = $9
                             AND ($4::bigint IS DISTINCT FROM $3::bigint
                                  OR message_id IS NOT DISTINCT FROM $3::bigint)
                        THEN $6 END,
    checked_at = coalesce($7, checked_at),
    refreshed_at = now(),
    next_refresh_at = CASE WHEN revision = $9
                                AND ($4::bigint IS DISTINCT FROM $3::bigint
                                     OR message_id IS NOT DISTINCT FROM $3::bigint)
                           THEN now() + make_interval(secs => $8) ELSE now() END,
    failures = 0, leased_by = NULL, leased_until = NULL
WHERE id = $1 AND leased_by = $2
RETURNING id
"""

# Boards whose render had not changed ($1 ids, $4 the revisions claimed): their next
# refresh, in one statement; one changed meanwhile is due at once.
RELEASE = """
UPDATE boards b SET refreshed_at = now(), failures = 0, leased_by = NULL, leased_until = NULL,
    next_refresh_at = CASE WHEN b.revision = u.revision
                           THEN now() + make_interval(secs => $3) ELSE now() END
FROM unnest($1::bigint[], $4::int[]) AS u (id, revision)
WHERE b.id = u.id AND b.leased_by = $2
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

# By the refresh holding the board, and only if nothing changed since its claim (an admin
# turning it back on meanwhile has the last word).
DISABLE = """
UPDATE boards SET disabled_at = now(), disabled_reason = $2, leased_by = NULL,
    leased_until = NULL
WHERE id = $1 AND disabled_at IS NULL AND leased_by = $3 AND revision = $4
RETURNING id
"""

DISABLE_GUILD = """
UPDATE boards SET disabled_at = now(), disabled_reason = $2, leased_by = NULL,
    leased_until = NULL
WHERE guild_id = $1 AND disabled_at IS NULL
RETURNING id
"""

# A deleted channel's boards go: their messages went with it, and Discord offers no
# deleted channel to /board remove.
DELETE_CHANNEL = "DELETE FROM boards WHERE guild_id = $1 AND channel_id = $2 RETURNING id"

# A board whose channel Discord says is unknown (deleted while no process heard it).
DELETE_BOARD = "DELETE FROM boards WHERE id = $1"

# Messages Discord said were deleted: their boards post anew at the next cycle.
MESSAGES_GONE = """
UPDATE boards SET message_id = NULL, content_hash = NULL, next_refresh_at = now(),
    revision = revision + 1
WHERE message_id = ANY($1::bigint[])
RETURNING id
"""

# Seconds until a board can next be claimed (due, and its lease free); NULL: no board.
# Computed by the database's clock, the one the claims use.
NEXT_DUE = """
SELECT extract(epoch FROM min(greatest(next_refresh_at, coalesce(leased_until, next_refresh_at)))
               - now())::float8
FROM boards WHERE disabled_at IS NULL
"""


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
    revision: int


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
        enabled = await con.fetchval(ENABLED, guild_id, channel_id, stat)
        # A new board, or one turned off coming back, takes a place.
        if not enabled and await con.fetchval(COUNT, guild_id) >= limit:
            raise TooManyBoards(limit)
        row = await con.fetchrow(ADD, guild_id, channel_id, stat, period, user_id)
    return Added(row["id"], row["inserted"])


@dataclass(frozen=True, slots=True)
class Removed:
    """A board removed, and its message (None if it had none)."""

    message_id: int | None


async def remove(
    con: asyncpg.Connection, guild_id: int, channel_id: int, stat: str
) -> Removed | None:
    row = await con.fetchrow(REMOVE, guild_id, channel_id, stat)
    return None if row is None else Removed(row["message_id"])


async def still_there(con: asyncpg.Connection, board_id: int) -> bool:
    return bool(await con.fetchval(STILL_THERE, board_id))


async def channels(con: asyncpg.Connection) -> set[int]:
    return {r["channel_id"] for r in await con.fetch(CHANNELS)}


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
        board.revision,
    )
    return row is not None


async def release(
    con: asyncpg.Connection, claims: Sequence[BoardClaim], holder: str, refresh_seconds: float
) -> None:
    if claims:
        ids, revisions = [c.id for c in claims], [c.revision for c in claims]
        await con.execute(RELEASE, ids, holder, refresh_seconds, revisions)


async def unlease(con: asyncpg.Connection, ids: Sequence[int], holder: str) -> None:
    if ids:
        await con.execute(UNLEASE, list(ids), holder)


async def failed(con: asyncpg.Connection, board_id: int, holder: str, retry_seconds: float) -> None:
    await con.execute(FAILED, board_id, holder, retry_seconds)


async def disable(con: asyncpg.Connection, board: BoardClaim, holder: str, reason: str) -> bool:
    return await con.fetchval(DISABLE, board.id, reason, holder, board.revision) is not None


async def disable_guild(con: asyncpg.Connection, guild_id: int, reason: str) -> int:
    return len(await con.fetch(DISABLE_GUILD, guild_id, reason))


async def delete_channel(con: asyncpg.Connection, guild_id: int, channel_id: int) -> int:
    return len(await con.fetch(DELETE_CHANNEL, guild_id, channel_id))


async def delete_board(con: asyncpg.Connection, board_id: int) -> None:
    await con.execute(DELETE_BOARD, board_id)


async def messages_gone(con: asyncpg.Connection, message_ids: Sequence[int]) -> int:
    if not message_ids:
        return 0
    return len(await con.fetch(MESSAGES_GONE, list(message_ids)))


async def seconds_to_next(con: asyncpg.Connection) -> float | None:
    return await con.fetchval(NEXT_DUE)
