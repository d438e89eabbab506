from __future__ import annotations

import asyncio
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
