"""The war poller on a real database against the fake Clash API, with scripted time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.clash import ClashApi
from bot.settings import Settings
from bot.wars.poller import WarOptions, WarPoller
from db import guild_tracking
from db.pool import create_pool
from tests.bot.tracker.conftest import Clock, tracker_settings
from tests.fakes.coc_api import FakeCocApi

GUILD = 5000
CLAN = "#2PP"
OPPONENT = "#9YY"
# After the league days: /currentwar alone is asked, unless a test moves the clock.
START = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


@dataclass
class WarEnv:
    api: FakeCocApi
    pool: asyncpg.Pool
    settings: Settings
    clock: Clock
    clients: list[ClashApi] = field(default_factory=list)

    async def poller(self, **options: Any) -> WarPoller:
        """A war poller as a fresh process would build it: its own API client."""
        clash = ClashApi(self.settings)
        await clash.start()
        self.clients.append(clash)
        return WarPoller(
            settings=self.settings,
            pool=self.pool,
            clash=clash,
            options=WarOptions(**options),
            clock=self.clock,
        )

    async def track_clan(self, clan_tag: str = CLAN, guild_id: int = GUILD) -> None:
        async with self.pool.acquire() as con:
            await guild_tracking.track_clan(con, guild_id, clan_tag, None, 1)

    async def poll(self, poller: WarPoller, *, minutes: float = 5) -> int:
        """Move the clock on and poll every tracked clan once."""
        self.clock.advance(minutes=minutes)
        async with self.pool.acquire() as con:
            await con.execute("UPDATE war_polls SET next_poll_at = now() - interval '1 s'")
        return await poller.run_once()

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with self.pool.acquire() as con:
            return await con.fetch(query, *args)

    async def value(self, query: str, *args: object) -> Any:
        async with self.pool.acquire() as con:
            return await con.fetchval(query, *args)

    async def attacks(self, clan_tag: str = CLAN) -> list[tuple[str, str, int]]:
        """Every stored attack of the clan's wars: (attacker, defender, order)."""
        rows = await self.fetch(
            "SELECT a.attacker_tag, a.defender_tag, a.attack_order FROM war_attacks a "
            "JOIN wars w ON w.id = a.war_id WHERE w.clan_tag = $1 ORDER BY w.id, a.attack_order",
            clan_tag,
        )
        return [tuple(r.values()) for r in rows]  # type: ignore[misc]

    async def events(self, kind: str) -> list[asyncpg.Record]:
        return await self.fetch(
            "SELECT tag, new_value, delta, detail FROM player_events WHERE kind = $1 ORDER BY id",
            kind,
        )


@pytest.fixture
async def wenv(db_dsn: str, tmp_path: Path) -> AsyncIterator[WarEnv]:
    # No cache in the fake's answers: the scripted war moves between polls seconds apart.
    api = FakeCocApi(tokens=("test-token",), war_max_age=0, league_max_age=0, war_log_max_age=0)
    await api.start()
    settings = tracker_settings(api, db_dsn, tmp_path, interval=60)
    pool = await create_pool(db_dsn, min_size=1, max_size=10, command_timeout=60)
    clock = Clock()
    clock.now = START
    e = WarEnv(api, pool, settings, clock)
    try:
        yield e
    finally:
        for clash in e.clients:
            await clash.close()
        await pool.close()
        await api.stop()


def war_start(clock: Clock, *, battle_left: timedelta = timedelta(hours=20)) -> datetime:
    """A preparation start such that the (23 h + 24 h) war's battle day has ``battle_left``."""
    return clock.now + battle_left - timedelta(hours=47)
