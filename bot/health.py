"""A heartbeat file for container health checks.

A Docker HEALTHCHECK runs ``python -m bot healthcheck`` in a fresh process,
which cannot ask the bot anything; the bot therefore touches a file while it
is connected (or, for a tracker process, while its loop is alive), and the
check passes only when that file is fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

log = logging.getLogger(__name__)

HEARTBEAT_NAME = "heartbeat"
INTERVAL = 10.0
MAX_AGE = 45.0


def heartbeat_path(data_dir: Path) -> Path:
    return data_dir / HEARTBEAT_NAME


async def heartbeat_loop(path: Path, healthy: Callable[[], bool]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if healthy():
            try:
                await asyncio.to_thread(path.touch)
            except OSError as exc:
                log.warning("could not write the heartbeat file %s: %s", path, exc)
        await asyncio.sleep(INTERVAL)


def clear_heartbeat(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def is_fresh(path: Path, max_age: float = MAX_AGE) -> bool:
    try:
        return time.time() - os.stat(path).st_mtime <= max_age
    except OSError:
        return False


@contextlib.asynccontextmanager
async def heartbeat(data_dir: Path, healthy: Callable[[], bool]) -> AsyncIterator[None]:
    """Keep the heartbeat file fresh while ``healthy()``; remove it on the way out."""
    path = heartbeat_path(data_dir)
    clear_heartbeat(path)
    task = asyncio.create_task(heartbeat_loop(path, healthy))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        clear_heartbeat(path)
