"""Which exceptions mean "the database is unavailable" rather than a bug."""

from __future__ import annotations

import asyncio

import asyncpg

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # connection refused, reset, socket gone
    asyncio.TimeoutError,  # acquire or command_timeout
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,  # connection closed, pool closing
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database went away, not that a query was wrong."""
    return isinstance(exc, _UNAVAILABLE)


# Any error a database call can raise that a background loop should survive (log, wait,
# try again): a lost connection, and a query that failed (a lock timeout, a constraint).
DB_TROUBLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)
