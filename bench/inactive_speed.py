"""/inactive at 10 million history rows: one guild's 1,000 tracked players.

A fresh embedded PostgreSQL (or BENCH_DATABASE_URL) is migrated and filled by
``bench.history_gen`` (100,000 players, a year, 10 million history rows by
default); then every player gets a last activity (most within the week, 15%
between 7 and 60 days back, 3% never seen active) and one of 2,000 clans.
``bot.inactivity.load_report`` (all of /inactive's database work) runs for
guild 0's 1,000 tracked players: every player, then one clan's, for 7 and 30
days. It reads ``players.last_active_at`` (kept by every writer), never the
history. Prints p50/p95 and the EXPLAIN (ANALYZE, BUFFERS) plan, and writes
bench/results/inactive_speed.json.

    python -m bench.inactive_speed [players] [rows]
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.common import database, record
from bench.history_gen import load
from bench.history_speed import explain, summary, timed
from bot.clans import TrackedClan
from bot.inactivity import load_report
from db import activity
from db.migrate import migrate
from db.pool import create_pool

log = logging.getLogger(__name__)

GUILD = 0  # history_gen's guild 0 tracks players 0 to 999
RUNS = 300
ACTIVITY = """
UPDATE players SET
    clan_tag = '#C' || (abs(hashtext(tag)) % 2000),
    last_active_by = 'donations',
    last_active_at = CASE
        WHEN r < 0.03 THEN NULL
        WHEN r < 0.18 THEN $1::timestamptz - (7 + (r * 1000)::int % 53) * interval '1 day'
        ELSE $1::timestamptz - (r * 6) * interval '1 day' END
FROM (SELECT tag AS t, random() AS r FROM players) AS x
WHERE players.tag = x.t
"""
A_CLAN = """
SELECT p.clan_tag, count(*) FROM tracked_players tp JOIN players p USING (tag)
WHERE tp.guild_id = $1 GROUP BY p.clan_tag ORDER BY count(*) DESC LIMIT 1
"""


async def measure(pool: asyncpg.Pool, now: datetime) -> dict[str, object]:
    results: dict[str, object] = {}
    async with pool.acquire() as con:
        await con.execute(ACTIVITY, now)
        await con.execute("VACUUM (ANALYZE) players")
        clan_row = await con.fetchrow(A_CLAN, GUILD)
        clan = TrackedClan(clan_row["clan_tag"], None)
        results["clan_members_tracked"] = clan_row["count"]
        for days in (7, 30):
            for label, chosen in (("all", None), ("clan", clan)):

                async def one(_: int, d: int = days, c: TrackedClan | None = chosen) -> object:
                    return await load_report(con, GUILD, d, c, now)

                await timed(30, one)  # prepare the statements, warm the caches
                report = await load_report(con, GUILD, days, chosen, now)
                results[f"inactive_{days}d_{label}"] = {
                    **summary(await timed(RUNS, one)),
                    "listed": len(report.players),
                    "tracked": report.tracked,
                }
        since = now - timedelta(days=7)
        results["plan"] = await explain(con, activity.INACTIVE, GUILD, since, True, None)
    return results


async def run(dsn: str, players: int, rows: int) -> dict[str, object]:
    now = datetime.now(UTC)
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=3600)
    try:
        await migrate(pool)
        started = time.perf_counter()
        timings = await load(pool, players, rows, now)
        log.info("loaded in %.0f s", time.perf_counter() - started)
        load_before = os.getloadavg()
        results = await measure(pool, now)
        results["loadavg_1_5_15"] = {"before": load_before, "after": os.getloadavg()}
        results["load_s"] = {k: round(v, 1) for k, v in timings.items()}
        return results
    finally:
        await pool.close()


def main(players: int, rows: int) -> None:
    # The embedded server is started outside the event loop (its start runs one).
    with database(tcp=False) as dsns:
        results = asyncio.run(run(dsns.get("socket") or dsns["tcp"], players, rows))
    results = {"players": players, "rows": rows, **results}
    path = record("inactive_speed", results)
    plan = results.pop("plan")
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"\n-- INACTIVE (7 days, every player)\n{plan}\n\nwritten to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args or [100_000, 10_000_000]))
