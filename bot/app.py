"""``python -m bot``: the Discord bot, with a tracker inside it.

Start (each step cancellable by a stop signal, see bot.lifecycle): database, pool,
migrations, the Clash of Clans client, the Discord log-in (which syncs the commands),
the tracker, the gateway. Stop on SIGTERM or SIGINT: the tracker winds down (writing
what its batch got) while commands in flight finish and reply (new ones are told the
bot is restarting); then Discord closes, and once the tracker has stopped, the Clash
client, the pool and the embedded server.
A clean stop exits 0; a failed start is one line and exits 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.discord_bot import TrackerBot, make_bot, point_discord_at
from bot.failures import discord_failure
from bot.health import heartbeat
from bot.lifecycle import TRACKER_STOP_TIMEOUT, Signals, run, services
from bot.pollers import start_pollers
from bot.settings import Settings
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)


async def _discord_login(bot: TrackerBot, settings: Settings) -> None:
    try:
        await bot.login(settings.discord_token.get())
    except Exception as exc:
        failure = discord_failure(exc, settings)
        if failure is None:
            raise
        raise failure from exc


async def _until_stopped(
    gateway: asyncio.Task[None], stop: asyncio.Event, settings: Settings
) -> None:
    """Wait for a stop signal; a gateway that ends first ends the run (with its error)."""
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({gateway, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not gateway.done():
        return
    exc = gateway.exception()
    if exc is None:
        log.warning("the Discord connection ended by itself: stopping")
        return
    failure = discord_failure(exc, settings)
    if failure is None:
        raise exc
    raise failure from exc


async def _run(settings: Settings, signals: Signals) -> None:
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    supervisor = Supervisor()
    async with services(settings, signals) as svc:
        # TrackerBot, or its sharded twin when SHARD_COUNT is set (the start is the same:
        # log in, connect, close).
        bot = make_bot(settings=settings, pool=svc.pool, clash=svc.clash, supervisor=supervisor)

        def healthy() -> bool:
            return bot.is_ready() and not bot.is_closed() and supervisor.healthy()

        tracker_stop = asyncio.Event()

        async def stop_background() -> None:
            # The tracker's own event, then the supervisor's stop in the same step: a
            # tracker that ends after this is not taken for a crash and restarted.
            tracker_stop.set()
            await supervisor.stop(timeout=TRACKER_STOP_TIMEOUT)

        background: asyncio.Task[None] | None = None
        try:
            async with bot:
                await signals.step(_discord_login(bot, settings))
                if settings.tracker_enabled:
                    start_pollers(supervisor, settings, svc.pool, svc.clash, tracker_stop)
                async with heartbeat(settings.data_dir, healthy):
                    gateway = asyncio.create_task(bot.connect(), name="discord-gateway")
                    try:
                        await _until_stopped(gateway, signals.stop, settings)
                        # The tracker winds down (writing what its batch got) while
                        # the commands in flight finish.
                        background = asyncio.create_task(stop_background())
                        await bot.drain()
                    finally:
                        log.info("closing the Discord connection")
                        # Closing unloads the cogs and ends connect() by itself.
                        await bot.close()
                        gateway.cancel()
                        with contextlib.suppress(asyncio.CancelledError, Exception):
                            await gateway
        finally:
            # Before the pool closes (leaving ``services``).
            await (background if background is not None else stop_background())


async def run_bot(settings: Settings) -> int:
    return await run(lambda signals: _run(settings, signals))
