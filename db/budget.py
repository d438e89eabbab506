"""What the API budget planner reads (the workload) and writes (the plan in force), and
the freshness of each kind of data for /status."""

from __future__ import annotations

import asyncpg

# Requests each poll kind makes per interval: one per row.
WORKLOAD = """
SELECT
    (SELECT count(*) FROM clan_polls WHERE gone_at IS NULL) AS clans,
    (SELECT count(*) FROM player_polls p WHERE p.gone_at IS NULL
       AND EXISTS (SELECT 1 FROM tracked_players t WHERE t.tag = p.tag AND t.direct))
       AS direct_players,
    (SELECT count(*) FROM player_polls WHERE gone_at IS NULL) AS players,
    (SELECT count(*) FROM war_polls) AS war_clans,
    (SELECT count(*) FROM raid_polls) AS raid_clans,
    (SELECT count(*) FROM battle_logs WHERE next_poll_at IS NOT NULL) AS battle_players
"""

SAVE_PLAN = """
UPDATE tracker_status SET budget_capacity = $1, budget_wanted = $2, budget_planned = $3,
    clan_stretch = $4, player_stretch = $5, budget_planned_at = now()
"""

LOAD_PLAN = """
SELECT budget_capacity, budget_wanted, budget_planned, clan_stretch, player_stretch,
       budget_planned_at, now() AS now
FROM tracker_status
"""

# How old each kind's newest reading is, over the rows polled at least once: p50, p95
# and the oldest, in seconds; ``waiting`` counts rows never read yet.
FRESHNESS = """
WITH ages AS (
    SELECT 'clans' AS kind, extract(epoch FROM now() - last_polled_at) AS age
    FROM clan_polls WHERE gone_at IS NULL
    UNION ALL
    SELECT 'profiles', extract(epoch FROM now() - last_polled_at)
    FROM player_polls WHERE gone_at IS NULL
    UNION ALL
    SELECT 'wars', extract(epoch FROM now() - last_polled_at) FROM war_polls
    UNION ALL
    SELECT 'battle logs', extract(epoch FROM now() - last_polled_at)
    FROM battle_logs WHERE next_poll_at IS NOT NULL
)
SELECT kind,
       count(age) AS polled,
       count(*) - count(age) AS waiting,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY age) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY age) AS p95,
       max(age) AS oldest
FROM ages GROUP BY kind
"""


async def workload(con: asyncpg.Connection) -> asyncpg.Record:
    return await con.fetchrow(WORKLOAD)


async def save_plan(
    con: asyncpg.Connection,
    capacity: float,
    wanted: float,
    planned: float,
    clan_stretch: float,
    player_stretch: float,
) -> None:
    await con.execute(SAVE_PLAN, capacity, wanted, planned, clan_stretch, player_stretch)


async def load_plan(con: asyncpg.Connection) -> asyncpg.Record:
    return await con.fetchrow(LOAD_PLAN)


async def freshness(con: asyncpg.Connection) -> list[asyncpg.Record]:
    return await con.fetch(FRESHNESS)
