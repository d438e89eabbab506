"""History reads on a real PostgreSQL, seeded with SQL.

The tracker's write path is tested with the tracker; ``seed_player``,
``seed_season`` and ``link`` here are shared with the command tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg

from bot.periods import Observation, Period
from bot.tracker.seasons import season_start
from db import history
from db.history import VALUE_COLUMNS

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
        rows = await history.series(con, "#2PP", "trophies", now - 30 * DAY)
        stars = await history.series(con, "#2PP", "war_stars", now - 30 * DAY)
        nothing = await history.series(con, "#9VV", "trophies", now - 30 * DAY)
    assert rows == [
        Observation(now - 35 * DAY, 1010, None),
        Observation(now - 10 * DAY, 1020, None),
        Observation(now - DAY, 990, None),
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
        rows = await history.series(con, "#2PP", "donations_received", now - 30 * DAY)
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


async def test_board_gains_mark_partial_and_skip_players_without_history(
    pool: asyncpg.Pool,
) -> None:
    now = datetime.now(UTC)
    await seed_player(pool, "#2PP", "Old", [(now - 20 * DAY, {}), (now - DAY, {"trophies": 1300})])
    await seed_player(
        pool, "#2PQ", "New", [(now - 2 * DAY, {"trophies": 900}), (now - HOUR, {"trophies": 950})]
    )
    await seed_player(pool, "#2PR", "NoHistory", [])
    await pool.execute(INSERT_TRACKED, GUILD, "#2PY")  # tracked, never fetched
    await seed_player(pool, "#2PG", "Elsewhere", [(now - 20 * DAY, {})], guild_id=GUILD + 1)
    await link(pool, "#2PQ", 42)
    async with pool.acquire() as con:
        board = await history.board(con, GUILD, "trophies", Period.WEEK, now, 42)
    got = {s.tag: (s.value, s.partial, s.mine) for s in board.standings}
    assert got == {"#2PP": (300, False, False), "#2PQ": (50, True, True)}
    assert (board.pending, board.tracked, board.since) == (2, 4, now - 7 * DAY)


async def test_board_current_values(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await seed_player(pool, "#2PP", "A", [(now - DAY, {"war_stars": 7})])
    await seed_player(pool, "#2PQ", "B", [(now - DAY, {"war_stars": 9})])
    async with pool.acquire() as con:
        board = await history.board(con, GUILD, "war_stars", Period.CURRENT, now, 42)
        empty = await history.board(con, GUILD + 9, "war_stars", Period.CURRENT, now, 42)
    assert sorted((s.tag, s.value) for s in board.standings) == [("#2PP", 7), ("#2PQ", 9)]
    assert board.since is None
    assert (empty.standings, empty.tracked) == ([], 0)


async def test_gains_across_a_season_boundary(pool: asyncpg.Pool) -> None:
    """A week that spans a season end: trophies gain normally, donations through the
    running total although the game's counter went back to zero; "this season" starts
    at the boundary and comes from the season totals."""
    now = datetime.now(UTC)
    boundary = season_start(now)
    after = boundary + (now - boundary) / 2  # inside the current season, whenever this runs
    before = boundary - 2 * DAY
    await seed_player(
        pool,
        "#2PP",
        "A",
        [
            (before - 10 * DAY, {"trophies": 5000, "donations": 100, "donations_total": 100}),
            (before, {"trophies": 5100, "donations": 700, "donations_total": 700}),
            (after, {"trophies": 5050, "donations": 30, "donations_total": 730}),
        ],
    )
    await seed_season(pool, "#2PP", boundary, 30, 0)
    # Tracked only since this season began, with 200 given already (the game's counter).
    await seed_player(
        pool, "#2PQ", "B", [(after, {"trophies": 4000, "donations": 200, "donations_total": 200})]
    )
    async with pool.acquire() as con:
        season_trophies = await history.board(con, GUILD, "trophies", Period.SEASON, now, 1)
        season_given = await history.board(con, GUILD, "donations", Period.SEASON, now, 1)
        current_given = await history.board(con, GUILD, "donations", Period.CURRENT, now, 1)
    trophies = {s.tag: (s.value, s.partial) for s in season_trophies.standings}
    assert trophies == {"#2PP": (-50, False), "#2PQ": (0, True)}
    assert season_trophies.since == boundary
    assert {s.tag: s.value for s in season_given.standings} == {"#2PP": 30, "#2PQ": 200}
    assert season_given.since == boundary
    assert {s.tag: s.value for s in current_given.standings} == {"#2PP": 30, "#2PQ": 200}


async def test_week_of_donations_through_a_counter_reset(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await seed_player(
        pool,
        "#2PP",
        "A",
        [
            (now - 9 * DAY, {"donations": 600, "donations_total": 600}),
            (now - 3 * DAY, {"donations": 650, "donations_total": 650}),
            # Left and rejoined: the game's counter restarted, the total did not.
            (now - DAY, {"donations": 20, "donations_total": 670}),
        ],
    )
    async with pool.acquire() as con:
        week = await history.board(con, GUILD, "donations", Period.WEEK, now, 1)
    assert [(s.tag, s.value, s.partial) for s in week.standings] == [("#2PP", 70, False)]
