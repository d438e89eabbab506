"""The process's event loop: uvloop where it is installed, asyncio's own otherwise.

Every request the tracker makes goes through the loop several times (aiohttp's
send and read, asyncpg's statements, the timers of the deadlines), so the loop's
own cost is paid hundreds of times a second. uvloop (libuv, by asyncpg's authors)
does that work in C: ``bench.api_floor`` measured a profile's or a clan list's
request about 13% cheaper with it (a war's 3%; a battle log's dearer), though the
whole tracker in ``bench.api_budget`` did not show a difference beyond the runs'
spread (BENCHMARKS.md, issue 17). It is not built for Windows; there, and with
``UVLOOP=false``, the standard loop runs the same code.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# Allocations (less frees) between two young collections; CPython's default is 700.
GC_YOUNG_THRESHOLD = 50_000


def loop_factory(fast: bool = True) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop factory when ``fast`` and uvloop is installed; None (asyncio's
    default loop) otherwise."""
    if not fast or importlib.util.find_spec("uvloop") is None:
        return None
    import uvloop

    return uvloop.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which loop runs, for the start-up log line."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def tune_gc() -> None:
    """Fewer, cheaper garbage collections for a process that parses JSON all day.

    A profile's JSON is hundreds of dicts and lists; with the default thresholds (a
    young collection every 700 allocations) the answers still being read by other
    requests are promoted again and again, and a full collection, which walks every
    object alive, ran every 2.6 s for 65 ms: about a tenth of the tracker's CPU in
    ``bench.api_budget``. What exists at start-up (modules, settings) is frozen out of
    the walks, and young collections wait for more allocations. Garbage without
    cycles is freed at once either way (reference counting). Process-wide: called by
    ``python -m bot`` (and the benchmark that measures it), not by libraries or tests.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def run(main: Coroutine[Any, Any, T], *, fast: bool = True) -> T:
    """``asyncio.run(main)`` on the loop ``loop_factory(fast)`` chooses."""
    with asyncio.Runner(loop_factory=loop_factory(fast)) as runner:
        log.info("event loop: %s", loop_name(runner.get_loop()))
        return runner.run(main)
