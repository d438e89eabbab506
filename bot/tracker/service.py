"""``python -m bot tracker``: a tracker process without a Discord connection.

Run several (``docker compose --profile scale up --scale tracker=3``); they
share the work through leases in the database.
"""

from __future__ import annotations

import asyncio
import logging

from bot.health import clear_heartbeat, heartbeat_loop, heartbeat_path
from bot.settings import Settings
from bot.tracker.engine import Tracker

log = logging.getLogger(__name__)


async def run_tracker(settings: Settings) -> int:
    from bot.app import _install_signal_handlers, services

    stop = asyncio.Event()
    _install_signal_handlers(stop)
    async with services(settings) as svc:
        tracker = Tracker(settings=settings, pool=svc.pool, clash=svc.clash)
        beat = heartbeat_path(settings.data_dir)
        heart = asyncio.create_task(heartbeat_loop(beat, tracker.healthy))
        try:
            await tracker.run(stop)
        finally:
            heart.cancel()
            clear_heartbeat(beat)
    log.info("stopped cleanly")
    return 0
