"""Queries on players' last activity: who showed a sign of play, when, and who did not.

``players.last_active_at`` is kept by every writer that sees a sign of play (the
tracker's readings, the war and raid pollers, clan games credits), so ``/inactive``
reads one row per tracked player and never scans history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

# A later sign replaces an earlier one, one of the same moment joins it; an older one (a
# late writer) changes nothing.
MARK_ACTIVE = """
UPDATE players p SET last_active_at = u.at,
    last_active_by = CASE WHEN p.last_active_at = u.at AND p.last_active_by IS NOT NULL
                          THEN p.last_active_by || ',' || u.why ELSE u.why END
FROM unnest($1::text[], $2::timestamptz[], $3::text[]) AS u (tag, at, why)
WHERE p.tag = u.tag AND (p.last_active_at IS NULL OR p.last_active_at <= u.at)
"""

# The guild's tracked players (optionally: those whose stored clan is $4) with no sign
# of play since $2, or none at all; tracked_since is when the guild began tracking them.
# Each player's row is looked up by its key (LIMIT 1 keeps the lookup a nested loop):
# the cost follows the guild's size, not the number of players stored.
INACTIVE = """
SELECT p.tag, p.name, p.clan_tag, p.clan_name, p.last_active_at, p.last_active_by,
       t.tracked_since
FROM (
    SELECT tag, min(added_at) AS tracked_since
    FROM tracked_players WHERE guild_id = $1 GROUP BY tag
) t
CROSS JOIN LATERAL (
    SELECT tag, name, clan_tag, clan_name, last_active_at, last_active_by, changed_at
    FROM players WHERE players.tag = t.tag LIMIT 1
) p
WHERE p.changed_at IS NOT NULL
  AND (p.last_active_at IS NULL OR p.last_active_at < $2)
  AND ($3::boolean OR p.clan_tag = $4)
ORDER BY p.last_active_at ASC NULLS LAST, p.name, p.tag
"""

# The tracked players the list considered: those the tracker has read.
TRACKED_COUNT = """
SELECT count(*) FROM (SELECT DISTINCT tag FROM tracked_players WHERE guild_id = $1) t
CROSS JOIN LATERAL (
    SELECT clan_tag, changed_at FROM players WHERE players.tag = t.tag LIMIT 1
) p
WHERE p.changed_at IS NOT NULL AND ($2::boolean OR p.clan_tag = $3)
"""


@dataclass(frozen=True, slots=True)
class Inactive:
    tag: str
    name: str
    clan_tag: str | None
    clan_name: str | None
    last_active_at: datetime | None
    last_active_by: str | None
    tracked_since: datetime


async def mark_active(con: asyncpg.Connection, signs: Iterable[tuple[str, datetime, str]]) -> None:
    """Record ``(tag, at, reasons)`` signs of play; per tag the latest is kept."""
    latest: dict[str, tuple[datetime, str]] = {}
    for tag, at, why in signs:
        seen = latest.get(tag)
        if seen is None or at > seen[0]:
            latest[tag] = (at, why)
    if not latest:
        return
    tags = sorted(latest)
    await con.execute(MARK_ACTIVE, tags, [latest[t][0] for t in tags], [latest[t][1] for t in tags])


async def inactive(
    con: asyncpg.Connection, guild_id: int, since: datetime, clan_tag: str | None
) -> list[Inactive]:
    rows = await con.fetch(INACTIVE, guild_id, since, clan_tag is None, clan_tag)
    return [Inactive(**dict(r)) for r in rows]


async def tracked_count(con: asyncpg.Connection, guild_id: int, clan_tag: str | None) -> int:
    return int(await con.fetchval(TRACKED_COUNT, guild_id, clan_tag is None, clan_tag) or 0)
