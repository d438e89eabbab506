"""Queries on what guilds track: players, clans, and their place in the schedule.

The tracker's own write path lives in ``db.player_state`` and
``db.clan_membership``; this module serves the commands. Adding to a guild's
list checks its limit under the guild's lock, so two commands at once cannot
both pass the check.
"""

from __future__ import annotations

import enum

import asyncpg

from db import raids, war_reminders, wars
from db.clan_membership import lock_clan_guilds
from db.guild_locks import lock_guilds
from db.schedule import retracked, unschedule_orphans


class Tracked(enum.Enum):
    NEW = "new"
    ALREADY = "already"
    FULL = "full"  # the guild's limit is reached: nothing was added


COUNT_GUILD_PLAYERS = "SELECT count(*) FROM tracked_players WHERE guild_id = $1"
COUNT_GUILD_CLANS = "SELECT count(*) FROM tracked_clans WHERE guild_id = $1"
IS_TRACKED = "SELECT EXISTS (SELECT 1 FROM tracked_players WHERE guild_id = $1 AND tag = $2)"
IS_CLAN_TRACKED = (
    "SELECT EXISTS (SELECT 1 FROM tracked_clans WHERE guild_id = $1 AND clan_tag = $2)"
)

TRACK_PLAYER = """
INSERT INTO tracked_players (guild_id, tag, direct, added_by) VALUES ($1, $2, true, $3)
ON CONFLICT (guild_id, tag) DO UPDATE SET direct = true
RETURNING (xmax = 0) AS inserted, added_at
"""

# A new tag is due at once; one already scheduled keeps its place.
SCHEDULE_PLAYER = """
INSERT INTO player_polls (tag, next_poll_at) VALUES ($1, now())
ON CONFLICT (tag) DO UPDATE SET gone_at = NULL, misses = 0,
    next_poll_at = CASE WHEN player_polls.gone_at IS NULL THEN player_polls.next_poll_at
                        ELSE now() END
"""

IS_DIRECT = "SELECT direct, via_clan FROM tracked_players WHERE guild_id = $1 AND tag = $2"

UNTRACK_PLAYER = """
WITH changed AS (
    UPDATE tracked_players SET direct = false
    WHERE guild_id = $1 AND tag = $2 AND direct AND via_clan IS NOT NULL
    RETURNING tag
)
DELETE FROM tracked_players
WHERE guild_id = $1 AND tag = $2 AND via_clan IS NULL
RETURNING tag
"""

TRACK_CLAN = """
INSERT INTO tracked_clans (guild_id, clan_tag, added_by) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, clan_tag) DO NOTHING
RETURNING clan_tag
"""

SCHEDULE_CLAN = """
INSERT INTO clan_polls (clan_tag, name, next_poll_at) VALUES ($1, $2, now())
ON CONFLICT (clan_tag) DO UPDATE SET gone_at = NULL, misses = 0,
    name = COALESCE(EXCLUDED.name, clan_polls.name)
"""

UNTRACK_CLAN = "DELETE FROM tracked_clans WHERE guild_id = $1 AND clan_tag = $2 RETURNING clan_tag"

UNSCHEDULE_ORPHAN_CLAN = """
DELETE FROM clan_polls cp
WHERE cp.clan_tag = $1
  AND NOT EXISTS (SELECT 1 FROM tracked_clans tc WHERE tc.clan_tag = cp.clan_tag)
"""

# Members tracked through this clan in this guild: drop the clan's claim.
RELEASE_CLAN_MEMBERS = """
WITH dropped AS (
    DELETE FROM tracked_players
    WHERE guild_id = $1 AND via_clan = $2 AND NOT direct
    RETURNING tag
), kept AS (
    UPDATE tracked_players SET via_clan = NULL
    WHERE guild_id = $1 AND via_clan = $2 AND direct
    RETURNING tag
)
SELECT array_agg(tag) FROM (SELECT tag FROM dropped UNION ALL SELECT tag FROM kept) AS t
"""

GUILD_PLAYERS = """
SELECT tp.tag, tp.direct, tp.via_clan, tp.added_at, p.name, p.town_hall, p.trophies,
       pp.gone_at
FROM tracked_players tp
LEFT JOIN players p USING (tag)
LEFT JOIN player_polls pp USING (tag)
WHERE tp.guild_id = $1
ORDER BY lower(coalesce(p.name, tp.tag)), tp.tag
"""

GUILD_CLANS = """
SELECT tc.clan_tag, tc.added_at, cp.name, cardinality(cp.members) AS members, cp.gone_at
FROM tracked_clans tc LEFT JOIN clan_polls cp USING (clan_tag)
WHERE tc.guild_id = $1
ORDER BY tc.added_at, tc.clan_tag
"""

TRACKING_INFO = """
SELECT tp.added_at, p.changed_at,
       (SELECT e.kind || ': ' || coalesce(e.old_value, '') || ' -> ' || coalesce(e.new_value, '')
               || coalesce(' (' || CASE WHEN e.delta > 0 THEN '+' ELSE '' END || e.delta || ')', '')
        FROM player_events e WHERE e.tag = tp.tag ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1)
           AS last_event,
       (SELECT max(e.occurred_at) FROM player_events e WHERE e.tag = tp.tag) AS last_event_at
FROM tracked_players tp LEFT JOIN players p USING (tag)
WHERE tp.guild_id = $1 AND tp.tag = $2
"""

# Autocomplete: the user's links first, then the guild's tracked players,
# matched on tag or name (strpos, not LIKE, so user input holds no wildcards).
AUTOCOMPLETE_TAGS = """
SELECT c.tag, p.name
FROM (
    SELECT tag, min(rank) AS rank
    FROM (
        SELECT tag, 0 AS rank FROM links WHERE user_id = $1
        UNION ALL
        SELECT tag, 1 FROM tracked_players WHERE guild_id = $2
    ) u
    GROUP BY tag
) c
LEFT JOIN players p USING (tag)
WHERE $3 = '' OR strpos(c.tag, $3) > 0 OR strpos(lower(p.name), lower($4)) > 0
ORDER BY c.rank, lower(coalesce(p.name, c.tag)), c.tag
LIMIT $5
"""


async def count_guild_players(con: asyncpg.Connection, guild_id: int) -> int:
    return int(await con.fetchval(COUNT_GUILD_PLAYERS, guild_id))


async def count_guild_clans(con: asyncpg.Connection, guild_id: int) -> int:
    return int(await con.fetchval(COUNT_GUILD_CLANS, guild_id))


async def track_player(
    con: asyncpg.Connection, guild_id: int, tag: str, user_id: int, *, limit: int | None = None
) -> Tracked:
    """Track ``tag`` directly in the guild and schedule it.

    With ``limit``, a player not tracked yet is refused (``Tracked.FULL``) when
    the guild already tracks that many.
    """
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        if limit is not None and not await con.fetchval(IS_TRACKED, guild_id, tag):
            if await count_guild_players(con, guild_id) >= limit:
                return Tracked.FULL
        row = await con.fetchrow(TRACK_PLAYER, guild_id, tag, user_id)
        await con.execute(SCHEDULE_PLAYER, tag)
        await retracked(con, [tag])
    return Tracked.NEW if row and row["inserted"] else Tracked.ALREADY


async def untrack_player(con: asyncpg.Connection, guild_id: int, tag: str) -> str | None:
    """Stop tracking ``tag`` directly. Returns None if it was not tracked directly,
    ``"clan"`` if it stays tracked through a clan, ``"removed"`` otherwise."""
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        row = await con.fetchrow(IS_DIRECT, guild_id, tag)
        if row is None or not row["direct"]:
            return None
        await con.execute(UNTRACK_PLAYER, guild_id, tag)
        await unschedule_orphans(con, [tag])
    return "clan" if row["via_clan"] else "removed"


async def track_clan(
    con: asyncpg.Connection,
    guild_id: int,
    clan_tag: str,
    name: str | None,
    user_id: int,
    *,
    limit: int | None = None,
) -> Tracked:
    """Track a clan in the guild and schedule it; with ``limit``, a new clan is refused
    (``Tracked.FULL``) when the guild already tracks that many clans. Its members are
    followed by the clan's readings (``db.clan_membership``), within the player limit."""
    async with con.transaction():
        # Every guild the clan's readings write for, this one included, in one ordered
        # call: taking this guild's lock first could deadlock with a poll of the clan.
        await lock_clan_guilds(con, clan_tag, also=[guild_id])
        if limit is not None and not await con.fetchval(IS_CLAN_TRACKED, guild_id, clan_tag):
            if await count_guild_clans(con, guild_id) >= limit:
                return Tracked.FULL
        inserted = await con.fetchval(TRACK_CLAN, guild_id, clan_tag, user_id)
        await con.execute(SCHEDULE_CLAN, clan_tag, name)
        await wars.schedule_clan(con, clan_tag)
        await raids.schedule_clan(con, clan_tag)
    return Tracked.NEW if inserted is not None else Tracked.ALREADY


async def untrack_clan(con: asyncpg.Connection, guild_id: int, clan_tag: str) -> bool:
    # Under the guild's lock: a clan reading writing a joiner for this guild at the same
    # moment would otherwise leave it tracked through a clan the guild no longer tracks.
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        if await con.fetchval(UNTRACK_CLAN, guild_id, clan_tag) is None:
            return False
        released = await con.fetchval(RELEASE_CLAN_MEMBERS, guild_id, clan_tag) or []
        await unschedule_orphans(con, released)
        await con.execute(UNSCHEDULE_ORPHAN_CLAN, clan_tag)
        await wars.unschedule_orphan(con, clan_tag)
        await raids.unschedule_orphan(con, clan_tag)
        await war_reminders.turn_off(con, guild_id, clan_tag)
    return True


async def guild_players(con: asyncpg.Connection, guild_id: int) -> list[asyncpg.Record]:
    return await con.fetch(GUILD_PLAYERS, guild_id)


async def guild_clans(con: asyncpg.Connection, guild_id: int) -> list[asyncpg.Record]:
    return await con.fetch(GUILD_CLANS, guild_id)


async def tracking_info(con: asyncpg.Connection, guild_id: int, tag: str) -> asyncpg.Record | None:
    return await con.fetchrow(TRACKING_INFO, guild_id, tag)


async def autocomplete_tags(
    con: asyncpg.Connection,
    user_id: int,
    guild_id: int | None,
    tag_part: str,
    name_part: str,
    limit: int = 25,
) -> list[asyncpg.Record]:
    """The user's links, then the guild's players, whose tag contains ``tag_part`` or
    whose name contains ``name_part`` (both empty: all). Neither may hold a NUL."""
    return await con.fetch(AUTOCOMPLETE_TAGS, user_id, guild_id or 0, tag_part, name_part, limit)
