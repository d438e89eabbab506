"""Reads of stored wars for the commands: a clan's war, a player's record, missed attacks.

A player's attacks are those made for a tracked clan (``attacker_side`` =
'clan'), so an attack is counted once even when both clans of a war are
tracked. Every read over a period is a range of the (tag, war_end) indexes.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from db.model import WarAttack, WarMember, WarSnapshot

# The clan's latest war: the open one, else the last closed.
LATEST_WAR = """
SELECT * FROM wars WHERE clan_tag = $1
ORDER BY (closed_at IS NULL) DESC, preparation_start DESC
LIMIT 1
"""

# Members of the clan's side with the attacks they made so far.
LINEUP = """
SELECT m.tag, m.name, m.town_hall, m.map_position,
       (SELECT count(*) FROM war_attacks a
        WHERE a.war_id = m.war_id AND a.attacker_tag = m.tag AND a.attacker_side = 'clan')
           AS attacks
FROM war_members m
WHERE m.war_id = $1 AND m.side = 'clan'
ORDER BY m.map_position
"""

WAR_POLL = "SELECT private_since, last_polled_at FROM war_polls WHERE clan_tag = $1"

# A player's wars since $2 whose battle day began by $3 (a war in preparation has
# nothing to count yet), not cancelled; a war still running misses nothing yet, nor one
# whose end nobody saw (closed 'untracked').
PLAYER_WARS = """
SELECT count(*) AS wars,
       count(*) FILTER (WHERE w.war_tag IS NOT NULL) AS cwl_wars,
       coalesce(sum(w.attacks_per_member), 0) AS available,
       coalesce(sum(greatest(w.attacks_per_member - m.attacks_used, 0))
                FILTER (WHERE w.closed_how IN ('seen', 'unseen')), 0) AS missed,
       count(*) FILTER (WHERE w.closed_how = 'unseen') AS unseen,
       count(*) FILTER (WHERE w.closed_at IS NULL) AS running
FROM war_members m JOIN wars w ON w.id = m.war_id
WHERE m.tag = $1 AND m.side = 'clan' AND m.war_end >= $2 AND w.start_time <= $3
  AND w.closed_how IS DISTINCT FROM 'cancelled'
"""

# A player's attacks since $2, in all and by the Town Hall difference (defender
# minus attacker: above 0 is attacking up).
PLAYER_ATTACKS = """
SELECT sign(defender_th - attacker_th)::int AS direction,
       count(*) AS attacks,
       coalesce(sum(stars), 0) AS stars,
       count(*) FILTER (WHERE stars = 3) AS three_stars,
       coalesce(avg(destruction), 0)::float8 AS avg_destruction
FROM war_attacks
WHERE attacker_tag = $1 AND attacker_side = 'clan' AND war_end >= $2
GROUP BY ROLLUP (sign(defender_th - attacker_th))
"""

# Members of the clan with missed attacks in the clan's wars closed since $2 (a war
# closed because nobody tracked its clan any more is not: nobody saw how it ended).
MISSED = """
SELECT m.tag, max(m.name) AS name,
       sum(w.attacks_per_member - m.attacks_used) AS missed, count(*) AS wars,
       count(*) FILTER (WHERE w.closed_how = 'unseen' AND w.attacks_unseen IS DISTINCT FROM 0)
           AS uncertain
FROM wars w JOIN war_members m ON m.war_id = w.id AND m.side = 'clan'
WHERE w.clan_tag = $1 AND w.closed_how IN ('seen', 'unseen') AND w.end_time >= $2
  AND m.attacks_used < w.attacks_per_member
GROUP BY m.tag
ORDER BY missed DESC, lower(max(m.name)), m.tag
"""

# Wars that ended between two polls: their missed attacks are those of the last poll;
# ``uncertain``: the war log did not prove that no attack was made after it.
CLOSED_WARS = """
SELECT count(*) AS wars, count(*) FILTER (WHERE closed_how = 'unseen') AS unseen,
       count(*) FILTER (WHERE closed_how = 'unseen' AND attacks_unseen IS DISTINCT FROM 0)
           AS uncertain
FROM wars WHERE clan_tag = $1 AND closed_how IN ('seen', 'unseen') AND end_time >= $2
"""

# The guild's tracked players with at least one war since $2 whose battle day began
# by $4, with their figures; each player's lookups are ranges of the player indexes.
LEADERBOARD = """
SELECT t.tag,
       coalesce(p.name, (SELECT m.name FROM war_members m WHERE m.tag = t.tag AND m.side = 'clan'
                         ORDER BY m.war_end DESC LIMIT 1)) AS name,
       ww.wars,
       coalesce(a.attacks, 0) AS attacks, coalesce(a.stars, 0) AS stars,
       coalesce(a.three_stars, 0) AS three_stars, a.avg_destruction,
       ww.missed,
       t.tag IN (SELECT k.tag FROM links k WHERE k.user_id = $3) AS mine
FROM tracked_players t
LEFT JOIN LATERAL (SELECT p.name FROM players p WHERE p.tag = t.tag LIMIT 1) p ON true
JOIN LATERAL (
    SELECT count(*) AS wars,
           coalesce(sum(greatest(w.attacks_per_member - m.attacks_used, 0))
                    FILTER (WHERE w.closed_how IN ('seen', 'unseen')), 0) AS missed
    FROM war_members m JOIN wars w ON w.id = m.war_id
    WHERE m.tag = t.tag AND m.side = 'clan' AND m.war_end >= $2 AND w.start_time <= $4
      AND w.closed_how IS DISTINCT FROM 'cancelled'
) ww ON ww.wars > 0
LEFT JOIN LATERAL (
    SELECT count(*) AS attacks, sum(stars) AS stars,
           count(*) FILTER (WHERE stars = 3) AS three_stars,
           avg(destruction)::float8 AS avg_destruction
    FROM war_attacks x
    WHERE x.attacker_tag = t.tag AND x.attacker_side = 'clan' AND x.war_end >= $2
) a ON true
WHERE t.guild_id = $1
"""

# A stored war, to show it as a reading would.
WAR_BY_ID = "SELECT * FROM wars WHERE id = $1"

WAR_MEMBERS = """
SELECT side, tag, name, town_hall, map_position FROM war_members
WHERE war_id = $1 ORDER BY side, map_position
"""

WAR_ATTACKS = """
SELECT attack_order, attacker_tag, defender_tag, stars, destruction, duration
FROM war_attacks WHERE war_id = $1 ORDER BY attack_order
"""

# The clan's open CWL round war to show: the one in its battle day, else the one in
# preparation, else one that ended and was not closed yet.
OPEN_CWL_WAR = """
SELECT * FROM wars
WHERE clan_tag = $1 AND closed_at IS NULL AND war_tag IS NOT NULL
ORDER BY CASE WHEN start_time <= $2 AND $2 < end_time THEN 0
              WHEN $2 < start_time THEN 1 ELSE 2 END, start_time DESC
LIMIT 1
"""


# The name the player had in their latest war for a tracked clan.
PLAYER_NAME = """
SELECT name FROM war_members WHERE tag = $1 AND side = 'clan' ORDER BY war_end DESC LIMIT 1
"""


async def latest_war(con: asyncpg.Connection, clan_tag: str) -> asyncpg.Record | None:
    return await con.fetchrow(LATEST_WAR, clan_tag)


async def lineup(con: asyncpg.Connection, war_id: int) -> list[asyncpg.Record]:
    return await con.fetch(LINEUP, war_id)


async def war_poll(con: asyncpg.Connection, clan_tag: str) -> asyncpg.Record | None:
    return await con.fetchrow(WAR_POLL, clan_tag)


async def player_wars(
    con: asyncpg.Connection, tag: str, since: datetime, now: datetime
) -> asyncpg.Record:
    """Counts over the player's wars: wars, cwl_wars, available, missed, unseen, running."""
    return await con.fetchrow(PLAYER_WARS, tag, since, now)


async def player_attacks(
    con: asyncpg.Connection, tag: str, since: datetime
) -> dict[int | None, asyncpg.Record]:
    """Attack figures keyed by the Town Hall direction (1 up, 0 equal, -1 down; None: all)."""
    return {r["direction"]: r for r in await con.fetch(PLAYER_ATTACKS, tag, since)}


async def missed(con: asyncpg.Connection, clan_tag: str, since: datetime) -> list[asyncpg.Record]:
    return await con.fetch(MISSED, clan_tag, since)


async def closed_wars(con: asyncpg.Connection, clan_tag: str, since: datetime) -> asyncpg.Record:
    return await con.fetchrow(CLOSED_WARS, clan_tag, since)


async def leaderboard(
    con: asyncpg.Connection, guild_id: int, since: datetime, now: datetime, user_id: int
) -> list[asyncpg.Record]:
    return await con.fetch(LEADERBOARD, guild_id, since, user_id, now)


async def open_cwl_war(con: asyncpg.Connection, clan_tag: str, now: datetime) -> int | None:
    row = await con.fetchrow(OPEN_CWL_WAR, clan_tag, now)
    return row["id"] if row else None


async def stored_war(con: asyncpg.Connection, war_id: int) -> tuple[asyncpg.Record, WarSnapshot]:
    """A stored war's row, and the war as its last reading showed it."""
    row = await con.fetchrow(WAR_BY_ID, war_id)
    members = tuple(WarMember(**dict(m)) for m in await con.fetch(WAR_MEMBERS, war_id))
    attacks = tuple(
        WarAttack(
            order=a["attack_order"],
            attacker_tag=a["attacker_tag"],
            defender_tag=a["defender_tag"],
            stars=a["stars"],
            destruction=a["destruction"],
            duration=a["duration"],
        )
        for a in await con.fetch(WAR_ATTACKS, war_id)
    )
    snapshot = WarSnapshot(
        clan_tag=row["clan_tag"],
        clan_name=row["clan_name"],
        opponent_tag=row["opponent_tag"],
        opponent_name=row["opponent_name"],
        state=row["state"],
        preparation_start=row["preparation_start"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        team_size=row["team_size"],
        attacks_per_member=row["attacks_per_member"],
        clan_stars=row["clan_stars"],
        clan_destruction=row["clan_destruction"],
        clan_attacks=row["clan_attacks"],
        opponent_stars=row["opponent_stars"],
        opponent_destruction=row["opponent_destruction"],
        opponent_attacks=row["opponent_attacks"],
        members=members,
        attacks=attacks,
        war_tag=row["war_tag"],
        league_season=row["league_season"],
        cwl_round=row["cwl_round"],
    )
    return row, snapshot


async def player_name(con: asyncpg.Connection, tag: str) -> str | None:
    return await con.fetchval(PLAYER_NAME, tag)
