from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from db.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate, pending
from tests.db_fixtures import PgServer, with_database


@pytest.fixture
async def empty_dsn(pg_server: PgServer) -> str:
    """A database with no schema at all."""
    name = f"empty_{id(object())}"
    con = await asyncpg.connect(pg_server.admin_dsn)
    try:
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    dsn = with_database(pg_server.admin_dsn, name)
    yield dsn
    await pg_server.drop_database(dsn)


async def _tables(dsn: str) -> set[str]:
    con = await asyncpg.connect(dsn)
    try:
        rows = await con.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await con.close()


async def test_apply_from_empty_then_again_is_a_noop(empty_dsn: str) -> None:
    pool = await asyncpg.create_pool(empty_dsn, min_size=1, max_size=2)
    try:
        first = await migrate(pool)
        assert first == [m.version for m in discover()]
        assert {"players", "schema_migrations"} <= await _tables(empty_dsn)
        second = await migrate(pool)
        assert second == []
        async with pool.acquire() as con:
            assert await pending(con) == []
            count = await con.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(discover())
    finally:
        await pool.close()


async def test_two_runners_at_once_apply_each_file_once(empty_dsn: str) -> None:
    pools = [await asyncpg.create_pool(empty_dsn, min_size=1, max_size=2) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(p) for p in pools))
        applied = sorted(v for r in results for v in r)
        assert applied == [m.version for m in discover()]
        con = await asyncpg.connect(empty_dsn)
        try:
            versions = [
                r["version"] for r in await con.fetch("SELECT version FROM schema_migrations")
            ]
        finally:
            await con.close()
        assert sorted(versions) == [m.version for m in discover()]
    finally:
        for p in pools:
            await p.close()


async def test_a_failing_file_rolls_back_alone(empty_dsn: str, tmp_path: Path) -> None:
    for m in discover():
        (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql)
    (tmp_path / "9998_good.sql").write_text("CREATE TABLE good_one (id int);")
    (tmp_path / "9999_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_fn();")
    pool = await asyncpg.create_pool(empty_dsn, min_size=1, max_size=2)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(pool, tmp_path)
        tables = await _tables(empty_dsn)
        assert "good_one" in tables and "half" not in tables
        async with pool.acquire() as con:
            assert [m.version for m in await pending(con, tmp_path)] == [9999]
    finally:
        await pool.close()


async def test_a_database_newer_than_the_code_is_refused(empty_dsn: str) -> None:
    pool = await asyncpg.create_pool(empty_dsn, min_size=1, max_size=2)
    try:
        await migrate(pool)
        async with pool.acquire() as con:
            await con.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'x', 'x')"
            )
        with pytest.raises(MigrationError, match="newer than this code"):
            await migrate(pool, MIGRATIONS_DIR)
    finally:
        await pool.close()


def test_file_names_are_checked(tmp_path: Path) -> None:
    (tmp_path / "1_bad name.sql").write_text("")
    with pytest.raises(MigrationError):
        discover(tmp_path)


async def test_0006_drops_stored_friendly_wars_and_closes_untracked_clans_wars(
    empty_dsn: str, tmp_path: Path
) -> None:
    """Rows the war poller stored before 0006: a friendly war (now not tracked) goes with its
    lineup; an open war of a clan nobody polls is closed 'untracked'; the rest stays."""
    for m in discover():
        if m.version < 6:
            (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql)
    pool = await asyncpg.create_pool(empty_dsn, min_size=1, max_size=2)
    try:
        await migrate(pool, tmp_path)
        async with pool.acquire() as con:
            await con.execute("INSERT INTO war_polls (clan_tag) VALUES ('#2PP')")
            for clan, opponent, preparation in (
                ("#2PP", "#9YY", timedelta(minutes=5)),  # friendly
                ("#2PP", "#9QQ", timedelta(hours=23)),  # a clan war, polled
                ("#8UU", "#9RR", timedelta(hours=23)),  # a clan war of a clan nobody polls
            ):
                war_id = await con.fetchval(
                    """
                    INSERT INTO wars (clan_tag, opponent_tag, preparation_start, start_time,
                        end_time, state, team_size, attacks_per_member, clan_name,
                        opponent_name, first_seen_at, last_seen_at)
                    VALUES ($1, $2, now(), now() + $3::interval, now() + $3::interval
                        + interval '1 day', 'preparation', 5, 2, 'A', 'B', now(), now())
                    RETURNING id
                    """,
                    clan,
                    opponent,
                    preparation,
                )
                await con.execute(
                    "INSERT INTO war_members (war_id, tag, side, name, town_hall, map_position,"
                    " war_end) VALUES ($1, '#8QQ', 'clan', 'Ann', 15, 1, now())",
                    war_id,
                )
        (tmp_path / "0006_war_review.sql").write_text(
            (MIGRATIONS_DIR / "0006_war_review.sql").read_text()
        )
        assert await migrate(pool, tmp_path) == [6]
        async with pool.acquire() as con:
            rows = await con.fetch(
                "SELECT clan_tag, opponent_tag, closed_how FROM wars ORDER BY opponent_tag"
            )
            members = await con.fetchval("SELECT count(*) FROM war_members")
        assert [tuple(r) for r in rows] == [("#2PP", "#9QQ", None), ("#8UU", "#9RR", "untracked")]
        assert members == 2
    finally:
        await pool.close()


async def test_0007_backfills_last_activity_and_schedules_tracked_clans_raids(
    empty_dsn: str, tmp_path: Path
) -> None:
    """Players tracked before 0007 get their newest sign-of-play event as their last
    activity (a defense's trophy change is none); tracked clans get a raid schedule."""
    for m in discover():
        if m.version < 7:
            (tmp_path / f"{m.version:04d}_{m.name}.sql").write_text(m.sql)
    pool = await asyncpg.create_pool(empty_dsn, min_size=1, max_size=2)
    try:
        await migrate(pool, tmp_path)
        async with pool.acquire() as con:
            for tag in ("#AAA", "#BBB", "#CCC"):
                await con.execute(
                    "INSERT INTO players (tag, name, town_hall, exp_level, trophies, "
                    "best_trophies, war_stars, attack_wins, defense_wins, donations, "
                    "donations_received, builder_trophies, best_builder_trophies, builder_hall,"
                    " capital_contributions, fetched_at) "
                    "VALUES ($1, 'n', 15, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, now())",
                    tag,
                )
            await con.executemany(
                "INSERT INTO player_events (tag, occurred_at, kind) VALUES ($1, $2, $3)",
                [
                    ("#AAA", datetime(2026, 11, 1, tzinfo=UTC), "donations"),
                    ("#AAA", datetime(2026, 11, 5, tzinfo=UTC), "hero"),
                    ("#AAA", datetime(2026, 11, 9, tzinfo=UTC), "trophies"),  # maybe a defense
                    ("#BBB", datetime(2026, 11, 3, tzinfo=UTC), "clan_leave"),
                ],
            )
            await con.execute(
                "INSERT INTO tracked_clans (guild_id, clan_tag, added_by) VALUES (1, '#2PP', 1)"
            )
        (tmp_path / "0007_raids_games_activity.sql").write_text(
            (MIGRATIONS_DIR / "0007_raids_games_activity.sql").read_text()
        )
        assert await migrate(pool, tmp_path) == [7]
        async with pool.acquire() as con:
            rows = await con.fetch(
                "SELECT tag, last_active_at, last_active_by FROM players ORDER BY tag"
            )
            raid_polls = await con.fetch("SELECT clan_tag FROM raid_polls")
        assert [tuple(r) for r in rows] == [
            ("#AAA", datetime(2026, 11, 5, tzinfo=UTC), "hero"),
            ("#BBB", None, None),
            ("#CCC", None, None),
        ]
        assert [r["clan_tag"] for r in raid_polls] == ["#2PP"]
    finally:
        await pool.close()
