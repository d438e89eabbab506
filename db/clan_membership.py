"""A tracked clan's members: who the guilds that track the clan follow through it.

Every member the clan's list shows is tracked by each guild that tracks the
clan (within the guild's player limit); a member the list no longer shows is
dropped by those guilds unless a guild also tracks them on their own. The
tracker's clan poll and ``/track clan`` both come through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from db.guild_locks import GUILD_LOCK_SPACE, lock_ids_sql

# The locks of every guild tracking the clan and of the guilds in $2, in one round trip
# (the clan's guilds read by the same statement).
LOCK_CLAN_GUILDS = lock_ids_sql(
    "SELECT guild_id FROM tracked_clans WHERE clan_tag = $1 UNION ALL SELECT unnest($2::bigint[])",
    "$3",
)

# Members newly tracked by each guild, in the list's order, up to the room the
# guild has left under its limit ($3); members already tracked keep their row.
# Then, in the same round trip, the members of the list that no guild tracks (every
# guild tracking the clan is full): the outer query's snapshot does not show the rows
# the insert added, so those come from its RETURNING.
FOLLOW_MEMBERS = """
WITH guilds AS (
    SELECT tc.guild_id, tc.added_by,
           $3 - (SELECT count(*) FROM tracked_players t WHERE t.guild_id = tc.guild_id) AS room
    FROM tracked_clans tc WHERE tc.clan_tag = $1
), candidates AS (
    SELECT g.guild_id, g.added_by, g.room, m.tag, m.n,
           EXISTS (SELECT 1 FROM tracked_players t
                   WHERE t.guild_id = g.guild_id AND t.tag = m.tag) AS present
    FROM guilds g CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS m (tag, n)
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY guild_id, present ORDER BY n) AS k
    FROM candidates
), followed AS (
    INSERT INTO tracked_players (guild_id, tag, direct, via_clan, added_by)
    SELECT guild_id, tag, false, $1, added_by FROM ranked
    WHERE present OR k <= room
    ON CONFLICT (guild_id, tag) DO UPDATE SET via_clan = EXCLUDED.via_clan
    RETURNING tag
)
SELECT m.tag FROM unnest($2::text[]) AS m (tag)
WHERE NOT EXISTS (SELECT 1 FROM tracked_players t WHERE t.tag = m.tag)
  AND NOT EXISTS (SELECT 1 FROM followed f WHERE f.tag = m.tag)
"""

# Members who left: the clan no longer claims them; untracked unless direct.
RELEASE_LEAVERS = """
WITH dropped AS (
    DELETE FROM tracked_players
    WHERE via_clan = $1 AND NOT (tag = ANY($2::text[])) AND NOT direct
    RETURNING tag
)
UPDATE tracked_players SET via_clan = NULL
WHERE via_clan = $1 AND NOT (tag = ANY($2::text[])) AND direct
"""

# The newest list wins: a command's cached lookup may arrive after a fresher poll.
CLAN_READ = """
UPDATE clan_polls SET members = $2, name = COALESCE($3, name), observed_at = $4
WHERE clan_tag = $1 AND (observed_at IS NULL OR observed_at <= $4)
RETURNING clan_tag
"""

# Polled by the lease's owner: due again after the interval.
CLAN_POLLED = """
UPDATE clan_polls SET leased_until = NULL, leased_by = NULL, misses = 0,
    last_polled_at = now(), last_error = NULL,
    next_poll_at = now() + make_interval(secs => $2)
WHERE clan_tag = $1 AND leased_by = $3
"""

CLAN_STATE = "SELECT members, observed_at FROM clan_polls WHERE clan_tag = $1"


async def lock_clan_guilds(
    con: asyncpg.Connection, clan_tag: str, also: Sequence[int] = ()
) -> None:
    """Lock every guild that tracks the clan, and ``also`` these, in one ordered call
    (before any player lock: one lock order everywhere)."""
    await con.fetchval(LOCK_CLAN_GUILDS, clan_tag, list(also), GUILD_LOCK_SPACE)


async def clan_state(con: asyncpg.Connection, clan_tag: str) -> tuple[list[str], datetime | None]:
    """The members stored at the clan's last reading, and when it was read."""
    row = await con.fetchrow(CLAN_STATE, clan_tag)
    if row is None:
        return [], None
    return list(row["members"] or []), row["observed_at"]


async def follow_members(
    con: asyncpg.Connection, clan_tag: str, members: Sequence[str], limit: int
) -> list[str]:
    """Track the clan's current members in every guild tracking it, within ``limit``
    players a guild. Returns the members no guild could take (all full)."""
    return [r["tag"] for r in await con.fetch(FOLLOW_MEMBERS, clan_tag, list(members), limit)]


async def release_leavers(con: asyncpg.Connection, clan_tag: str, members: Sequence[str]) -> None:
    """Drop the clan's claim on everyone not in ``members``."""
    await con.execute(RELEASE_LEAVERS, clan_tag, list(members))


async def record_read(
    con: asyncpg.Connection, clan_tag: str, members: Sequence[str], name: str | None, at: datetime
) -> bool:
    """Store the member list read at ``at``; False if a newer one is already stored."""
    return await con.fetchval(CLAN_READ, clan_tag, list(members), name, at) is not None


async def clan_polled(con: asyncpg.Connection, clan_tag: str, interval: float, owner: str) -> None:
    await con.execute(CLAN_POLLED, clan_tag, interval, owner)
