"""Reads of the change-only history: one player's stat over time, gains, leaderboards.

Every per-player read is a range scan of ``player_history``'s primary key
``(tag, observed_at)``: the value at a moment is the last row at or before it
(a backward scan, ``LIMIT 1``), and a player whose history starts later falls
back to the first row. ``UNION ALL ... LIMIT 1`` runs the fallback only when
the first branch found nothing.

The stat is a parameter, never SQL text: ``CASE $n WHEN 'trophies' THEN ...``
picks the column, so one prepared statement serves every stat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.model import STATS, HistoryPoint

# Columns a CASE may pick: the stats and the running totals of the counters.
VALUE_COLUMNS: tuple[str, ...] = (*STATS, "donations_total", "received_total")


def _pick(alias: str, param: str) -> str:
    """``CASE $n WHEN 'col' THEN alias.col ... END``: a column chosen by a parameter."""
    whens = " ".join(f"WHEN '{c}' THEN {alias}.{c}" for c in VALUE_COLUMNS)
    return f"CASE {param}::text {whens} END"


PLAYER_NAME = "SELECT name FROM players WHERE tag = $1"

# One stat of one player from $2 on, plus the last row at or before $2.
# $3: the stat; $4: the running total of a donation counter (NULL otherwise).
SERIES = f"""
SELECT observed_at, value, total FROM (
    (SELECT h.observed_at, {_pick("h", "$3")} AS value, {_pick("h", "$4")} AS total
     FROM player_history h
     WHERE h.tag = $1 AND h.observed_at <= $2
     ORDER BY h.observed_at DESC LIMIT 1)
    UNION ALL
    (SELECT h.observed_at, {_pick("h", "$3")}, {_pick("h", "$4")}
     FROM player_history h
     WHERE h.tag = $1 AND h.observed_at > $2
     ORDER BY h.observed_at)
) rows
ORDER BY observed_at
"""

_STAT_LIST = ", ".join(VALUE_COLUMNS)

# Column names from constants only; the tag is a parameter.
CURRENT_STATS = "SELECT name, fetched_at, " + _STAT_LIST + " FROM players WHERE tag = $1"

# The baseline of a gain from $2: the last row at or before it, else the first row.
BASELINE = f"""
(SELECT observed_at, {_STAT_LIST} FROM player_history
 WHERE tag = $1 AND observed_at <= $2 ORDER BY observed_at DESC LIMIT 1)
UNION ALL
(SELECT observed_at, {_STAT_LIST} FROM player_history
 WHERE tag = $1 ORDER BY observed_at LIMIT 1)
LIMIT 1
"""

# The boards below walk a guild's tracked players and look each one up by
# primary key. The lookups sit in LATERAL subqueries with LIMIT 1 (a tag is
# unique anyway) so that the planner cannot flatten them into hash joins,
# which read the whole ``players`` table (100,000 rows in the benchmark) to
# rank one guild's 1,000. The invoker's accounts come from ``links_user_idx``.
# Players not fetched yet have no ``players`` row and come back with a NULL name.

# The current value of column $2; $3: the invoking user.
BOARD_CURRENT = f"""
SELECT t.tag, p.name, p.value,
       t.tag IN (SELECT k.tag FROM links k WHERE k.user_id = $3) AS mine
FROM tracked_players t
LEFT JOIN LATERAL (
    SELECT p.name, {_pick("p", "$2")} AS value FROM players p WHERE p.tag = t.tag LIMIT 1
) p ON true
WHERE t.guild_id = $1
"""

# Season totals of a donation counter ($2: 'donations' or 'donations_received')
# for the season that started at $3. Without a season row the game's counter
# counts if it was read this season; otherwise nothing was given yet.
BOARD_SEASON_COUNTER = f"""
SELECT t.tag, p.name, p.value,
       t.tag IN (SELECT k.tag FROM links k WHERE k.user_id = $4) AS mine
FROM tracked_players t
LEFT JOIN LATERAL (
    SELECT p.name,
           COALESCE(
               CASE $2::text WHEN 'donations' THEN s.donations ELSE s.received END,
               CASE WHEN p.fetched_at >= $3 THEN {_pick("p", "$2")} ELSE 0 END
           ) AS value
    FROM players p
    LEFT JOIN player_seasons s ON s.tag = p.tag AND s.season_start = $3
    WHERE p.tag = t.tag
    LIMIT 1
) p ON true
WHERE t.guild_id = $1
"""

# Gains of column $2 since $3: now (``players``) minus the baseline row.
BOARD_GAINS = f"""
SELECT t.tag, p.name, p.value,
       t.tag IN (SELECT k.tag FROM links k WHERE k.user_id = $4) AS mine,
       b.observed_at AS base_at, b.value AS base_value
FROM tracked_players t
LEFT JOIN LATERAL (
    SELECT p.name, {_pick("p", "$2")} AS value FROM players p WHERE p.tag = t.tag LIMIT 1
) p ON true
LEFT JOIN LATERAL (
    (SELECT h.observed_at, {_pick("h", "$2")} AS value FROM player_history h
     WHERE h.tag = t.tag AND h.observed_at <= $3
     ORDER BY h.observed_at DESC LIMIT 1)
    UNION ALL
    (SELECT h.observed_at, {_pick("h", "$2")} FROM player_history h
     WHERE h.tag = t.tag
     ORDER BY h.observed_at LIMIT 1)
    LIMIT 1
) b ON true
WHERE t.guild_id = $1
"""


async def player_name(con: asyncpg.Connection, tag: str) -> str | None:
    return await con.fetchval(PLAYER_NAME, tag)


async def series(
    con: asyncpg.Connection, tag: str, column: str, total_column: str | None, since: datetime
) -> list[HistoryPoint]:
    """``column`` of ``tag`` from the last row at or before ``since`` on, oldest first,
    with ``total_column`` (a donation counter's running total) beside it when given."""
    rows = await con.fetch(SERIES, tag, since, column, total_column)
    return [HistoryPoint(r["observed_at"], r["value"], r["total"]) for r in rows]


@dataclass(frozen=True, slots=True)
class Snapshot:
    at: datetime
    values: dict[str, int]  # every stat and both running totals


async def current_stats(con: asyncpg.Connection, tag: str) -> tuple[str, Snapshot] | None:
    """The player's name and latest stats (from ``players``), or None if never fetched."""
    row = await con.fetchrow(CURRENT_STATS, tag)
    if row is None:
        return None
    return row["name"], Snapshot(row["fetched_at"], {c: int(row[c]) for c in VALUE_COLUMNS})


async def baseline(con: asyncpg.Connection, tag: str, start: datetime) -> Snapshot | None:
    """The stats at ``start`` (or at the first row, if history starts later); None if no rows."""
    row = await con.fetchrow(BASELINE, tag, start)
    if row is None:
        return None
    return Snapshot(row["observed_at"], {c: int(row[c]) for c in VALUE_COLUMNS})


@dataclass(frozen=True, slots=True)
class BoardRow:
    """A tracked player of a guild and the value a board ranks them by.

    ``name`` is None for a player not fetched yet; for a gain, ``base_at`` and
    ``base_value`` are the baseline row (None without history).
    """

    tag: str
    name: str | None
    value: int | None
    mine: bool
    base_at: datetime | None = None
    base_value: int | None = None


def _rows(records: list[asyncpg.Record]) -> list[BoardRow]:
    return [
        BoardRow(
            r["tag"],
            r["name"],
            None if r["value"] is None else int(r["value"]),
            r["mine"],
            r.get("base_at"),
            None if r.get("base_value") is None else int(r["base_value"]),
        )
        for r in records
    ]


async def board_current(
    con: asyncpg.Connection, guild_id: int, column: str, user_id: int
) -> list[BoardRow]:
    """Every tracked player of the guild with the current value of ``column``."""
    return _rows(await con.fetch(BOARD_CURRENT, guild_id, column, user_id))


async def board_season_counter(
    con: asyncpg.Connection, guild_id: int, counter: str, season: datetime, user_id: int
) -> list[BoardRow]:
    """Every tracked player with a donation counter's total for the season from ``season``."""
    return _rows(await con.fetch(BOARD_SEASON_COUNTER, guild_id, counter, season, user_id))


async def board_gains(
    con: asyncpg.Connection, guild_id: int, column: str, since: datetime, user_id: int
) -> list[BoardRow]:
    """Every tracked player with ``column`` now and at its baseline row for ``since``."""
    return _rows(await con.fetch(BOARD_GAINS, guild_id, column, since, user_id))
