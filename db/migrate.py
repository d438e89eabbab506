"""The migration runner: numbered SQL files, state kept in the database.

Several processes may start at once (the bot and scaled-out trackers), so the
runner holds an advisory lock while it reads and applies versions. Each file
runs in its own transaction together with the row that records it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# An arbitrary, fixed key for pg_advisory_lock: "coctrack" in ASCII.
LOCK_KEY = 0x636F63747261636B
_NAME_RE = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer     PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""
LOCK = "SELECT pg_advisory_lock($1)"
UNLOCK = "SELECT pg_advisory_unlock($1)"
APPLIED = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
RECORD = "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)"
TABLE_EXISTS = "SELECT to_regclass('schema_migrations') IS NOT NULL"


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME_RE.fullmatch(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version number")
    return found


async def pending(con: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations not yet applied (for ``python -m bot check``); takes no lock."""
    if not await con.fetchval(TABLE_EXISTS):
        return discover(directory)
    applied = {r["version"] for r in await con.fetch(APPLIED)}
    return [m for m in discover(directory) if m.version not in applied]


async def migrate(pool: asyncpg.Pool, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply every pending migration; return the versions applied by this call."""
    migrations = discover(directory)
    applied_now: list[int] = []
    async with pool.acquire() as con:
        await con.execute(LOCK, LOCK_KEY)
        try:
            await con.execute(CREATE_TABLE)
            applied = {r["version"]: r for r in await con.fetch(APPLIED)}
            known = {m.version for m in migrations}
            newer = sorted(v for v in applied if v not in known)
            if newer and newer[-1] > max(known, default=0):
                raise MigrationError(
                    f"the database has migration {newer[-1]}, newer than this code knows; "
                    "run the newer version of the bot or restore a backup"
                )
            for m in migrations:
                row = applied.get(m.version)
                if row is not None:
                    if row["checksum"] != m.checksum:
                        log.warning(
                            "migration %04d_%s was edited after it was applied; "
                            "the database keeps the old version",
                            m.version,
                            m.name,
                        )
                    continue
                async with con.transaction():
                    await con.execute(m.sql)
                    await con.execute(RECORD, m.version, m.name, m.checksum)
                log.info("applied migration %04d_%s", m.version, m.name)
                applied_now.append(m.version)
        finally:
            await con.execute(UNLOCK, LOCK_KEY)
    # Connections prepared statements against the old schema; drop them.
    await pool.expire_connections()
    return applied_now
