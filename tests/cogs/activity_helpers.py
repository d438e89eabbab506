"""A tracked clan whose members play, for the command tests: the real tracker run once
against the harness's database and fake API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.tracker.engine import Tracker
from db import guild_tracking
from tests.bot.tracker.conftest import Clock
from tests.fakes.coc_api import make_clan, make_player, set_achievement
from tests.harness import GUILD_ID, Harness

CLAN = "#2PP"
CLAN_NAME = "Our Clan"


def member(tag: str, name: str, *, games: int = 0, clan: str = CLAN, **stats: Any) -> dict:
    payload = make_player(tag, name=name, clan=(clan, CLAN_NAME), **stats)
    set_achievement(payload, "Games Champion", games)
    return payload


def publish(harness: Harness, members: list[dict], clan: str = CLAN) -> None:
    for payload in members:
        harness.coc.set_player(payload)
    harness.coc.set_clan(make_clan(clan, members, name=CLAN_NAME))


async def track_clan(harness: Harness, clan: str = CLAN) -> None:
    async with harness.pool.acquire() as con:
        await guild_tracking.track_clan(con, GUILD_ID, clan, CLAN_NAME, 1)


# Readings ten minutes apart: within an endpoint's cache age of another answer a reading
# may be older than it, and the tracker holds it (bot.tracker.counters).
POLL_SPACING = timedelta(minutes=10)


async def poll(harness: Harness) -> int:
    """The tracker of this process, once over everything (clans, then the members their
    lists made due), its readings timed ten minutes after the previous poll's."""
    clock: Clock | None = getattr(harness, "tracker_clock", None)
    if clock is None:
        # In the current month (the commands read this month's clan games), in the past.
        now = datetime.now(UTC)
        clock = Clock()
        clock.now = max(now - timedelta(minutes=30), now.replace(day=1, hour=0, minute=0))
        harness.tracker_clock = clock  # type: ignore[attr-defined]
    return await poll_at(harness, clock)


async def poll_at(harness: Harness, clock: Clock) -> int:
    """The tracker once over everything, its readings ten minutes after ``clock``'s."""
    clock.advance(seconds=POLL_SPACING.total_seconds())
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
        await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
    tracker = Tracker(
        settings=harness.settings, pool=harness.pool, clash=harness.bot.clash, clock=clock
    )
    return await tracker.run_once()
