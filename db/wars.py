"""Queries on wars: the write path of the war poller, and the schedule of war polls.

A war is stored once per tracked clan (``wars``), with its lineup
(``war_members``) and every attack once (``war_attacks``, keyed by the war
and the attack's order), whatever the number of polls that saw it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.model import WarSnapshot

# A newer reading of an open war updates it; a closed war is never reopened, except one
# closed because nobody tracked its clan any more, tracked again while it runs.
UPSERT_WAR = """
INSERT INTO wars (clan_tag, opponent_tag, preparation_start, start_time, end_time, state,
                  team_size, attacks_per_member, war_tag, league_season, cwl_round, clan_name,
                  opponent_name, clan_stars, clan_destruction, clan_attacks, opponent_stars,
                  opponent_destruction, opponent_attacks, first_seen_at, last_seen_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
        $20, $20)
ON CONFLICT (clan_tag, opponent_tag, preparation_start) DO UPDATE SET
    start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time, state = EXCLUDED.state,
    team_size = EXCLUDED.team_size, clan_name = EXCLUDED.clan_name,
    opponent_name = EXCLUDED.opponent_name, clan_stars = EXCLUDED.clan_stars,
    clan_destruction = EXCLUDED.clan_destruction, clan_attacks = EXCLUDED.clan_attacks,
    opponent_stars = EXCLUDED.opponent_stars,
    opponent_destruction = EXCLUDED.opponent_destruction,
    opponent_attacks = EXCLUDED.opponent_attacks, last_seen_at = EXCLUDED.last_seen_at,
    closed_at = NULL, closed_how = NULL
WHERE (wars.closed_at IS NULL
       OR (wars.closed_how = 'untracked' AND EXCLUDED.state <> 'warEnded'))
  AND wars.last_seen_at <= EXCLUDED.last_seen_at
  -- An answer older than the one stored (another cache, another key) never takes a
  -- war back: attacks only add up, and the state only moves forward.
  AND EXCLUDED.clan_attacks + EXCLUDED.opponent_attacks >= wars.clan_attacks + wars.opponent_attacks
  AND array_position(ARRAY['preparation', 'inWar', 'warEnded'], EXCLUDED.state)
      >= array_position(ARRAY['preparation', 'inWar', 'warEnded'], wars.state)
RETURNING id, (xmax = 0) AS inserted
"""

WAR_ID = """
SELECT id, closed_at FROM wars
WHERE clan_tag = $1 AND opponent_tag = $2 AND preparation_start = $3
"""

SAVE_MEMBERS = """
INSERT INTO war_members (war_id, tag, side, name, town_hall, map_position, war_end)
SELECT $1, u.tag, u.side, u.name, u.th, u.pos, $7
FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[])
     AS u (tag, side, name, th, pos)
ON CONFLICT (war_id, tag) DO UPDATE SET
    name = EXCLUDED.name, town_hall = EXCLUDED.town_hall,
    map_position = EXCLUDED.map_position, war_end = EXCLUDED.war_end
"""

# Attacks seen before are left as they were: an attack is final once made.
SAVE_ATTACKS = """
INSERT INTO war_attacks (war_id, attack_order, attacker_side, attacker_tag, defender_tag, stars,
                         destruction, duration, attacker_th, defender_th, attacker_position,
                         defender_position, war_end, seen_at)
SELECT $1, u.n, u.side, u.attacker, u.defender, u.stars, u.destruction, u.duration, u.ath,
       u.dth, u.apos, u.dpos, $13, $14
FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::int[], $7::float8[], $8::int[],
            $9::int[], $10::int[], $11::int[], $12::int[])
     AS u (n, side, attacker, defender, stars, destruction, duration, ath, dth, apos, dpos)
ON CONFLICT (war_id, attack_order) DO NOTHING
RETURNING attack_order
"""

OPEN_WARS = """
SELECT id, opponent_tag, preparation_start, end_time, state, war_tag, league_season, cwl_round,
       attacks_per_member
FROM wars WHERE clan_tag = $1 AND closed_at IS NULL
ORDER BY preparation_start
"""

# Closed once: the caller learns whether this call closed it.
CLOSE_WAR = """
UPDATE wars SET closed_at = $2, closed_how = $3, result = $4
WHERE id = $1 AND closed_at IS NULL
RETURNING id
"""

# Final attack counts of the clan's lineup.
COUNT_USED = """
UPDATE war_members m SET attacks_used = (
    SELECT count(*) FROM war_attacks a
    WHERE a.war_id = m.war_id AND a.attacker_tag = m.tag AND a.attacker_side = 'clan'
)
WHERE m.war_id = $1 AND m.side = 'clan'
"""

MISSED = """
SELECT m.tag, m.name, w.attacks_per_member - m.attacks_used AS missed
FROM war_members m JOIN wars w ON w.id = m.war_id
WHERE m.war_id = $1 AND m.side = 'clan' AND m.attacks_used < w.attacks_per_member
ORDER BY m.map_position
"""

# The log's attack count against the attacks seen: how many no poll saw.
COMPLETE_FROM_LOG = """
UPDATE wars SET clan_stars = $2, clan_destruction = $3, clan_attacks = $4::int,
    opponent_stars = $5, opponent_destruction = $6, result = COALESCE($7, result),
    log_completed = true,
    attacks_unseen = greatest($4::int - (SELECT count(*)::int FROM war_attacks a
                                         WHERE a.war_id = $1 AND a.attacker_side = 'clan'), 0)
WHERE id = $1
"""

GET_WAR = "SELECT * FROM wars WHERE id = $1"

# -- the schedule -----------------------------------------------------------------------------

# A tracked clan's wars are polled while any guild tracks it.
SCHEDULE_CLAN = """
INSERT INTO war_polls (clan_tag) VALUES ($1) ON CONFLICT (clan_tag) DO NOTHING
"""

# Nobody tracks the clan any more: its open wars are closed as they stand, 'untracked'
# (no post, and their missed attacks are not counted: nobody saw how they ended).
# The clan is still polled; its row is locked until the writer's transaction ends, so an
# untrack (which deletes the row and closes the open wars) waits for the write, or the
# write sees the row gone and writes nothing.
STILL_POLLED = "SELECT true FROM war_polls WHERE clan_tag = $1 FOR SHARE"

UNSCHEDULE_ORPHAN = """
WITH gone AS (
    DELETE FROM war_polls wp WHERE wp.clan_tag = $1
      AND NOT EXISTS (SELECT 1 FROM tracked_clans tc WHERE tc.clan_tag = wp.clan_tag)
    RETURNING wp.clan_tag
), closed AS (
    UPDATE wars w SET closed_at = now(), closed_how = 'untracked'
    FROM gone WHERE w.clan_tag = gone.clan_tag AND w.closed_at IS NULL
    RETURNING w.id
)
UPDATE war_members m SET attacks_used = (
    SELECT count(*) FROM war_attacks a
    WHERE a.war_id = m.war_id AND a.attacker_tag = m.tag AND a.attacker_side = 'clan'
)
FROM closed WHERE m.war_id = closed.id AND m.side = 'clan'
"""

LEASE = """
WITH due AS (
    SELECT clan_tag FROM war_polls
    WHERE next_poll_at <= now() AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_poll_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE war_polls w SET leased_until = now() + make_interval(secs => $2), leased_by = $3
FROM due WHERE w.clan_tag = due.clan_tag
RETURNING w.clan_tag, w.private_since, w.league_season, w.league_read_at
"""

POLLED = """
UPDATE war_polls SET leased_until = NULL, leased_by = NULL, last_polled_at = now(),
    next_poll_at = now() + make_interval(secs => $2), private_since = $3, last_error = $4
WHERE clan_tag = $1 AND leased_by = $5
"""

LEAGUE_READ = """
UPDATE war_polls SET league_season = $2, league_read_at = $3 WHERE clan_tag = $1
"""

RELEASE = """
UPDATE war_polls SET leased_until = NULL, leased_by = NULL
WHERE clan_tag = ANY($1::text[]) AND leased_by = $2
"""

CWL_ROUND = """
SELECT war_tag FROM cwl_rounds WHERE clan_tag = $1 AND league_season = $2 AND cwl_round = $3
"""

SAVE_CWL_ROUND = """
INSERT INTO cwl_rounds (clan_tag, league_season, cwl_round, war_tag) VALUES ($1, $2, $3, $4)
ON CONFLICT (clan_tag, league_season, cwl_round) DO NOTHING
"""


@dataclass(frozen=True, slots=True)
class OpenWar:
    id: int
    opponent_tag: str
    preparation_start: datetime
    end_time: datetime
    state: str
    war_tag: str | None
    league_season: str | None
    cwl_round: int | None
    attacks_per_member: int


@dataclass(frozen=True, slots=True)
class Saved:
    war_id: int
    closed: bool  # the war was closed before this reading: nothing of it was written
    new_attacks: list[int]  # orders of the attacks this reading added
    created: bool = False  # this reading is the war's first


async def save_snapshot(con: asyncpg.Connection, war: WarSnapshot, at: datetime) -> Saved:
    """Store a reading of a war: the war, its lineup, the attacks not seen before.

    The caller holds a transaction.
    """
    row = await con.fetchrow(
        UPSERT_WAR,
        war.clan_tag,
        war.opponent_tag,
        war.preparation_start,
        war.start_time,
        war.end_time,
        war.state,
        war.team_size,
        war.attacks_per_member,
        war.war_tag,
        war.league_season,
        war.cwl_round,
        war.clan_name,
        war.opponent_name,
        war.clan_stars,
        war.clan_destruction,
        war.clan_attacks,
        war.opponent_stars,
        war.opponent_destruction,
        war.opponent_attacks,
        at,
    )
    if row is None:
        # Closed already, or a newer reading was stored: nothing to add.
        known = await con.fetchrow(WAR_ID, war.clan_tag, war.opponent_tag, war.preparation_start)
        return Saved(known["id"], known["closed_at"] is not None, [])
    war_id, created = row["id"], row["inserted"]
    members = war.members
    await con.execute(
        SAVE_MEMBERS,
        war_id,
        [m.tag for m in members],
        [m.side for m in members],
        [m.name for m in members],
        [m.town_hall for m in members],
        [m.map_position for m in members],
        war.end_time,
    )
    by_tag = {m.tag: m for m in members}
    attacks = war.attacks
    if not attacks:
        return Saved(war_id, False, [], created)

    def member(tag: str) -> tuple[int, int]:
        m = by_tag.get(tag)
        return (m.town_hall, m.map_position) if m else (0, 0)

    sides = [by_tag[a.attacker_tag].side if a.attacker_tag in by_tag else "" for a in attacks]
    rows = await con.fetch(
        SAVE_ATTACKS,
        war_id,
        [a.order for a in attacks],
        sides,
        [a.attacker_tag for a in attacks],
        [a.defender_tag for a in attacks],
        [a.stars for a in attacks],
        [a.destruction for a in attacks],
        [a.duration for a in attacks],
        [member(a.attacker_tag)[0] for a in attacks],
        [member(a.defender_tag)[0] for a in attacks],
        [member(a.attacker_tag)[1] for a in attacks],
        [member(a.defender_tag)[1] for a in attacks],
        war.end_time,
        at,
    )
    return Saved(war_id, False, sorted(r["attack_order"] for r in rows), created)


async def open_wars(con: asyncpg.Connection, clan_tag: str) -> list[OpenWar]:
    return [OpenWar(**dict(r)) for r in await con.fetch(OPEN_WARS, clan_tag)]


async def close_war(
    con: asyncpg.Connection, war_id: int, at: datetime, how: str, result: str | None
) -> bool:
    """Close the war once (``how``: 'seen' ended, or 'unseen'); count each member's
    attacks. True if this call closed it."""
    if await con.fetchval(CLOSE_WAR, war_id, at, how, result) is None:
        return False
    await con.execute(COUNT_USED, war_id)
    return True


async def missed(con: asyncpg.Connection, war_id: int) -> list[asyncpg.Record]:
    """The clan's members with attacks left (of a closed war: missed), lineup order."""
    return await con.fetch(MISSED, war_id)


async def complete_from_log(
    con: asyncpg.Connection,
    war_id: int,
    *,
    clan_stars: int,
    clan_destruction: float,
    clan_attacks: int,
    opponent_stars: int,
    opponent_destruction: float,
    result: str | None,
) -> None:
    await con.execute(
        COMPLETE_FROM_LOG,
        war_id,
        clan_stars,
        clan_destruction,
        clan_attacks,
        opponent_stars,
        opponent_destruction,
        result,
    )


async def get_war(con: asyncpg.Connection, war_id: int) -> asyncpg.Record | None:
    return await con.fetchrow(GET_WAR, war_id)


async def schedule_clan(con: asyncpg.Connection, clan_tag: str) -> None:
    await con.execute(SCHEDULE_CLAN, clan_tag)


async def still_polled(con: asyncpg.Connection, clan_tag: str) -> bool:
    """Lock the clan's poll row for the caller's transaction; False if it is gone."""
    return bool(await con.fetchval(STILL_POLLED, clan_tag))


async def unschedule_orphan(con: asyncpg.Connection, clan_tag: str) -> None:
    await con.execute(UNSCHEDULE_ORPHAN, clan_tag)


async def lease(
    con: asyncpg.Connection, limit: int, lease_seconds: float, owner: str
) -> list[asyncpg.Record]:
    return await con.fetch(LEASE, limit, lease_seconds, owner)


async def polled(
    con: asyncpg.Connection,
    clan_tag: str,
    delay: float,
    private_since: datetime | None,
    error: str | None,
    owner: str,
) -> None:
    await con.execute(POLLED, clan_tag, delay, private_since, error, owner)


async def league_read(
    con: asyncpg.Connection, clan_tag: str, season: str | None, at: datetime
) -> None:
    await con.execute(LEAGUE_READ, clan_tag, season, at)


async def release(con: asyncpg.Connection, clan_tags: Sequence[str], owner: str) -> None:
    if clan_tags:
        await con.execute(RELEASE, list(clan_tags), owner)


async def cwl_round_war(
    con: asyncpg.Connection, clan_tag: str, season: str, cwl_round: int
) -> str | None:
    return await con.fetchval(CWL_ROUND, clan_tag, season, cwl_round)


async def save_cwl_round(
    con: asyncpg.Connection, clan_tag: str, season: str, cwl_round: int, war_tag: str
) -> None:
    await con.execute(SAVE_CWL_ROUND, clan_tag, season, cwl_round, war_tag)
