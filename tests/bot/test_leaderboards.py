"""Leaderboards on a real PostgreSQL: the current value, gains over a period, seasons."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from bot import leaderboards
from bot.periods import Period
from bot.tracker.seasons import season_start
from tests.db.test_history import DAY, GUILD, HOUR, INSERT_TRACKED, link, seed_player, seed_season


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
        board = await leaderboards.board(con, GUILD, "trophies", Period.WEEK, now, 42)
    got = {s.tag: (s.value, s.partial, s.mine) for s in board.standings}
    assert got == {"#2PP": (300, False, False), "#2PQ": (50, True, True)}
    assert (board.pending, board.tracked, board.since) == (2, 4, now - 7 * DAY)


async def test_board_current_values(pool: asyncpg.Pool) -> None:
    now = datetime.now(UTC)
    await seed_player(pool, "#2PP", "A", [(now - DAY, {"war_stars": 7})])
    await seed_player(pool, "#2PQ", "B", [(now - DAY, {"war_stars": 9})])
    async with pool.acquire() as con:
        board = await leaderboards.board(con, GUILD, "war_stars", Period.CURRENT, now, 42)
        empty = await leaderboards.board(con, GUILD + 9, "war_stars", Period.CURRENT, now, 42)
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
        season_trophies = await leaderboards.board(con, GUILD, "trophies", Period.SEASON, now, 1)
        season_given = await leaderboards.board(con, GUILD, "donations", Period.SEASON, now, 1)
        current_given = await leaderboards.board(con, GUILD, "donations", Period.CURRENT, now, 1)
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
        week = await leaderboards.board(con, GUILD, "donations", Period.WEEK, now, 1)
    assert [(s.tag, s.value, s.partial) for s in week.standings] == [("#2PP", 70, False)]
