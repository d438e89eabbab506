"""Queries on clan games: each player's baseline, the points credited, and the boards."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from db.model import GamesState

# The baseline (on players) and the month's points of each (tag, month).
LOAD = """
SELECT u.tag, p.games_champion, p.games_read_at, p.games_clan,
       coalesce(g.points, 0) AS points, g.maxed_at IS NOT NULL AS maxed
FROM unnest($1::text[], $2::date[]) AS u (tag, month)
JOIN players p ON p.tag = u.tag
LEFT JOIN clan_games_players g ON g.tag = u.tag AND g.month = u.month
"""

SAVE_BASELINE = """
UPDATE players SET games_champion = $2, games_read_at = $3, games_clan = $4 WHERE tag = $1
"""

ADD_POINTS = """
INSERT INTO clan_games_points (month, tag, clan_tag, points, updated_at)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (month, clan_tag, tag) DO UPDATE SET
    points = clan_games_points.points + EXCLUDED.points, updated_at = EXCLUDED.updated_at
"""

ADD_PLAYER_POINTS = """
INSERT INTO clan_games_players (month, tag, points, maxed_at, maxed_clan)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (month, tag) DO UPDATE SET
    points = clan_games_players.points + EXCLUDED.points,
    maxed_at = coalesce(clan_games_players.maxed_at, EXCLUDED.maxed_at),
    maxed_clan = coalesce(clan_games_players.maxed_clan, EXCLUDED.maxed_clan)
"""

# A clan's month: each player credited there, with when they reached the maximum (in
# this clan), and the clan's current members with nothing credited.
CLAN_MONTH = """
SELECT c.tag, coalesce(p.name, c.tag) AS name, c.points, c.updated_at,
       CASE WHEN g.maxed_clan = c.clan_tag THEN g.maxed_at END AS maxed_at
FROM clan_games_points c
LEFT JOIN players p ON p.tag = c.tag
LEFT JOIN clan_games_players g ON g.month = c.month AND g.tag = c.tag
WHERE c.month = $1 AND c.clan_tag = $2 AND c.points > 0
ORDER BY c.points DESC, maxed_at ASC NULLS LAST, name
"""

NO_POINTS = """
SELECT m.tag, coalesce(p.name, m.tag) AS name
FROM clan_polls cp, unnest(cp.members) AS m (tag)
LEFT JOIN players p ON p.tag = m.tag
WHERE cp.clan_tag = $2
  AND NOT EXISTS (SELECT 1 FROM clan_games_points c
                  WHERE c.month = $1 AND c.clan_tag = $2 AND c.tag = m.tag AND c.points > 0)
ORDER BY name, m.tag
"""

# The guild's tracked players' points this month, in every clan.
BOARD = """
SELECT t.tag, p.name, coalesce(g.points, 0)::bigint AS value,
       EXISTS (SELECT 1 FROM links l WHERE l.tag = t.tag AND l.user_id = $3) AS mine
FROM (SELECT DISTINCT tag FROM tracked_players WHERE guild_id = $1) t
LEFT JOIN players p ON p.tag = t.tag
LEFT JOIN clan_games_players g ON g.tag = t.tag AND g.month = $2
"""


@dataclass(frozen=True, slots=True)
class GamesPoints:
    tag: str
    name: str
    points: int
    updated_at: datetime
    maxed_at: datetime | None


@dataclass(frozen=True, slots=True)
class GamesCreditRow:
    """One reading's credit, as ``bot.clangames`` decided it."""

    tag: str
    value: int
    read_at: datetime
    clan_tag: str | None
    month: date
    points: int
    credited_clan: str | None
    maxed_at: datetime | None


async def load(
    con: asyncpg.Connection, wanted: Sequence[tuple[str, date]]
) -> dict[str, GamesState]:
    """The games state of each ``(tag, month)``; players without a stored row are absent."""
    if not wanted:
        return {}
    rows = await con.fetch(LOAD, [t for t, _ in wanted], [m for _, m in wanted])
    return {
        r["tag"]: GamesState(
            r["games_champion"], r["games_read_at"], r["games_clan"], r["points"], r["maxed"]
        )
        for r in rows
    }


async def save(con: asyncpg.Connection, rows: Sequence[GamesCreditRow]) -> None:
    """New baselines, and the points credited (inside the reading's transaction)."""
    if not rows:
        return
    await con.executemany(SAVE_BASELINE, [(r.tag, r.value, r.read_at, r.clan_tag) for r in rows])
    credited = [r for r in rows if r.points > 0 and r.credited_clan is not None]
    if credited:
        await con.executemany(
            ADD_POINTS,
            [(r.month, r.tag, r.credited_clan, r.points, r.read_at) for r in credited],
        )
        await con.executemany(
            ADD_PLAYER_POINTS,
            [
                (r.month, r.tag, r.points, r.maxed_at, r.credited_clan if r.maxed_at else None)
                for r in credited
            ],
        )


async def clan_month(con: asyncpg.Connection, month: date, clan_tag: str) -> list[GamesPoints]:
    rows = await con.fetch(CLAN_MONTH, month, clan_tag)
    return [GamesPoints(**dict(r)) for r in rows]


async def without_points(
    con: asyncpg.Connection, month: date, clan_tag: str
) -> list[tuple[str, str]]:
    """The clan's current members (its last member list) with no points this month."""
    return [(r["tag"], r["name"]) for r in await con.fetch(NO_POINTS, month, clan_tag)]


async def board(
    con: asyncpg.Connection, guild_id: int, month: date, user_id: int
) -> list[asyncpg.Record]:
    return await con.fetch(BOARD, guild_id, month, user_id)
