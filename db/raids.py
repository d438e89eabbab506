"""Queries on raid weekends: the raid poller's write path, its schedule, and the reads.

A weekend is one row per clan and start time (``raid_weekends``) with its
members' attacks and loot (``raid_members``), rewritten by every reading:
the API always answers the whole weekend, so nothing adds up twice. An
answer older than the stored one (another cache) never takes a number back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from db.model import RaidWeekend

# Stored state of one weekend, locked for its writer. NO KEY UPDATE: a member list
# written meanwhile (raid_roster's foreign key takes KEY SHARE on the weekend, while
# holding players this writer then marks active) neither waits for it nor deadlocks.
STORED = """
SELECT state, seen_ongoing, ended_seen_at, read_at FROM raid_weekends
WHERE clan_tag = $1 AND start_time = $2
FOR NO KEY UPDATE
"""

# Weekends of the clan still stored running whose end is long past and which the
# answer no longer lists (older than the weekends it holds): closed as last seen,
# without a post (their end is not news any more).
CLOSE_FORGOTTEN = """
UPDATE raid_weekends SET state = 'ended', ended_seen_at = $2
WHERE clan_tag = $1 AND state = 'ongoing' AND end_time < $2::timestamptz - $3::interval
  AND NOT (start_time = ANY($4::timestamptz[]))
"""

STORED_ATTACKS = """
SELECT tag, attacks FROM raid_members WHERE clan_tag = $1 AND start_time = $2
"""

# Totals only grow while a weekend runs; an ended weekend is never reopened.
UPSERT_WEEKEND = """
INSERT INTO raid_weekends (clan_tag, start_time, end_time, state, capital_total_loot,
                           raids_completed, total_attacks, districts_destroyed,
                           offensive_reward, defensive_reward, first_seen_at, read_at,
                           seen_ongoing, ended_seen_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $4 = 'ongoing',
        CASE WHEN $4 <> 'ongoing' THEN $11::timestamptz END)
ON CONFLICT (clan_tag, start_time) DO UPDATE SET
    end_time = EXCLUDED.end_time,
    state = CASE WHEN raid_weekends.state <> 'ongoing' THEN raid_weekends.state
                 ELSE EXCLUDED.state END,
    capital_total_loot = greatest(raid_weekends.capital_total_loot,
                                  EXCLUDED.capital_total_loot),
    raids_completed = greatest(raid_weekends.raids_completed, EXCLUDED.raids_completed),
    total_attacks = greatest(raid_weekends.total_attacks, EXCLUDED.total_attacks),
    districts_destroyed = greatest(raid_weekends.districts_destroyed,
                                   EXCLUDED.districts_destroyed),
    offensive_reward = greatest(raid_weekends.offensive_reward, EXCLUDED.offensive_reward),
    defensive_reward = greatest(raid_weekends.defensive_reward, EXCLUDED.defensive_reward),
    read_at = greatest(raid_weekends.read_at, EXCLUDED.read_at),
    seen_ongoing = raid_weekends.seen_ongoing OR EXCLUDED.seen_ongoing,
    ended_seen_at = coalesce(raid_weekends.ended_seen_at, EXCLUDED.ended_seen_at)
"""

UPSERT_MEMBERS = """
INSERT INTO raid_members (clan_tag, start_time, tag, name, attacks, attack_limit,
                          bonus_attack_limit, looted)
SELECT $1, $2, u.tag, u.name, u.attacks, u.attack_limit, u.bonus, u.looted
FROM unnest($3::text[], $4::text[], $5::int[], $6::int[], $7::int[], $8::bigint[])
    AS u (tag, name, attacks, attack_limit, bonus, looted)
ON CONFLICT (clan_tag, start_time, tag) DO UPDATE SET
    name = EXCLUDED.name,
    attacks = greatest(raid_members.attacks, EXCLUDED.attacks),
    attack_limit = greatest(raid_members.attack_limit, EXCLUDED.attack_limit),
    bonus_attack_limit = greatest(raid_members.bonus_attack_limit,
                                  EXCLUDED.bonus_attack_limit),
    looted = greatest(raid_members.looted, EXCLUDED.looted)
"""

# A member list belongs to a weekend's roster when it was read while the weekend ran.
IN_WEEKEND = "({at} >= w.start_time AND {at} <= w.end_time)"

# The clan's member list, if the tracker read it while the weekend ran.
ROSTER_FROM_LIST = f"""
INSERT INTO raid_roster (clan_tag, start_time, tag)
SELECT w.clan_tag, w.start_time, m.tag
FROM raid_weekends w
JOIN clan_polls cp ON cp.clan_tag = w.clan_tag
CROSS JOIN LATERAL unnest(cp.members) AS m (tag)
WHERE w.clan_tag = $1 AND w.start_time = $2 AND {IN_WEEKEND.format(at="cp.observed_at")}
ON CONFLICT DO NOTHING
"""

# A member list read at $3: its members were in the clan during any weekend running then.
NOTE_ROSTER = f"""
INSERT INTO raid_roster (clan_tag, start_time, tag)
SELECT w.clan_tag, w.start_time, m.tag
FROM raid_weekends w CROSS JOIN unnest($2::text[]) AS m (tag)
WHERE w.clan_tag = $1 AND {IN_WEEKEND.format(at="$3::timestamptz")}
ON CONFLICT DO NOTHING
"""

GET_WEEKEND = "SELECT * FROM raid_weekends WHERE clan_tag = $1 AND start_time = $2"

# The clan's weekend $2 weeks before its latest (weekends begin a week apart; a day's
# slack either way).
NTH_WEEKEND = """
SELECT w.* FROM raid_weekends w,
    (SELECT max(start_time) - make_interval(days => 7 * $2) AS at
     FROM raid_weekends WHERE clan_tag = $1) AS wanted
WHERE w.clan_tag = $1
  AND w.start_time BETWEEN wanted.at - interval '1 day' AND wanted.at + interval '1 day'
ORDER BY w.start_time DESC
LIMIT 1
"""

MEMBERS = """
SELECT tag, name, attacks, attack_limit, bonus_attack_limit, looted FROM raid_members
WHERE clan_tag = $1 AND start_time = $2
ORDER BY looted DESC, attacks DESC, name, tag
"""

# Roster members who made no attack (absent from the raid, or listed with 0 attacks).
NON_RAIDERS = """
SELECT r.tag, coalesce(p.name, r.tag) AS name
FROM raid_roster r LEFT JOIN players p ON p.tag = r.tag
WHERE r.clan_tag = $1 AND r.start_time = $2
  AND NOT EXISTS (SELECT 1 FROM raid_members m WHERE m.clan_tag = r.clan_tag
                  AND m.start_time = r.start_time AND m.tag = r.tag AND m.attacks > 0)
ORDER BY name, r.tag
"""

CLAN_NAME = "SELECT name FROM clan_polls WHERE clan_tag = $1"

ROSTER_SIZE = "SELECT count(*) FROM raid_roster WHERE clan_tag = $1 AND start_time = $2"

# The guild's tracked players' capital gold looted in the latest raid weekend of the
# guild's clans (the one running, or the last one): in every clan they raided with.
BOARD_LOOTED = """
WITH latest AS (
    SELECT max(w.start_time) AS start_time
    FROM raid_weekends w JOIN tracked_clans tc ON tc.clan_tag = w.clan_tag
    WHERE tc.guild_id = $1
)
SELECT t.tag, p.name,
       (SELECT coalesce(sum(m.looted), 0) FROM raid_members m
        WHERE m.tag = t.tag AND m.start_time = latest.start_time)::bigint AS value,
       EXISTS (SELECT 1 FROM links l WHERE l.tag = t.tag AND l.user_id = $2) AS mine,
       latest.start_time
FROM (SELECT DISTINCT tag FROM tracked_players WHERE guild_id = $1) t
CROSS JOIN latest
LEFT JOIN players p ON p.tag = t.tag
"""

# -- the schedule ---------------------------------------------------------------------------

SCHEDULE_CLAN = "INSERT INTO raid_polls (clan_tag) VALUES ($1) ON CONFLICT (clan_tag) DO NOTHING"

# The writer's guard: the clan is still polled (an untrack waits for the write).
STILL_POLLED = "SELECT true FROM raid_polls WHERE clan_tag = $1 FOR SHARE"

UNSCHEDULE_ORPHAN = """
DELETE FROM raid_polls rp WHERE rp.clan_tag = $1
  AND NOT EXISTS (SELECT 1 FROM tracked_clans tc WHERE tc.clan_tag = rp.clan_tag)
"""

LEASE = """
WITH due AS (
    SELECT clan_tag FROM raid_polls
    WHERE next_poll_at <= now() AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_poll_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE raid_polls r SET leased_until = now() + make_interval(secs => $2), leased_by = $3
FROM due WHERE r.clan_tag = due.clan_tag
RETURNING r.clan_tag
"""

POLLED = """
UPDATE raid_polls SET leased_until = NULL, leased_by = NULL, last_polled_at = now(),
    next_poll_at = now() + make_interval(secs => $2), last_error = $3
WHERE clan_tag = $1 AND leased_by = $4
"""

RELEASE = """
UPDATE raid_polls SET leased_until = NULL, leased_by = NULL
WHERE clan_tag = ANY($1::text[]) AND leased_by = $2
"""


@dataclass(frozen=True, slots=True)
class StoredWeekend:
    state: str
    seen_ongoing: bool
    ended_seen_at: datetime | None
    read_at: datetime


async def stored(con: asyncpg.Connection, clan_tag: str, start: datetime) -> StoredWeekend | None:
    row = await con.fetchrow(STORED, clan_tag, start)
    return None if row is None else StoredWeekend(**dict(row))


async def stored_attacks(con: asyncpg.Connection, clan_tag: str, start: datetime) -> dict[str, int]:
    return {r["tag"]: r["attacks"] for r in await con.fetch(STORED_ATTACKS, clan_tag, start)}


async def save_weekend(con: asyncpg.Connection, weekend: RaidWeekend, at: datetime) -> None:
    w = weekend
    await con.execute(
        UPSERT_WEEKEND, w.clan_tag, w.start_time, w.end_time, w.state, w.capital_total_loot,
        w.raids_completed, w.total_attacks, w.districts_destroyed, w.offensive_reward,
        w.defensive_reward, at,
    )  # fmt: skip
    if w.members:
        ms = w.members
        await con.execute(
            UPSERT_MEMBERS, w.clan_tag, w.start_time, [m.tag for m in ms], [m.name for m in ms],
            [m.attacks for m in ms], [m.attack_limit for m in ms],
            [m.bonus_attack_limit for m in ms], [m.looted for m in ms],
        )  # fmt: skip
    await con.execute(ROSTER_FROM_LIST, w.clan_tag, w.start_time)


async def close_forgotten(
    con: asyncpg.Connection,
    clan_tag: str,
    at: datetime,
    after: timedelta,
    listed: Sequence[datetime],
) -> int:
    """Close the clan's weekends stored running, ended more than ``after`` before ``at``
    and not in the answer (its weekends start at ``listed``)."""
    status = await con.execute(CLOSE_FORGOTTEN, clan_tag, at, after, list(listed))
    return int(status.split()[-1])


async def note_roster(
    con: asyncpg.Connection, clan_tag: str, members: Sequence[str], at: datetime
) -> None:
    """A member list of ``clan_tag`` read at ``at``: its members belong to the roster of
    any stored weekend running then."""
    if members:
        await con.execute(NOTE_ROSTER, clan_tag, list(members), at)


async def get_weekend(
    con: asyncpg.Connection, clan_tag: str, start: datetime
) -> asyncpg.Record | None:
    return await con.fetchrow(GET_WEEKEND, clan_tag, start)


async def nth_weekend(
    con: asyncpg.Connection, clan_tag: str, weeks_ago: int
) -> asyncpg.Record | None:
    return await con.fetchrow(NTH_WEEKEND, clan_tag, weeks_ago)


async def members(con: asyncpg.Connection, clan_tag: str, start: datetime) -> list[asyncpg.Record]:
    return await con.fetch(MEMBERS, clan_tag, start)


async def non_raiders(
    con: asyncpg.Connection, clan_tag: str, start: datetime
) -> list[tuple[str, str]]:
    return [(r["tag"], r["name"]) for r in await con.fetch(NON_RAIDERS, clan_tag, start)]


async def clan_name(con: asyncpg.Connection, clan_tag: str) -> str | None:
    """The clan's name as the tracker last read it."""
    name = await con.fetchval(CLAN_NAME, clan_tag)
    return name if isinstance(name, str) else None


async def roster_size(con: asyncpg.Connection, clan_tag: str, start: datetime) -> int:
    return int(await con.fetchval(ROSTER_SIZE, clan_tag, start) or 0)


async def board_looted(
    con: asyncpg.Connection, guild_id: int, user_id: int
) -> list[asyncpg.Record]:
    return await con.fetch(BOARD_LOOTED, guild_id, user_id)


async def schedule_clan(con: asyncpg.Connection, clan_tag: str) -> None:
    await con.execute(SCHEDULE_CLAN, clan_tag)


async def still_polled(con: asyncpg.Connection, clan_tag: str) -> bool:
    """Whether the clan is still polled; holds its schedule row until the transaction ends."""
    return bool(await con.fetchval(STILL_POLLED, clan_tag))


async def unschedule_orphan(con: asyncpg.Connection, clan_tag: str) -> None:
    await con.execute(UNSCHEDULE_ORPHAN, clan_tag)


async def lease(con: asyncpg.Connection, limit: int, seconds: float, owner: str) -> list[str]:
    return [r["clan_tag"] for r in await con.fetch(LEASE, limit, seconds, owner)]


async def polled(
    con: asyncpg.Connection, clan_tag: str, delay: float, error: str | None, owner: str
) -> None:
    await con.execute(POLLED, clan_tag, delay, error, owner)


async def release(con: asyncpg.Connection, clan_tags: Sequence[str], owner: str) -> None:
    if clan_tags:
        await con.execute(RELEASE, list(clan_tags), owner)
