"""``python -m bot tracker``: a tracker process (players and wars) without Discord.

Run several (``docker compose --profile scale up --scale tracker=3``); they
share the work through leases in the database.
"""

from __future__ import annotations

import asyncio
import logging

from bot.health import heartbeat
from bot.lifecycle import TRACKER_STOP_TIMEOUT, Signals, run, services
from bot.pollers import start_pollers
from bot.settings import Settings
from bot.supervisor import Supervisor

log = logging.getLogger(__name__)


async def _run(settings: Settings, signals: Signals) -> None:
    supervisor = Supervisor()
    async with services(settings, signals) as svc:
        tracker_stop = asyncio.Event()
        tracker = start_pollers(supervisor, settings, svc.pool, svc.clash, tracker_stop)
        try:
            async with heartbeat(
                settings.data_dir, lambda: tracker.healthy() and supervisor.healthy()
            ):
                await signals.stop.wait()
        finally:
            tracker_stop.set()
            await supervisor.stop(timeout=TRACKER_STOP_TIMEOUT)


async def run_tracker(settings: Settings) -> int:
    return await run(lambda signals: _run(settings, signals))
