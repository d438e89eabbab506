"""The one shared asyncpg pool."""

from __future__ import annotations

import logging

import asyncpg

log = logging.getLogger(__name__)

APPLICATION_NAME = "coc-tracker-bot"


async def _init_connection(con: asyncpg.Connection) -> None:
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
        init=_init_connection,
        server_settings={"application_name": APPLICATION_NAME},
    )
    assert pool is not None
    return pool
