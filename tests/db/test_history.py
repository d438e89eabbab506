"""History reads on a real PostgreSQL, seeded with SQL.

The tracker's write path is tested with the tracker; ``seed_player``,
``seed_season`` and ``link`` here are shared with the command tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from db import history
from db.history import VALUE_COLUMNS
from db.model import HistoryPoint

GUILD = 5000  # tests.harness.GUILD_ID
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

BASE: dict[str, int] = {c: 0 for c in VALUE_COLUMNS} | {
    "trophies": 1000,
    "best_trophies": 1000,
    "town_hall": 10,
    "exp_level": 100,
}

INSERT_PLAYER = f"""
INSERT INTO players (tag, name, best_builder_trophies, builder_hall, fetched_at, changed_at,
                     {", ".join(VALUE_COLUMNS)})
VALUES ($1, $2, 0, 1, $3, $3, {", ".join(f"${i + 4}" for i in range(len(VALUE_COLUMNS)))})
"""
INSERT_HISTORY = f"""
INSERT INTO player_history (tag, observed_at, {", ".join(VALUE_COLUMNS)})
VALUES ($1, $2, {", ".join(f"${i + 3}" for i in range(len(VALUE_COLUMNS)))})
"""
INSERT_TRACKED = """
INSERT INTO tracked_players (guild_id, tag, direct, added_by) VALUES ($1, $2, true, 1)
"""
INSERT_SEASON = """
INSERT INTO player_seasons (tag, season_start, donations, received) VALUES ($1, $2, $3, $4)
"""
INSERT_LINK = "INSERT INTO links (tag, user_id, verified) VALUES ($1, $2, false)"


async def seed_player(
    con: asyncpg.Connection | asyncpg.Pool,
    tag: str,
    name: str,
    rows: Sequence[tuple[datetime, Mapping[str, int]]],
    *,
    guild_id: int | None = GUILD,
    fetched_at: datetime | None = None,
) -> dict[str, int]:
    """History rows (each a change on top of the previous snapshot), the matching
    ``players`` row (the last snapshot), and tracking in ``guild_id``.
    Returns the last snapshot."""
    values = dict(BASE)
    for at, change in rows:
        values.update(change)
        await con.execute(INSERT_HISTORY, tag, at, *(values[c] for c in VALUE_COLUMNS))
    last = rows[-1][0] if rows else datetime.now(UTC)
    await con.execute(
        INSERT_PLAYER, tag, name, fetched_at or last, *(values[c] for c in VALUE_COLUMNS)
    )
    if guild_id is not None:
        await con.execute(INSERT_TRACKED, guild_id, tag)
    return values


async def seed_season(
    con: asyncpg.Connection | asyncpg.Pool, tag: str, start: datetime, given: int, got: int
) -> None:
    await con.execute(INSERT_SEASON, tag, start, given, got)


async def link(con: asyncpg.Connection | asyncpg.Pool, tag: str, user_id: int) -> None:
    await con.execute(INSERT_LINK, tag, user_id)


# ------------------------------------------------------------------------------------------


async def test_series_carries_the_last_row_before_the_start(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await seed_player(
        pool,
        "#2PP",
        "A",
        [
            (now - 40 * DAY, {"trophies": 1000}),
            (now - 35 * DAY, {"trophies": 1010}),
            (now - 10 * DAY, {"trophies": 1020, "war_stars": 3}),
            (now - DAY, {"trophies": 990}),
        ],
    )
    async with pool.acquire() as con:
        rows = await history.series(con, "#2PP", "trophies", None, now - 30 * DAY)
        stars = await history.series(con, "#2PP", "war_stars", None, now - 30 * DAY)
        nothing = await history.series(con, "#9VV", "trophies", None, now - 30 * DAY)
    assert rows == [
        HistoryPoint(now - 35 * DAY, 1010, None),
        HistoryPoint(now - 10 * DAY, 1020, None),
        HistoryPoint(now - DAY, 990, None),
    ]
    assert [o.value for o in stars] == [0, 3, 3]
    assert nothing == []


async def test_series_of_a_counter_comes_with_its_total(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await seed_player(
        pool,
        "#2PP",
        "A",
        [
            (now - 3 * DAY, {"donations_received": 50, "received_total": 400}),
            (now - DAY, {"donations_received": 5, "received_total": 420}),
        ],
    )
    async with pool.acquire() as con:
        rows = await history.series(
            con, "#2PP", "donations_received", "received_total", now - 30 * DAY
        )
    assert [(o.value, o.total) for o in rows] == [(50, 400), (5, 420)]


async def test_baseline_falls_back_to_the_first_row(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await seed_player(
        pool,
        "#2PP",
        "A",
        [(now - 3 * DAY, {"trophies": 1100}), (now - DAY, {"trophies": 1200})],
    )
    async with pool.acquire() as con:
        before = await history.baseline(con, "#2PP", now - 2 * DAY)
        early = await history.baseline(con, "#2PP", now - 7 * DAY)
        current = await history.current_stats(con, "#2PP")
        missing = await history.baseline(con, "#9VV", now)
    assert before is not None and before.values["trophies"] == 1100
    assert before.at == now - 3 * DAY
    assert early is not None and early.at == now - 3 * DAY  # the first row stands in
    assert current is not None and current[0] == "A" and current[1].values["trophies"] == 1200
    assert missing is None
