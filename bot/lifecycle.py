"""What ``python -m bot`` and ``python -m bot tracker`` share: stop signals, the database,
the Clash of Clans client, and a failed start reported as one line.

Start: database (embedded unless DATABASE_URL), pool, migrations, the Clash of Clans
client with one probe request. Stop, in reverse order: the client, the pool
(``wait_for(pool.close())``, terminated on timeout), the embedded server.

Signal handlers are installed before anything starts. A signal during the start
cancels the step in progress (a slow connect, migrations waiting on a lock, the
embedded server's start), what was opened is closed, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from bot.clash import ClashApi
from bot.failures import StartupError, clash_failure, clash_transient, database_failure
from bot.settings import Settings
from db.embedded import EmbeddedDatabaseError, EmbeddedPostgres
from db.migrate import migrate
from db.pool import create_pool

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long a start step, once cancelled by a signal, may take to unwind before it is
# left behind (the pool close that follows has its own POOL_CLOSE_TIMEOUT).
STEP_UNWIND = 1.0
# A tracker told to stop ends within its batch's writes; past this it is cancelled.
TRACKER_STOP_TIMEOUT = 5.0


class Stopped(Exception):
    """A stop signal arrived before the start completed."""


class Signals:
    """SIGTERM and SIGINT set ``stop``; while starting they also cancel the current step."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._received, sig)

    def _received(self, sig: int) -> None:
        if not self.stop.is_set():
            log.info("%s received: stopping", signal.Signals(sig).name)
        self.stop.set()

    async def step(self, awaitable: Awaitable[T]) -> T:
        """Await one start step; raise ``Stopped`` if a stop signal comes first.

        The step runs as a task so that it can be cancelled and its own clean-up
        (closing a half-open connection, stopping a half-started server) runs.
        """
        task = asyncio.ensure_future(awaitable)
        if self.stop.is_set():
            task.cancel()
        else:
            stopper = asyncio.ensure_future(self.stop.wait())
            try:
                await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                if not task.done():
                    task.cancel()
        if task.done() and not task.cancelled():
            return task.result()
        done, _ = await asyncio.wait({task}, timeout=STEP_UNWIND)
        if task in done and not task.cancelled() and task.exception() is not None:
            log.debug("a start step failed while stopping", exc_info=task.exception())
        raise Stopped


async def close_pool(pool: asyncpg.Pool, grace: float) -> bool:
    """Close gracefully within ``grace`` seconds; terminate otherwise. True if graceful."""
    try:
        await asyncio.wait_for(pool.close(), timeout=grace)
    except TimeoutError:
        pool.terminate()
        log.warning(
            "database pool did not close within %.1f s (a connection was busy): terminated",
            grace,
        )
        return False
    log.info("database pool closed")
    return True


async def _checked(settings: Settings, awaitable: Awaitable[T]) -> T:
    """``awaitable``, with a database failure turned into the line that explains it."""
    try:
        return await awaitable
    except Exception as exc:
        failure = database_failure(exc, settings)
        if failure is None:
            raise
        raise failure from exc


@contextlib.asynccontextmanager
async def database(settings: Settings, signals: Signals) -> AsyncIterator[asyncpg.Pool]:
    """The pool, migrated, on DATABASE_URL or on an embedded server."""
    embedded: EmbeddedPostgres | None = None
    try:
        if settings.database_url:
            dsn = settings.database_url.get()
        else:
            try:
                embedded = EmbeddedPostgres(settings.data_dir)
            except EmbeddedDatabaseError as exc:
                raise StartupError(str(exc), exc.fix) from exc
            dsn = await signals.step(_checked(settings, embedded.start()))
        pool = await signals.step(
            _checked(
                settings,
                create_pool(
                    dsn,
                    min_size=settings.pool_min_size,
                    max_size=settings.pool_max_size,
                    command_timeout=settings.db_command_timeout,
                ),
            )
        )
        try:
            applied = await signals.step(_checked(settings, migrate(pool)))
            log.info("database ready (%d migration(s) applied now)", len(applied))
            yield pool
        finally:
            await close_pool(pool, settings.pool_close_timeout)
    finally:
        if embedded is not None:
            embedded.stop()


async def start_clash(clash: ClashApi, settings: Settings) -> None:
    """Log in, then probe once: with COC_TOKENS, log-in itself makes no request, and a
    refused key would otherwise only show in the tracker's log. Maintenance or a rate
    limit now is no reason not to start: the tracker pauses by itself."""
    try:
        await clash.start()
        latency = await clash.ping()
    except Exception as exc:
        failure = clash_failure(exc, settings)
        if failure is not None:
            raise failure from exc
        passing = clash_transient(exc)
        if passing is None:
            raise
        log.warning("%s: starting anyway; the tracker waits until it answers", passing)
    else:
        log.info("Clash of Clans API: credentials accepted (%.0f ms)", latency * 1000)


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    clash: ClashApi


@contextlib.asynccontextmanager
async def services(settings: Settings, signals: Signals) -> AsyncIterator[Services]:
    async with database(settings, signals) as pool:
        clash = ClashApi(settings)
        try:
            await signals.step(start_clash(clash, settings))
            yield Services(settings, pool, clash)
        finally:
            await clash.close()
            log.info("Clash of Clans client closed")


async def run(main: Callable[[Signals], Awaitable[None]]) -> int:
    """Run ``main`` with the stop signals handled; the process's exit status.

    0: stopped by a signal (also during the start). 1: the start failed, logged as one
    line (the traceback only at DEBUG).
    """
    signals = Signals()
    signals.install()
    try:
        await main(signals)
    except Stopped:
        log.info("stopped before the start completed")
        return 0
    except StartupError as exc:
        log.error(
            "cannot start: %s. Fix: %s",
            exc.what,
            exc.fix,
            exc_info=exc if log.isEnabledFor(logging.DEBUG) else None,
        )
        return 1
    log.info("stopped cleanly")
    return 0
