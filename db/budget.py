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
    (SELECT count(*) FROM war_polls WHERE private_since IS NOT NULL) AS private_war_clans,
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

# How old each kind's newest reading is, over the rows read at least once: p50, p95 and
# the oldest, in seconds; ``waiting`` counts rows never read yet. One query a kind: each
# sorts one narrow column (one query over all of them spilled to disk at 100,000 rows).
_AGES = """
SELECT count(age)::int AS polled, (count(*) - count(age))::int AS waiting,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY age) AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY age) AS p95,
       max(age) AS oldest
FROM (SELECT extract(epoch FROM now() - last_polled_at)::float8 AS age FROM {rows}) a
"""
AGES_OF = {
    "clans": _AGES.format(rows="clan_polls WHERE gone_at IS NULL"),
    "profiles": _AGES.format(rows="player_polls WHERE gone_at IS NULL"),
    "wars": _AGES.format(rows="war_polls"),
    "battle logs": _AGES.format(rows="battle_logs WHERE next_poll_at IS NOT NULL"),
}

SAVE_FRESHNESS = """
INSERT INTO api_freshness (kind, polled, waiting, p50, p95, oldest, measured_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (kind) DO UPDATE SET polled = EXCLUDED.polled, waiting = EXCLUDED.waiting,
    p50 = EXCLUDED.p50, p95 = EXCLUDED.p95, oldest = EXCLUDED.oldest,
    measured_at = EXCLUDED.measured_at
"""

# ``since``: seconds since the measurement, which /status adds to the ages (a tracker
# that stopped measuring must not leave them looking fresh).
FRESHNESS = """
SELECT kind, polled, waiting, p50, p95, oldest, measured_at,
       extract(epoch FROM now() - measured_at)::float8 AS since
FROM api_freshness
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


async def measure_freshness(con: asyncpg.Connection) -> None:
    """Measure each kind's freshness now and keep it for /status."""
    for kind, query in AGES_OF.items():
        r = await con.fetchrow(query)
        await con.execute(
            SAVE_FRESHNESS, kind, r["polled"], r["waiting"], r["p50"], r["p95"], r["oldest"]
        )


async def freshness(con: asyncpg.Connection) -> list[asyncpg.Record]:
    """Each kind's freshness as last measured."""
    return await con.fetch(FRESHNESS)
