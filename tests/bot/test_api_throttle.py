"""The requests' pace holds on both event loops the bot may run on.

Each test runs its own loop (``bot.runtime.run``), as ``python -m bot`` does: uvloop,
whose millisecond timers wake early, and asyncio's. A slow machine only widens the
gaps, so these cannot fail for being slow.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bot import runtime
from bot.api_throttle import WallClockThrottler
from bot.clash import ClashApi
from bot.settings import load_settings
from bot.tags import TAG_ALPHABET
from tests.fakes.coc_api import FakeCocApi, make_player

LOOPS = [pytest.param(True, id="uvloop"), pytest.param(False, id="asyncio")]


async def _starts(throttle: WallClockThrottler, count: int) -> list[float]:
    seen: list[float] = []

    async def one() -> None:
        async with throttle:
            seen.append(time.monotonic())

    await asyncio.gather(*(one() for _ in range(count)))
    return seen


@pytest.mark.parametrize("fast", LOOPS)
def test_never_more_than_the_limit_in_any_second(fast: bool) -> None:
    """10 keys at 30 a second: a request every 3.3 ms, which uvloop's timers round. No
    301 requests within a second (nor, keys taken in turn, 31 of one key's)."""
    limit = 300
    seen = runtime.run(_starts(WallClockThrottler(1 / limit), 450), fast=fast)
    assert len(seen) == 450
    assert min(later - first for first, later in zip(seen, seen[limit:], strict=False)) >= 1.0


@pytest.mark.parametrize("fast", LOOPS)
def test_below_two_a_second_each_request_waits_a_whole_gap(fast: bool) -> None:
    seen = runtime.run(_starts(WallClockThrottler(0.5), 3), fast=fast)
    assert min(b - a for a, b in itertools.pairwise(seen)) >= 0.5


@pytest.mark.parametrize("fast", LOOPS)
def test_a_burst_on_several_keys_meets_no_429(fast: bool) -> None:
    """Three keys at 100 a second (a request every 3.3 ms), 400 requests at once: the
    API's per-key limiter (a sliding second) never answers 429. Under uvloop coc.py's
    own throttle asked too fast here."""
    tokens = ("key-a", "key-b", "key-c")

    async def burst() -> tuple[dict[str, int], int]:
        api = FakeCocApi(tokens=tokens, key_rate=100)
        await api.start()
        clash = ClashApi(
            load_settings(
                {
                    "DISCORD_TOKEN": "x",
                    "COC_TOKENS": ",".join(tokens),
                    "COC_THROTTLE_LIMIT": "100",
                    "COC_API_BASE_URL": api.base_url,
                },
                dotenv=False,
            )
        )
        await clash.start()
        try:
            tags = [f"#P{a}{b}{c}" for a in TAG_ALPHABET for b in TAG_ALPHABET for c in "029"][:400]
            for tag in tags:
                api.set_player(make_player(tag))
            answers = await asyncio.gather(*(clash.get_player(t, fresh=True) for t in tags))
            return dict(api.throttled), len(answers)
        finally:
            await clash.close()
            await api.stop()

    throttled, answered = runtime.run(burst(), fast=fast)
    assert answered == 400
    assert throttled == {}
