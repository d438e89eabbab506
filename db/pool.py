"""The one shared asyncpg pool, and what every connection of it is set up with."""

from __future__ import annotations

import json
import logging

import asyncpg

log = logging.getLogger(__name__)

APPLICATION_NAME = "coc-tracker-bot"


async def init_connection(con: asyncpg.Connection) -> None:
    """Set up a connection as the queries in db/ expect it (also for one made by hand)."""
    # json and jsonb columns and parameters are Python objects, not text.
    for kind in ("json", "jsonb"):
        await con.set_type_codec(kind, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    # Without this a terminated pool leaves a query running on the server
    # until it finishes; with it the server notices the client is gone.
    if con.get_server_version().major >= 14:
        await con.execute("SET client_connection_check_interval = 2000")


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, command_timeout: float
) -> asyncpg.Pool:
    """``command_timeout``: seconds after which a query is cancelled (DB_COMMAND_TIMEOUT)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=init_connection,
        server_settings={"application_name": APPLICATION_NAME},
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """One connection outside the pool, set up like the pool's (tools and tests)."""
    con = await asyncpg.connect(dsn)
    await init_connection(con)
    return con
