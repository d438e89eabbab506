"""Streaming reads for /export: each returns a server-side cursor, never a list.

The rows leave PostgreSQL ``PREFETCH`` at a time, so an export of a year of
wars costs the bot one batch of rows in memory, not the whole result. A
cursor only lives inside a transaction: the caller opens one (read only,
repeatable read: every row of a file comes from the same snapshot) and
iterates the cursor inside it.

Periods are ``$n::timestamptz`` that may be NULL (everything stored):
``coalesce($n, '-infinity')`` keeps the comparison an index range either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from datetime import date, datetime

import asyncpg

from db.history import VALUE_COLUMNS

PREFETCH = 500

_VALUES = ", ".join(f"h.{c}" for c in VALUE_COLUMNS)

# One player's change-only history from $2 (NULL: all of it), oldest first.
HISTORY = f"""
SELECT h.observed_at, {_VALUES}
FROM player_history h
WHERE h.tag = $1 AND h.observed_at >= coalesce($2::timestamptz, '-infinity')
ORDER BY h.observed_at
"""

_NOW = ", ".join(f"p.{c}" for c in VALUE_COLUMNS)
_BASE = ", ".join(f"b.{c} AS base_{c}" for c in VALUE_COLUMNS)
_BASE_ROW = ", ".join(VALUE_COLUMNS)

# Every fetched tracked player of guild $1: every stat now, this season's donation
# totals (the season began at $3), and the baseline row of a gain since $2 (the last
# row at or before it, else the first row). The same rules as db.history's
# BOARD_CURRENT, BOARD_SEASON_COUNTER and BOARD_GAINS, for all stats at once: the
# baseline is chosen by time, so one row serves every stat. Lookups stay LATERAL
# with LIMIT 1 for the reason given there (no hash join over all of ``players``).
# Names sort by code point ("C"): the same order on every server, whatever its locale.
LEADERBOARD = f"""
SELECT t.tag, p.name, p.fetched_at, {_NOW},
       coalesce(p.season_donations,
                CASE WHEN p.fetched_at >= $3 THEN p.donations ELSE 0 END) AS season_donations,
       coalesce(p.season_received,
                CASE WHEN p.fetched_at >= $3 THEN p.donations_received ELSE 0 END)
           AS season_received,
       b.observed_at AS base_at, {_BASE}
FROM tracked_players t
JOIN LATERAL (
    SELECT p.*, s.donations AS season_donations, s.received AS season_received
    FROM players p
    LEFT JOIN player_seasons s ON s.tag = p.tag AND s.season_start = $3
    WHERE p.tag = t.tag
    LIMIT 1
) p ON true
LEFT JOIN LATERAL (
    (SELECT h.observed_at, {_BASE_ROW} FROM player_history h
     WHERE h.tag = t.tag AND h.observed_at <= $2
     ORDER BY h.observed_at DESC LIMIT 1)
    UNION ALL
    (SELECT h.observed_at, {_BASE_ROW} FROM player_history h
     WHERE h.tag = t.tag
     ORDER BY h.observed_at LIMIT 1)
    LIMIT 1
) b ON true
WHERE t.guild_id = $1
ORDER BY lower(p.name) COLLATE "C", t.tag
"""

# Every attack (both sides) of the wars of guild $1's tracked clans that ended at or
# after $2 (or still run), with the names each side had in that war; $3: only the
# attacks this player made. A war between two tracked clans is stored from each side,
# each copy with the attacks its clan's polls saw (``attack_order`` counts both sides'
# attacks, so it names an attack in either copy): an attack is taken from the copy of
# the clan with the lesser tag, and from the other only if that copy lacks it.
WARS = """
SELECT w.end_time, w.start_time, w.clan_tag, w.clan_name, w.opponent_tag, w.opponent_name,
       w.war_tag IS NOT NULL AS cwl, w.cwl_round, w.result,
       a.attack_order, a.attacker_side,
       a.attacker_tag, am.name AS attacker_name, a.attacker_th, a.attacker_position,
       a.defender_tag, dm.name AS defender_name, a.defender_th, a.defender_position,
       a.stars, a.destruction, a.duration, a.seen_at
FROM tracked_clans tc
JOIN wars w ON w.clan_tag = tc.clan_tag
           AND w.end_time >= coalesce($2::timestamptz, '-infinity')
JOIN war_attacks a ON a.war_id = w.id
LEFT JOIN war_members am ON am.war_id = w.id AND am.tag = a.attacker_tag
LEFT JOIN war_members dm ON dm.war_id = w.id AND dm.tag = a.defender_tag
WHERE tc.guild_id = $1 AND ($3::text IS NULL OR a.attacker_tag = $3)
  AND NOT (w.clan_tag > w.opponent_tag AND EXISTS (
      SELECT 1 FROM wars o
      JOIN tracked_clans otc ON otc.clan_tag = o.clan_tag AND otc.guild_id = $1
      JOIN war_attacks oa ON oa.war_id = o.id AND oa.attack_order = a.attack_order
      WHERE o.clan_tag = w.opponent_tag AND o.opponent_tag = w.clan_tag
        AND o.preparation_start = w.preparation_start))
ORDER BY w.end_time, w.clan_tag, w.id, a.attack_order
"""

# Raid weekend members of guild $1's tracked clans, weekends ending at or after $2;
# $3: one player only.
RAIDS = """
SELECT w.start_time, w.end_time, w.clan_tag, cp.name AS clan_name, w.state,
       m.tag, m.name, m.attacks, m.attack_limit, m.bonus_attack_limit, m.looted
FROM tracked_clans tc
JOIN raid_weekends w ON w.clan_tag = tc.clan_tag
                    AND w.end_time >= coalesce($2::timestamptz, '-infinity')
JOIN raid_members m ON m.clan_tag = w.clan_tag AND m.start_time = w.start_time
LEFT JOIN clan_polls cp ON cp.clan_tag = w.clan_tag
WHERE tc.guild_id = $1 AND ($3::text IS NULL OR m.tag = $3)
ORDER BY w.start_time, w.clan_tag, m.looted DESC, m.attacks DESC, m.name, m.tag
"""

# Clan games points credited in guild $1's tracked clans, months from $2 (the first
# day of a month; NULL: all), with when the member reached the month's maximum there;
# $3: one player only.
CLAN_GAMES = """
SELECT c.month, c.clan_tag, cp.name AS clan_name, c.tag, p.name, c.points,
       CASE WHEN g.maxed_clan = c.clan_tag THEN g.maxed_at END AS maxed_at, c.updated_at
FROM tracked_clans tc
JOIN clan_games_points c ON c.clan_tag = tc.clan_tag
                        AND c.month >= coalesce($2::date, '-infinity')
LEFT JOIN players p ON p.tag = c.tag
LEFT JOIN clan_games_players g ON g.month = c.month AND g.tag = c.tag
LEFT JOIN clan_polls cp ON cp.clan_tag = c.clan_tag
WHERE tc.guild_id = $1 AND c.points > 0 AND ($3::text IS NULL OR c.tag = $3)
ORDER BY c.month, c.clan_tag, c.points DESC, p.name, c.tag
"""

# Whether guild $1 tracks player $2, and the player's name if it was ever read.
TRACKED_PLAYER = """
SELECT p.name FROM tracked_players t LEFT JOIN players p ON p.tag = t.tag
WHERE t.guild_id = $1 AND t.tag = $2
"""


def history(
    con: asyncpg.Connection, tag: str, since: datetime | None
) -> AsyncIterable[asyncpg.Record]:
    return con.cursor(HISTORY, tag, since, prefetch=PREFETCH)


def leaderboard(
    con: asyncpg.Connection, guild_id: int, gain_start: datetime, season: datetime
) -> AsyncIterable[asyncpg.Record]:
    return con.cursor(LEADERBOARD, guild_id, gain_start, season, prefetch=PREFETCH)


def wars(
    con: asyncpg.Connection, guild_id: int, since: datetime | None, tag: str | None
) -> AsyncIterable[asyncpg.Record]:
    return con.cursor(WARS, guild_id, since, tag, prefetch=PREFETCH)


def raids(
    con: asyncpg.Connection, guild_id: int, since: datetime | None, tag: str | None
) -> AsyncIterable[asyncpg.Record]:
    return con.cursor(RAIDS, guild_id, since, tag, prefetch=PREFETCH)


def clan_games(
    con: asyncpg.Connection, guild_id: int, since: date | None, tag: str | None
) -> AsyncIterable[asyncpg.Record]:
    return con.cursor(CLAN_GAMES, guild_id, since, tag, prefetch=PREFETCH)


async def tracked_player(
    con: asyncpg.Connection, guild_id: int, tag: str
) -> tuple[bool, str | None]:
    """(tracked, name): whether the guild tracks ``tag``, and its name (None if never read)."""
    row = await con.fetchrow(TRACKED_PLAYER, guild_id, tag)
    return (False, None) if row is None else (True, row["name"])
