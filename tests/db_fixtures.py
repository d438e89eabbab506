"""A real PostgreSQL for the test session, and a fresh migrated database per test.

TEST_DATABASE_URL (a server the tests may create databases on) wins;
otherwise an embedded server runs under a temporary directory. Migrations
run once into a template; each test gets ``CREATE DATABASE ... TEMPLATE``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from db.pool import create_pool

_counter = itertools.count()


def with_database(dsn: str, name: str) -> str:
    """``dsn`` pointing at database ``name`` (works for socket-style DSNs too)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


class PgServer:
    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.template = f"tmpl_{os.getpid()}"

    async def prepare_template(self) -> None:
        con = await asyncpg.connect(self.admin_dsn)
        try:
            await con.execute(f'DROP DATABASE IF EXISTS "{self.template}"')
            await con.execute(f'CREATE DATABASE "{self.template}"')
        finally:
            await con.close()
        pool = await asyncpg.create_pool(
            with_database(self.admin_dsn, self.template), min_size=1, max_size=2
        )
        try:
            await migrate(pool)
        finally:
            await pool.close()

    async def new_database(self) -> str:
        name = f"t_{os.getpid()}_{next(_counter)}"
        con = await asyncpg.connect(self.admin_dsn)
        try:
            await con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        finally:
            await con.close()
        return with_database(self.admin_dsn, name)

    async def drop_database(self, dsn: str) -> None:
        name = urlsplit(dsn).path.lstrip("/")
        con = await asyncpg.connect(self.admin_dsn)
        try:
            await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await con.close()


@pytest.fixture(scope="session")
async def pg_admin_dsn(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    server = EmbeddedPostgres(Path(tmp_path_factory.mktemp("pg")))
    dsn = await server.start()
    try:
        yield dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def pg_server(pg_admin_dsn: str) -> PgServer:
    server = PgServer(pg_admin_dsn)
    await server.prepare_template()
    return server


@pytest.fixture
async def db_dsn(pg_server: PgServer) -> AsyncIterator[str]:
    dsn = await pg_server.new_database()
    yield dsn
    await pg_server.drop_database(dsn)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await create_pool(db_dsn, min_size=1, max_size=10, command_timeout=60)
    assert p is not None
    yield p
    await p.close()
