"""The pace of the Clash of Clans requests: under what the keys allow, by the wall clock.

coc.py spaces requests with its ``BasicThrottler``: one request every
``1 / (keys x COC_THROTTLE_LIMIT)`` seconds, keys taken in turn. It measures the
time since the last request with ``process_time()`` (CPU time, not wall time)
and trusts ``asyncio.sleep`` never to wake early. uvloop's timers count whole
milliseconds and do wake early: 300 sleeps of 1/300 s take 0.95 s there, so with
10 keys at 30 requests a second coc.py asked about 315 a second, over the limit,
and the API answered 429s (``bench.api_budget``'s warm-up, where the tracker
asks as fast as it may). This one keeps coc.py's interface and its one lock.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Self

from coc.http import BasicThrottler

# Timers have millisecond steps under uvloop: a sleep is rounded up to the next one.
TIMER_STEP = 0.001
# Kept below the limit: the API counts each key's requests as it handles them, and a
# pause on its side (or on the way) bunches those it handles next, closer than the
# slots. At 5% the benchmark met 14 429s after its first sweep (its fake API is a
# Python process that pauses); at about 20% (coc.py's own throttle on asyncio's loop,
# by its oversleeping) none in its first sweeps. Not measured in between.
MARGIN = 0.2


def _slotted(sleep_time: float) -> bool:
    return sleep_time < 0.5


def gap(sleep_time: float) -> float:
    """Seconds between two slots, for coc.py's ``sleep_time`` (1 / the limit a second)."""
    slots = sleep_time / (1 - sleep_time) if _slotted(sleep_time) else sleep_time
    return slots * (1 + MARGIN)


def pace(per_second: float) -> float:
    """Requests a second the throttler lets through at a limit of ``per_second``: the
    most polling can be planned on (bot.tracker.budget)."""
    return 1 / gap(1 / per_second)


class WallClockThrottler(BasicThrottler):
    """Requests on a schedule of slots, by the wall clock.

    A request starts at its slot or later, never before (a sleep that wakes early
    sleeps again). The next slot follows the last slot, not the moment the last
    request woke, so the millisecond a rounded sleep oversleeps is not lost on every
    request (spacing by wake-up times gave 77% of the limit). A request late by a
    whole gap or more (nothing to send meanwhile) starts a new schedule.

    A late start lets the next request come closer than the slots, by less than one
    gap, so any N + 1 requests span at least N - 1 gaps (N = the limit a second).
    The gap is 1/(N - 1) of a second, and MARGIN more: N + 1 requests then never
    fall within one second, for the keys together or, taken in turn, for any one of
    them, with room for arrivals less even than the slots. At 2 a second or fewer
    each request waits a whole gap after the last one started.
    """

    def __init__(self, sleep_time: float) -> None:
        self._slots = _slotted(sleep_time)
        super().__init__(gap(sleep_time))

    async def __aenter__(self) -> Self:
        async with self.lock:
            now = time.monotonic()
            slot = now if self.last_run is None else max(now, self.last_run + self.sleep_time)
            while now < slot:
                await asyncio.sleep(math.ceil((slot - now) / TIMER_STEP) * TIMER_STEP)
                now = time.monotonic()
            self.last_run = slot if self._slots else now
            return self
