"""Per-guild and per-user write locks, so that limit checks and inserts cannot race.

A command that checks a limit (500 players, 10 clans, 20 links) and then
inserts takes the lock first: two commands at once then run one after the
other, and the second sees the first's rows. Order: guild locks, then user
locks, then player locks (``db.player_state``), each kind in the order of its lock keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

# Two-int advisory lock spaces (see db.player_state.PLAYER_LOCK_SPACE).
GUILD_LOCK_SPACE = 0x474C  # "GL"
USER_LOCK_SPACE = 0x554C  # "UL"


def lock_ids_sql(ids: str, space: str) -> str:
    """A statement locking the ids the SQL row source ``ids`` yields (bigint), in
    ``space``, in the order of their keys: the one lock order every caller shares.

    A guild or user id is a 64-bit snowflake: hashed into the lock's 32-bit key; a
    collision only makes two guilds wait for each other.
    """
    return f"""
SELECT count(pg_advisory_xact_lock({space}, h))
FROM (SELECT DISTINCT hashtext(k::text) AS h FROM ({ids}) AS u (k) ORDER BY h) AS s
"""


LOCK_KEYS = lock_ids_sql("SELECT unnest($1::bigint[])", "$2")


async def lock_guilds(con: asyncpg.Connection, guild_ids: Sequence[int]) -> None:
    """Hold the guilds' locks until the transaction ends."""
    if guild_ids:
        await con.fetchval(LOCK_KEYS, list(guild_ids), GUILD_LOCK_SPACE)


async def lock_user(con: asyncpg.Connection, user_id: int) -> None:
    await con.fetchval(LOCK_KEYS, [user_id], USER_LOCK_SPACE)
