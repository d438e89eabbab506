"""A tracker on a real database against the fake Clash API, with scripted time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.clash import ClashApi
from bot.settings import Settings, load_settings
from bot.tracker.engine import Tracker, TrackerOptions
from db import guild_tracking
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi

GUILD = 5000


class Clock:
    """Observation time, moved by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@dataclass
class Env:
    api: FakeCocApi
    pool: asyncpg.Pool
    settings: Settings
    clock: Clock
    trackers: list[Tracker]
    clients: list[ClashApi]

    async def new_tracker(self, pool: asyncpg.Pool | None = None, **options: float) -> Tracker:
        """A tracker as a fresh process would build it: its own API client."""
        clash = ClashApi(self.settings)
        await clash.start()
        self.clients.append(clash)
        opts = TrackerOptions(maintenance_pause=0.2, rate_limit_backoff=0.2, **options)
        tracker = Tracker(
            settings=self.settings,
            pool=pool or self.pool,
            clash=clash,
            options=opts,
            clock=self.clock,
        )
        self.trackers.append(tracker)
        return tracker

    async def track(self, *tags: str) -> None:
        async with self.pool.acquire() as con:
            for tag in tags:
                await guild_tracking.track_player(con, GUILD, tag, 1)

    async def track_clan(self, clan_tag: str) -> None:
        async with self.pool.acquire() as con:
            await guild_tracking.track_clan(con, GUILD, clan_tag, None, 1)

    async def make_due(self) -> None:
        """Skip the wait: everything scheduled is due now (pauses are kept)."""
        async with self.pool.acquire() as con:
            await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
            await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")

    async def poll(self, tracker: Tracker, *, advance_minutes: float = 10) -> int:
        self.clock.advance(minutes=advance_minutes)
        await self.make_due()
        return await tracker.run_once()

    async def history(self, tag: str, *columns: str) -> list[tuple]:
        cols = ", ".join(columns or ("trophies",))
        async with self.pool.acquire() as con:
            rows = await con.fetch(
                f"SELECT {cols} FROM player_history WHERE tag = $1 ORDER BY observed_at", tag
            )
        return [tuple(r.values()) for r in rows]

    async def events(self, tag: str | None = None) -> list[tuple]:
        async with self.pool.acquire() as con:
            rows = await con.fetch(
                "SELECT tag, kind, old_value, new_value, delta FROM player_events "
                "WHERE $1::text IS NULL OR tag = $1 ORDER BY id",
                tag,
            )
        return [tuple(r.values()) for r in rows]

    async def value(self, query: str, *args: object) -> object:
        async with self.pool.acquire() as con:
            return await con.fetchval(query, *args)


def tracker_settings(api: FakeCocApi, dsn: str, data_dir: Path, *, interval: float) -> Settings:
    """Settings for a tracker against the fake API, with no throttle to speak of."""
    return load_settings(
        {
            "DISCORD_TOKEN": "x",
            "COC_TOKENS": "test-token",
            "COC_API_BASE_URL": api.base_url,
            "COC_THROTTLE_LIMIT": "1000",
            "DATABASE_URL": dsn,
            "DATA_DIR": str(data_dir),
            "TRACK_INTERVAL_SECONDS": str(interval),
        }
    )


@pytest.fixture
async def env(db_dsn: str, tmp_path: Path) -> AsyncIterator[Env]:
    api = FakeCocApi(tokens=("test-token",))
    await api.start()
    settings = tracker_settings(api, db_dsn, tmp_path, interval=60)
    pool = await create_pool(db_dsn, min_size=1, max_size=10, command_timeout=60)
    e = Env(api, pool, settings, Clock(), [], [])
    try:
        yield e
    finally:
        for clash in e.clients:
            await clash.close()
        await pool.close()
        await api.stop()
