"""The lifecycle of ``python -m bot``: start in order, stop in reverse order.

Start: database (embedded unless DATABASE_URL), pool, migrations, the Clash
of Clans client, then the Discord bot and the tracker. Stop on SIGTERM or
SIGINT: the bot, the tracker (writing what its batch got), the Clash client,
the pool (``wait_for(pool.close())``, terminated on timeout), the embedded
server. A clean stop exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import discord

from bot.clash import ClashApi
from bot.discord_bot import TrackerBot, point_discord_at
from bot.health import clear_heartbeat, heartbeat_loop, heartbeat_path
from bot.settings import Settings
from bot.tracker.engine import Tracker
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from db.pool import create_pool

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    pool: asyncpg.Pool
    clash: ClashApi


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


@contextlib.asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """The pool, migrated, on DATABASE_URL or on an embedded server."""
    embedded: EmbeddedPostgres | None = None
    if settings.database_url:
        dsn = settings.database_url.get()
    else:
        embedded = EmbeddedPostgres(settings.data_dir)
        # Started from the main thread on purpose: the parent-death signal is
        # tied to the thread that forks the server.
        dsn = embedded.start()
    try:
        pool = await create_pool(dsn, settings)
        try:
            applied = await migrate(pool)
            log.info("database ready (%d migration(s) applied now)", len(applied))
            yield pool
        finally:
            await close_pool(pool, settings.pool_close_timeout)
    finally:
        if embedded is not None:
            embedded.stop()


@contextlib.asynccontextmanager
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with database(settings) as pool:
        clash = ClashApi(settings)
        await clash.start()
        try:
            yield Services(settings, pool, clash)
        finally:
            await clash.close()
            log.info("Clash of Clans client closed")


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _wait_first(main: asyncio.Task[None], stop: asyncio.Event) -> None:
    """Wait until ``main`` ends (raising its error) or a stop signal arrives."""
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if main.done():
        main.result()  # re-raise a crash; a clean return also ends the run
    else:
        log.info("stop signal received: shutting down")


async def run_bot(settings: Settings) -> int:
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    async with services(settings) as svc:
        bot = TrackerBot(settings=settings, pool=svc.pool, clash=svc.clash)
        beat = heartbeat_path(settings.data_dir)
        clear_heartbeat(beat)
        heart = asyncio.create_task(
            heartbeat_loop(beat, lambda: bot.is_ready() and not bot.is_closed())
        )
        tracker_stop = asyncio.Event()
        tracker_task = None
        if settings.tracker_enabled:
            tracker = Tracker(settings=settings, pool=svc.pool, clash=svc.clash)
            tracker_task = asyncio.create_task(tracker.run(tracker_stop))
        try:
            async with bot:
                runner = asyncio.create_task(bot.start(settings.discord_token.get()))
                try:
                    await _wait_first(runner, stop)
                except discord.LoginFailure:
                    log.error("Discord refused DISCORD_TOKEN: check the token in .env")
                    return 1
                finally:
                    # Leaving ``async with bot`` closes it: cogs unload, the gateway closes.
                    log.info("closing the Discord connection")
                runner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await runner
        finally:
            if tracker_task is not None:
                # The tracker writes what its batch already got before the pool closes.
                tracker_stop.set()
                await tracker_task
            heart.cancel()
            clear_heartbeat(beat)
    log.info("stopped cleanly")
    return 0
