"""How fast /export builds its files, and how much memory it takes: a 1,000-player
leaderboard and a year of one player's history.

A fresh embedded PostgreSQL (or BENCH_DATABASE_URL) is migrated and filled by
``bench.history_gen``: by default 1,000 players, all tracked by one guild, and
a year of change-only history at three rows a day on average (1,095,000 rows;
activity is skewed, so some players change all day and most a few times a day).
Then, through the product's own code (``bot.exports.service.build``: the
streaming query, the rows, the bounded CSV writer):

- the ``leaderboard`` export of the guild (every stat now and its 30-day gain for
  its 1,000 players), next to /leaderboard's own query for one stat, for scale;
- the ``history`` export over 365 days of a typical player (the one whose row
  count is nearest to three a day), of the busiest one, and of a player added for
  the upper bound: a row at every poll of a 15-minute interval (35,040 rows).

Each is timed many times after a warm-up (wall time, the file built and closed,
not uploaded); the memory is the ``tracemalloc`` peak of one more run, above
what was allocated before it (so it counts the rows in flight, the CSV writer
and the file while it is held in memory; past ``SPOOL_BYTES`` the file moves to
disk). Writes bench/results/export_speed.json.

    python -m bench.export_speed [players] [rows]
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta

import asyncpg

from bench.history_gen import HISTORY_COLUMNS, USER_ID, measure_on_history
from bot import leaderboards
from bot.exports.csv_file import SPOOL_BYTES
from bot.exports.kinds import Kind
from bot.exports.service import ExportRequest, build
from bot.periods import Period
from db.history import VALUE_COLUMNS

log = logging.getLogger(__name__)

LIMIT = 10 * 1024 * 1024  # Discord's attachment limit without boosts
GUILD = 0  # bench.history_gen: players 0 to 999 are guild 0's
ROWS_PER_DAY = 3
EVERY_POLL = "#PQQQQQQ"  # not one of bench.history_gen's tags (those have 7 characters)
TRACK = "INSERT INTO tracked_players (guild_id, tag, direct, added_by) VALUES ($1, $2, true, 1)"

# Each player's rows in the last 365 days, the one nearest to a target count first.
NEAREST = """
SELECT tag, count(*) AS n FROM player_history
WHERE observed_at >= $1::timestamptz - interval '365 days'
GROUP BY tag ORDER BY abs(count(*) - $2), tag LIMIT 1
"""
BUSIEST = """
SELECT tag, count(*) AS n FROM player_history
WHERE observed_at >= $1::timestamptz - interval '365 days'
GROUP BY tag ORDER BY count(*) DESC, tag LIMIT 1
"""


async def add_every_poll_player(con: asyncpg.Connection, now: datetime) -> None:
    """The upper bound of a year of history: a row at every poll of a 15-minute interval
    (35,040 rows), the player tracked by the guild. Its file is past ``SPOOL_BYTES``."""
    start = now - timedelta(days=365)
    records = []
    for i in range(365 * 96):
        values = dict.fromkeys(VALUE_COLUMNS, 0) | {
            "trophies": 5000 + (i * 7) % 300,
            "best_trophies": 5300,
            "attack_wins": i // 2,
            "defense_wins": i // 5,
            "exp_level": 200 + i // 5000,
            "town_hall": 16,
            "donations_total": i * 3,
            "received_total": i * 2,
        }
        at = start + timedelta(minutes=15 * i)
        records.append((EVERY_POLL, at, *(values[c] for c in VALUE_COLUMNS)))
    await con.copy_records_to_table("player_history", records=records, columns=HISTORY_COLUMNS)
    await con.execute(TRACK, GUILD, EVERY_POLL)


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "runs": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 2),
        "max_ms": round(ms[-1], 2),
    }


async def one_export(con: asyncpg.Connection, request: ExportRequest) -> tuple[int, int]:
    export = await build(con, request, LIMIT)
    export.file.close()
    return export.rows, export.size


async def measure_export(
    con: asyncpg.Connection, request: ExportRequest, runs: int
) -> dict[str, object]:
    for _ in range(3):  # prepare the statements, warm the caches
        await one_export(con, request)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        rows, size = await one_export(con, request)
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        await one_export(con, request)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return {
        "rows": rows,
        "file_bytes": size,
        "spooled_to_disk": size > SPOOL_BYTES,
        "peak_python_memory_kib": round(peak / 1024, 1),
        **summary(times),
    }


async def measure(pool: asyncpg.Pool, players: int, now: datetime) -> dict[str, object]:
    results: dict[str, object] = {}
    async with pool.acquire() as con:
        typical = await con.fetchrow(NEAREST, now, 365 * ROWS_PER_DAY)
        busiest = await con.fetchrow(BUSIEST, now)
        results["leaderboard_export"] = await measure_export(
            con, ExportRequest(Kind.LEADERBOARD, GUILD, None, None, now), runs=30
        )

        async def one_board() -> None:
            await leaderboards.board(con, GUILD, "trophies", Period.MONTH, now, USER_ID)

        for _ in range(3):
            await one_board()
        board_times = []
        for _ in range(30):
            started = time.perf_counter()
            await one_board()
            board_times.append(time.perf_counter() - started)
        results["leaderboard_command_query_one_stat"] = summary(board_times)
        await add_every_poll_player(con, now)
        for label, tag, runs in (
            ("history_365d_typical", typical["tag"], 30),
            ("history_365d_busiest", busiest["tag"], 30),
            ("history_365d_every_poll", EVERY_POLL, 10),
        ):
            request = ExportRequest(Kind.HISTORY, GUILD, tag, 365, now)
            results[label] = {"tag": tag, **await measure_export(con, request, runs=runs)}
    for key, value in results.items():
        log.info("%s: %s", key, value)
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("bot.exports").setLevel(logging.WARNING)  # a line per export otherwise
    args = [int(a) for a in sys.argv[1:3]]
    players = args[0] if args else 1000
    rows = args[1] if len(args) > 1 else players * 365 * ROWS_PER_DAY
    measure_on_history("export_speed", measure, players, rows)
