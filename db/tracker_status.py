"""State every tracker process shares: the maintenance pause, the last sweep, the backlog."""

from __future__ import annotations

from datetime import datetime

import asyncpg

GET_STATUS = """
SELECT paused_until, pause_reason, last_sweep_started, last_sweep_finished,
       last_sweep_players, api_latency_ms, now() AS now
FROM tracker_status
"""

PAUSE = """
UPDATE tracker_status SET
    paused_until = GREATEST(paused_until, now() + make_interval(secs => $1)),
    pause_reason = $2, updated_at = now()
"""

UNPAUSE = """
UPDATE tracker_status SET paused_until = NULL, pause_reason = NULL, updated_at = now()
WHERE pause_reason IS NOT NULL
"""

RECORD_SWEEP = """
UPDATE tracker_status SET last_sweep_started = $1, last_sweep_finished = $2,
    last_sweep_players = $3, api_latency_ms = COALESCE($4, api_latency_ms), updated_at = now()
"""

# A gone player is never due again: it is not part of the backlog.
BACKLOG = """
SELECT count(*) FILTER (WHERE next_poll_at <= now() AND gone_at IS NULL) AS due,
       count(*) FILTER (WHERE gone_at IS NULL) AS active,
       count(*) FILTER (WHERE gone_at IS NOT NULL) AS gone,
       min(next_poll_at) FILTER (WHERE gone_at IS NULL) AS next_due
FROM player_polls
"""

COUNT_CLANS = "SELECT count(*) FROM clan_polls WHERE gone_at IS NULL"

PING = "SELECT 1"


async def status(con: asyncpg.Connection) -> asyncpg.Record:
    return await con.fetchrow(GET_STATUS)


async def pause(con: asyncpg.Connection, seconds: float, reason: str) -> None:
    await con.execute(PAUSE, seconds, reason)


async def unpause(con: asyncpg.Connection) -> bool:
    return await con.execute(UNPAUSE) != "UPDATE 0"


async def record_sweep(
    con: asyncpg.Connection,
    started: datetime,
    finished: datetime,
    players: int,
    latency_ms: float | None,
) -> None:
    await con.execute(RECORD_SWEEP, started, finished, players, latency_ms)


async def backlog(con: asyncpg.Connection) -> asyncpg.Record:
    return await con.fetchrow(BACKLOG)


async def count_clans(con: asyncpg.Connection) -> int:
    return int(await con.fetchval(COUNT_CLANS))


async def ping(con: asyncpg.Connection) -> None:
    """The cheapest round trip, for /status's database latency."""
    await con.fetchval(PING)
