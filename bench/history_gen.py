"""Fill ``player_history`` with a year of change-only rows for many players, by COPY.

Shaped like what the tracker writes: rows arrive in time order (so one
player's rows are scattered over the table, as in production), most players
change a few times a week and a few change all day, trophies wander,
donations reset at each season start, levels only go up. Everything is
computed with numpy, then sent in chunks with ``copy_records_to_table``.

The primary key is dropped for the load and rebuilt afterwards (one sort
instead of ten million random B-tree inserts), then the table is vacuumed
and analysed, as a restored or long-running database would be.

    python -m bench.history_gen [players] [rows]   # on a fresh embedded server, then exits
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from bench.common import database, record
from bot.tags import TAG_ALPHABET
from bot.tracker.seasons import season_start, season_starts_between
from db.history import VALUE_COLUMNS
from db.migrate import migrate
from db.pool import create_pool

log = logging.getLogger(__name__)

GUILD_SIZE = 1000  # tracked players per guild: every player is tracked by one guild
USER_ID = 42  # owns a few linked accounts in guild 0
CHUNK = 500_000
HISTORY_COLUMNS = ("tag", "observed_at", *VALUE_COLUMNS)
PLAYER_COLUMNS = (
    "tag", "name", "best_builder_trophies", "builder_hall", "fetched_at", "changed_at",
    *VALUE_COLUMNS,
)  # fmt: skip

DROP_KEY = "ALTER TABLE player_history DROP CONSTRAINT player_history_pkey"
ADD_KEY = "ALTER TABLE player_history ADD PRIMARY KEY (tag, observed_at)"
BIG_SORT = "SET maintenance_work_mem = '1GB'"
ANALYZE = "VACUUM (ANALYZE) {table}"
TABLES = ("player_history", "players", "tracked_players", "player_seasons", "links")


def tag_of(i: int) -> str:
    """A valid, unique tag for player ``i``: '#P' then base-14 digits of the alphabet."""
    digits = []
    for _ in range(7):
        i, d = divmod(i, len(TAG_ALPHABET))
        digits.append(TAG_ALPHABET[d])
    return "#P" + "".join(reversed(digits))


@dataclass
class Generated:
    tags: list[str]
    player: np.ndarray  # per row, time order
    at_us: np.ndarray  # per row: microseconds since the epoch
    values: dict[str, np.ndarray]  # per row, per column of VALUE_COLUMNS
    last_row: np.ndarray  # per player: index (time order) of its latest row
    now: datetime


def _grouped_cumsum(increments: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Cumulative sums that restart where ``starts`` is True (rows sorted by group)."""
    total = np.cumsum(increments)
    # The index of each row's group start, carried forward.
    start_of = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))
    return total - (total - increments)[start_of]


def generate(players: int, rows: int, now: datetime, seed: int = 7) -> Generated:
    rng = np.random.default_rng(seed)
    year_us = 365 * 86_400 * 1_000_000
    now_us = int(now.timestamp() * 1_000_000)
    # Activity is skewed: a few players change all day, most a few times a week.
    weight = rng.lognormal(0.0, 1.0, players)
    counts = np.maximum(1, np.floor(weight / weight.sum() * rows)).astype(np.int64)
    counts[np.argsort(-weight)[: rows - int(counts.sum())]] += 1
    # A fifth of the players were first tracked during the year.
    first_us = np.where(
        rng.random(players) < 0.2, now_us - rng.integers(0, year_us, players), now_us - year_us
    )
    player = np.repeat(np.arange(players, dtype=np.int64), counts)
    span = (now_us - first_us)[player]
    at_us = first_us[player] + (rng.random(len(player)) * span).astype(np.int64)
    at_us[np.concatenate(([0], np.cumsum(counts)[:-1]))] = first_us  # first sighting
    order = np.lexsort((at_us, player))  # by player, then time: per-player running values
    player, at_us = player[order], at_us[order]
    at_us += np.arange(len(at_us)) % 1000  # no two rows of a player at the same microsecond
    starts = np.concatenate(([True], player[1:] != player[:-1]))
    n = len(player)

    def walk(base: np.ndarray, step: np.ndarray) -> np.ndarray:
        return _grouped_cumsum(np.where(starts, base[player], step), starts)

    values: dict[str, np.ndarray] = {}
    trophies = walk(rng.integers(800, 6000, players), rng.normal(0, 25, n).round().astype(np.int64))
    values["trophies"] = np.maximum(trophies, 0)
    # Running maximum per player: offset each player above the previous one.
    lifted = values["trophies"] + player * 10_000_000
    values["best_trophies"] = np.maximum.accumulate(lifted) - player * 10_000_000
    values["builder_trophies"] = np.maximum(
        walk(rng.integers(1000, 5000, players), rng.normal(0, 10, n).round().astype(np.int64)), 0
    )
    values["attack_wins"] = walk(rng.integers(0, 500, players), rng.integers(0, 2, n))
    values["defense_wins"] = walk(rng.integers(0, 100, players), rng.integers(0, 2, n))
    values["war_stars"] = walk(rng.integers(0, 2000, players), (rng.random(n) < 0.05) * 3)
    values["exp_level"] = walk(rng.integers(20, 250, players), rng.random(n) < 0.02)
    values["town_hall"] = np.minimum(walk(rng.integers(6, 16, players), rng.random(n) < 0.003), 18)
    values["capital_contributions"] = walk(
        rng.integers(0, 10**6, players), rng.integers(0, 3, n) * 1000
    )
    # Donation counters restart each season; the running totals never do.
    seasons = np.array(
        [int(s.timestamp() * 1e6) for s in season_starts_between(now - timedelta(days=400), now)]
    )
    season_of = np.searchsorted(seasons, at_us, side="right")
    new_season = starts | np.concatenate(([True], season_of[1:] != season_of[:-1]))
    for counter, total in (
        ("donations", "donations_total"),
        ("donations_received", "received_total"),
    ):
        given = rng.poisson(8, n)
        values[total] = walk(np.zeros(players, dtype=np.int64), given)
        values[counter] = _grouped_cumsum(given, new_season)
    # Insert in time order, as the tracker does.
    by_time = np.argsort(at_us, kind="stable")
    last_sorted = np.concatenate((np.nonzero(starts)[0][1:] - 1, [n - 1]))
    rank = np.empty(n, dtype=np.int64)
    rank[by_time] = np.arange(n)
    return Generated(
        tags=[tag_of(i) for i in range(players)],
        player=player[by_time],
        at_us=at_us[by_time],
        values={c: values[c][by_time] for c in VALUE_COLUMNS},
        last_row=rank[last_sorted],
        now=now,
    )


def _datetimes(at_us: np.ndarray) -> list[datetime]:
    # numpy makes naive datetimes in C; asyncpg would read naive ones as local time.
    return [d.replace(tzinfo=UTC) for d in at_us.astype("datetime64[us]").astype(object).tolist()]


def history_records(data: Generated, lo: int, hi: int) -> list[tuple[object, ...]]:
    tags = data.tags
    columns = [
        [tags[p] for p in data.player[lo:hi].tolist()],
        _datetimes(data.at_us[lo:hi]),
        *(data.values[c][lo:hi].tolist() for c in VALUE_COLUMNS),
    ]
    return list(zip(*columns, strict=True))


def player_records(data: Generated) -> list[tuple[object, ...]]:
    last = data.last_row
    at = _datetimes(data.at_us[last])
    cols = [data.values[c][last].tolist() for c in VALUE_COLUMNS]
    return [
        (tag, f"Player {i}", 0, 1, at[i], at[i], *(c[i] for c in cols))
        for i, tag in enumerate(data.tags)
    ]


async def load(pool: asyncpg.Pool, players: int, rows: int, now: datetime) -> dict[str, float]:
    """Generate and load everything; return the timings in seconds."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = generate(players, rows, now)
    timings["generate_s"] = time.perf_counter() - t0
    async with pool.acquire() as con:
        await con.execute(DROP_KEY)
        t0 = time.perf_counter()
        for lo in range(0, len(data.player), CHUNK):
            records = history_records(data, lo, min(lo + CHUNK, len(data.player)))
            await con.copy_records_to_table(
                "player_history", records=records, columns=HISTORY_COLUMNS
            )
            log.info("copied %s rows", lo + len(records))
        timings["copy_s"] = time.perf_counter() - t0
        await con.copy_records_to_table(
            "players", records=player_records(data), columns=PLAYER_COLUMNS
        )
        tracked = [(i // GUILD_SIZE, tag, True, 1) for i, tag in enumerate(data.tags)]
        await con.copy_records_to_table(
            "tracked_players", records=tracked, columns=("guild_id", "tag", "direct", "added_by")
        )
        await con.copy_records_to_table(
            "links", records=link_records(data), columns=("tag", "user_id")
        )
        await con.copy_records_to_table(
            "player_seasons",
            records=season_records(data),
            columns=("tag", "season_start", "donations", "received"),
        )
        t0 = time.perf_counter()
        await con.execute(BIG_SORT)
        await con.execute(ADD_KEY)
        timings["index_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        for table in TABLES:
            await con.execute(ANALYZE.format(table=table))
        timings["vacuum_analyze_s"] = time.perf_counter() - t0
    return timings


def link_records(data: Generated) -> list[tuple[str, int]]:
    """USER_ID owns three accounts in guild 0; 10,000 other users link 30% of the rest."""
    rng = np.random.default_rng(3)
    owned = [(tag, USER_ID) for tag in data.tags[:3]]
    others = rng.random(len(data.tags)) < 0.3
    return owned + [
        (data.tags[i], 1000 + i % 10_000) for i in np.nonzero(others)[0].tolist() if i >= 3
    ]


def season_records(data: Generated) -> list[tuple[object, ...]]:
    """This season's totals for players seen this season (the game's counter, no resets)."""
    season = season_start(data.now)
    floor = int(season.timestamp() * 1e6)
    last = data.last_row
    seen = data.at_us[last] >= floor
    given = data.values["donations"][last]
    got = data.values["donations_received"][last]
    return [
        (data.tags[i], season, int(given[i]), int(got[i])) for i in np.nonzero(seen)[0].tolist()
    ]


Measure = Callable[[asyncpg.Pool, int, datetime], Awaitable[dict[str, object]]]


async def _load_and_measure(
    dsn: str, players: int, rows: int, measure: Measure
) -> dict[str, object]:
    now = datetime.now(UTC)
    pool = await create_pool(dsn, min_size=1, max_size=3, command_timeout=3600)
    try:
        await migrate(pool)
        started = time.perf_counter()
        timings = await load(pool, players, rows, now)
        timings["load_total_s"] = time.perf_counter() - started
        log.info("loaded in %.0f s: %s", timings["load_total_s"], timings)
        # Other work on a 2-core machine shows in the tails: record how busy it was.
        load_before = os.getloadavg()
        results = await measure(pool, players, now)
        results["loadavg_1_5_15"] = {"before": load_before, "after": os.getloadavg()}
        results["load"] = {k: round(v, 1) for k, v in timings.items()}
        return results
    finally:
        await pool.close()


def measure_on_history(name: str, measure: Measure, players: int, rows: int) -> None:
    """Load ``players`` and ``rows`` of history on a fresh database, run ``measure``, then
    write bench/results/``name``.json and print it (its ``plans``: EXPLAIN output)."""
    # The embedded server starts outside the event loop (its start runs one of its own).
    with database(tcp=False) as dsns:
        found = asyncio.run(
            _load_and_measure(dsns.get("socket") or dsns["tcp"], players, rows, measure)
        )
    results: dict[str, object] = {"players": players, "rows": rows, **found}
    path = record(name, results)
    plans = results.pop("plans", {})
    for key, value in results.items():
        print(f"{key}: {value}")
    for key, plan in plans.items():  # type: ignore[attr-defined]
        print(f"\n-- {key}\n{plan}")
    print(f"\nwritten to {path}")


async def run(dsn: str, players: int, rows: int) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=60)
    try:
        await migrate(pool)
        started = time.perf_counter()
        timings = await load(pool, players, rows, datetime.now(UTC))
        print({k: round(v, 1) for k, v in timings.items()}, time.perf_counter() - started)
    finally:
        await pool.close()


def main(players: int, rows: int) -> None:
    # The embedded server starts outside the event loop (its start runs one of its own).
    with database(tcp=False) as dsns:
        asyncio.run(run(dsns["socket"], players, rows))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args or [100_000, 10_000_000]))
