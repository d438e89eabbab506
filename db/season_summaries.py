"""Queries for season-end summaries: who is owed one, the claims, and the season's leaders.

A season is ``[start, end)`` by coc.py's rule. The leaders are the guild's
tracked players (those tracked before the season ended).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

# Guilds whose feed was on before the season ended ($1) and that tracked a player by
# then, not claimed yet for that season. (A guild that set up its feed or tracking
# after the end has no season to sum up.)
OWED = """
SELECT f.guild_id, f.channel_id
FROM feeds f
WHERE f.enabled AND f.enabled_since < $1
  AND EXISTS (SELECT 1 FROM tracked_players t WHERE t.guild_id = f.guild_id AND t.added_at < $1)
  AND NOT EXISTS (SELECT 1 FROM season_summaries s
                  WHERE s.guild_id = f.guild_id AND s.season_end = $1)
ORDER BY f.guild_id
"""

CLAIM = """
INSERT INTO season_summaries (guild_id, season_end, channel_id) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, season_end) DO NOTHING
"""

# Claimed and not out yet, for the season that ended at $1 (an older season's is not
# news any more), whose lease is free: taken by this process ($2) for $3 seconds. It
# goes to the feed's channel as it is now (a retry after /feed set follows it).
TAKE_UNSENT = """
UPDATE season_summaries s SET leased_by = $2,
    leased_until = now() + make_interval(secs => $3), attempts = s.attempts + 1,
    channel_id = free.feed_channel
FROM (
    SELECT ss.guild_id, ss.season_end, f.channel_id AS feed_channel
    FROM season_summaries ss JOIN feeds f ON f.guild_id = ss.guild_id AND f.enabled
    WHERE ss.season_end = $1 AND ss.sent_at IS NULL AND ss.skipped IS NULL
      AND (ss.leased_until IS NULL OR ss.leased_until < now())
    ORDER BY ss.guild_id
    LIMIT $4
    FOR UPDATE OF ss SKIP LOCKED
) free
WHERE s.guild_id = free.guild_id AND s.season_end = free.season_end
RETURNING s.guild_id, s.season_end, s.channel_id, s.attempts, s.claimed_at, s.unsure_channel
"""

SENT = """
UPDATE season_summaries SET sent_at = now(), message_id = $4, leased_by = NULL,
    leased_until = NULL
WHERE guild_id = $1 AND season_end = $2 AND leased_by = $3
"""

SKIP = """
UPDATE season_summaries SET skipped = $4, leased_by = NULL, leased_until = NULL
WHERE guild_id = $1 AND season_end = $2 AND leased_by = $3
"""

# A try that failed: the lease is kept until the retry time, so nobody retries sooner.
# $5: the channel of a try that may have landed (once unsure, it stays so until found).
RETRY_AT = """
UPDATE season_summaries SET leased_until = now() + make_interval(secs => $4),
    unsure_channel = coalesce($5, unsure_channel)
WHERE guild_id = $1 AND season_end = $2 AND leased_by = $3
"""


# -- the season's leaders --------------------------------------------------------------------

# The guild's players tracked before the season ended.
_PLAYERS = "SELECT DISTINCT tag FROM tracked_players WHERE guild_id = $1 AND added_at < $3"


def _season_total(column: str) -> str:
    """A donation counter's season total ($2: the season's start), across resets."""
    return f"""
SELECT p.tag, p.name, s.{column} AS value
FROM ({_PLAYERS}) t JOIN players p ON p.tag = t.tag
JOIN player_seasons s ON s.tag = t.tag AND s.season_start = $2
WHERE s.{column} > 0
ORDER BY value DESC, p.name, p.tag LIMIT $4
"""


DONATIONS = _season_total("donations")
RECEIVED = _season_total("received")


def _gain(column: str) -> str:
    """A stat's rise over the season: the last row before the end less the last row at or
    before the start (or the season's first row, for a player first seen during it)."""
    return f"""
SELECT p.tag, p.name, e.value - b.value AS value
FROM ({_PLAYERS}) t JOIN players p ON p.tag = t.tag
JOIN LATERAL (
    SELECT value FROM (
        (SELECT 1 AS pick, h.{column} AS value FROM player_history h
         WHERE h.tag = t.tag AND h.observed_at <= $2 ORDER BY h.observed_at DESC LIMIT 1)
        UNION ALL
        (SELECT 2, h.{column} FROM player_history h
         WHERE h.tag = t.tag AND h.observed_at > $2 AND h.observed_at < $3
         ORDER BY h.observed_at LIMIT 1)
    ) both_rows
    ORDER BY pick LIMIT 1
) b ON true
JOIN LATERAL (
    SELECT h.{column} AS value FROM player_history h
    WHERE h.tag = t.tag AND h.observed_at < $3 ORDER BY h.observed_at DESC LIMIT 1
) e ON true
WHERE e.value > b.value
ORDER BY value DESC, p.name, p.tag LIMIT $4
"""


TROPHY_GAINS = _gain("trophies")
WAR_STARS = _gain("war_stars")

# Capital gold looted in raid weekends that began in the season.
CAPITAL_LOOTED = f"""
SELECT p.tag, p.name, sum(m.looted)::bigint AS value
FROM ({_PLAYERS}) t JOIN players p ON p.tag = t.tag
JOIN raid_members m ON m.tag = t.tag AND m.start_time >= $2 AND m.start_time < $3
GROUP BY p.tag, p.name
HAVING sum(m.looted) > 0
ORDER BY value DESC, p.name, p.tag LIMIT $4
"""

# Clan games points of the months $2 (those whose games ended in the season).
CLAN_GAMES = f"""
SELECT p.tag, p.name, sum(g.points)::bigint AS value
FROM ({_PLAYERS}) t JOIN players p ON p.tag = t.tag
JOIN clan_games_players g ON g.tag = t.tag AND g.month = ANY($2::date[])
GROUP BY p.tag, p.name
HAVING sum(g.points) > 0
ORDER BY value DESC, p.name, p.tag LIMIT $4
"""

LEADER_QUERIES: dict[str, str] = {
    "donations": DONATIONS,
    "received": RECEIVED,
    "trophies": TROPHY_GAINS,
    "war_stars": WAR_STARS,
    "capital_looted": CAPITAL_LOOTED,
    "clan_games": CLAN_GAMES,
}


@dataclass(frozen=True, slots=True)
class Leader:
    tag: str
    name: str
    value: int


@dataclass(frozen=True, slots=True)
class Claim:
    guild_id: int
    season_end: datetime
    channel_id: int
    attempts: int
    claimed_at: datetime
    unsure_channel: int | None


async def owed(con: asyncpg.Connection, season_end: datetime) -> list[asyncpg.Record]:
    return await con.fetch(OWED, season_end)


async def claim(
    con: asyncpg.Connection, guild_id: int, season_end: datetime, channel_id: int
) -> None:
    await con.execute(CLAIM, guild_id, season_end, channel_id)


async def take_unsent(
    con: asyncpg.Connection, season_end: datetime, holder: str, lease_seconds: float, limit: int
) -> list[Claim]:
    rows = await con.fetch(TAKE_UNSENT, season_end, holder, lease_seconds, limit)
    return [Claim(**dict(r)) for r in rows]


async def sent(con: asyncpg.Connection, claim: Claim, holder: str, message_id: int) -> None:
    await con.execute(SENT, claim.guild_id, claim.season_end, holder, message_id)


async def skip(con: asyncpg.Connection, claim: Claim, holder: str, reason: str) -> None:
    await con.execute(SKIP, claim.guild_id, claim.season_end, holder, reason)


async def retry_at(
    con: asyncpg.Connection,
    claim: Claim,
    holder: str,
    seconds: float,
    unsure_channel: int | None = None,
) -> None:
    await con.execute(RETRY_AT, claim.guild_id, claim.season_end, holder, seconds, unsure_channel)


async def leaders(
    con: asyncpg.Connection,
    guild_id: int,
    start: datetime,
    end: datetime,
    games_months: list[date],
    limit: int,
) -> dict[str, list[Leader]]:
    """Each category's top ``limit`` players of the season ``[start, end)``."""
    found: dict[str, list[Leader]] = {}
    for key, query in LEADER_QUERIES.items():
        since = games_months if key == "clan_games" else start
        rows = await con.fetch(query, guild_id, since, end, limit)
        found[key] = [Leader(r["tag"], r["name"], int(r["value"])) for r in rows]
    return found
