"""How fast history reads stay at 10 million rows: /history's query, a 30-day leaderboard, a chart.

A fresh embedded PostgreSQL (or BENCH_DATABASE_URL) is migrated and filled by
``bench.history_gen`` (100,000 players, a year, 10 million rows by default),
then each operation runs many times through the product's own code:

- one player's history over 365 days: ``db.history.series`` (the /history query);
- the 30-day trophy gains of a guild's 1,000 tracked players: ``bot.leaderboards.board``
  (the /leaderboard query), then ``bot.periods.rank``;
- a chart: ``bot.periods.build_series`` and ``bot.charts.render_history``
  (what /history runs off the event loop).

It prints p50/p95, the EXPLAIN (ANALYZE, BUFFERS) plans of both queries, and
writes bench/results/history_speed.json.

    python -m bench.history_speed [players] [rows]
"""

from __future__ import annotations

import logging
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from bench.history_gen import GUILD_SIZE, USER_ID, measure_on_history, tag_of
from bot import leaderboards
from bot.charts import render_history
from bot.periods import Period, build_series, gain_column, rank
from bot.tracker.seasons import season_starts_between
from db import history
from db.model import HistoryPoint

log = logging.getLogger(__name__)

EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS) "
HEAVIEST = """
SELECT tag, count(*) AS n FROM player_history GROUP BY tag ORDER BY n DESC LIMIT 1
"""
SIZES = """
SELECT pg_size_pretty(pg_table_size('player_history')) AS heap,
       pg_size_pretty(pg_indexes_size('player_history')) AS indexes,
       (SELECT count(*) FROM player_history) AS rows
"""


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "runs": len(ms),
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(ms[max(0, round(0.95 * len(ms)) - 1)], 3),
        "max_ms": round(ms[-1], 3),
    }


async def timed(runs: int, step: Callable[[int], Awaitable[object]]) -> list[float]:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        await step(i)
        times.append(time.perf_counter() - started)
    return times


async def measure(pool: asyncpg.Pool, players: int, now: datetime) -> dict[str, object]:
    rng = random.Random(11)
    year_ago = now - timedelta(days=365)
    month_ago = now - timedelta(days=30)
    guilds = max(1, players // GUILD_SIZE)
    sample = [tag_of(rng.randrange(players)) for _ in range(1000)]
    results: dict[str, object] = {}
    async with pool.acquire() as con:
        heaviest = await con.fetchrow(HEAVIEST)
        results["table"] = dict(await con.fetchrow(SIZES))
        results["heaviest_player_rows"] = heaviest["n"]

        async def one_history(i: int) -> object:
            return await history.series(con, sample[i % len(sample)], "trophies", None, year_ago)

        await timed(50, one_history)  # prepare the statement, warm the caches
        results["history_365d"] = summary(await timed(len(sample), one_history))
        results["history_365d_heaviest"] = summary(
            await timed(
                50, lambda _: history.series(con, heaviest["tag"], "trophies", None, year_ago)
            )
        )

        async def one_board(i: int) -> object:
            return await leaderboards.board(con, i % guilds, "trophies", Period.MONTH, now, USER_ID)

        async def one_ranked_board(i: int) -> object:
            board = await leaderboards.board(
                con, i % guilds, "donations", Period.MONTH, now, USER_ID
            )
            return rank(board.standings)

        await timed(20, one_board)
        results["leaderboard_30d_query"] = summary(await timed(200, one_board))
        await timed(20, one_ranked_board)
        results["leaderboard_30d_donations_ranked"] = summary(await timed(200, one_ranked_board))

        series = [
            await history.series(con, tag, "trophies", None, year_ago) for tag in sample[:100]
        ]
        heavy = await history.series(con, heaviest["tag"], "trophies", None, year_ago)

        results["plans"] = {
            "history_365d": await explain(
                con, history.SERIES, sample[0], year_ago, "trophies", None
            ),
            "leaderboard_30d": await explain(
                con, history.BOARD_GAINS, 0, gain_column("trophies"), month_ago, USER_ID
            ),
        }

    def chart(rows: list[HistoryPoint]) -> bytes:
        built = build_series("trophies", rows, year_ago, now)
        assert built is not None
        return render_history(
            built.points,
            end=now,
            title="Trophies: Player (#P0000000)",
            ylabel="Trophies",
            season_starts=season_starts_between(built.start, now),
        )

    for rows in series[:5]:
        chart(rows)  # font cache, first-use imports
    chart_times = []
    for rows in series:
        started = time.perf_counter()
        chart(rows)
        chart_times.append(time.perf_counter() - started)
    results["chart"] = summary(chart_times)
    results["chart_points_median"] = statistics.median(len(s) for s in series)
    results["chart_heaviest"] = summary([_time(lambda: chart(heavy)) for _ in range(10)])
    return results


def _time(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


async def explain(con: asyncpg.Connection, query: str, *args: object) -> str:
    # Run once more first so the plan shown is the warm one that was timed.
    await con.fetch(query, *args)
    rows = await con.fetch(EXPLAIN + query, *args)
    return "\n".join(r[0] for r in rows)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = [int(a) for a in sys.argv[1:3]]
    measure_on_history("history_speed", measure, *(args or [100_000, 10_000_000]))
