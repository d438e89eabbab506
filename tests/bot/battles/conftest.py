"""A tracker and a battle poller on a real database against the fake API, scripted time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.battles.poller import BattleOptions, BattlePoller
from bot.clash import ClashApi
from bot.settings import Settings
from bot.tracker.engine import Tracker, TrackerOptions
from db import feeds, guild_tracking
from db.pool import create_pool
from tests.bot.tracker.conftest import Clock, tracker_settings
from tests.fakes.battles import BattleLog, make_battle
from tests.fakes.coc_api import RANKED_WEEK, FakeCocApi, make_player

GUILD = 5000
ANN = "#8QQ"
WEEK_ONE = 1773032400  # the template's ranked week: Monday 2026-03-09 05:00 UTC


@dataclass
class Player:
    """A scripted player: what the profile shows follows the battles played."""

    tag: str
    log: BattleLog = field(default_factory=BattleLog)
    trophies: int = 5000
    attack_wins: int = 0  # no attack win this season: no read before the first battle
    season: int = WEEK_ONE
    league: str = "Electro League 33"
    made: int = 0

    def new_week(self) -> None:
        """The ranked week turns: trophies and wins start again (recorded profile at a
        week's start: 750 trophies, no wins)."""
        self.season += RANKED_WEEK
        self.trophies, self.attack_wins = 750, 0

    def payload(self) -> dict[str, Any]:
        return make_player(
            self.tag,
            name=self.tag[1:],
            trophies=self.trophies,
            attack_wins=self.attack_wins,
            league=self.league,
            league_season=self.season,
        )


@dataclass
class BattleEnv:
    api: FakeCocApi
    pool: asyncpg.Pool
    settings: Settings
    clock: Clock = field(default_factory=Clock)
    clients: list[ClashApi] = field(default_factory=list)
    players: dict[str, Player] = field(default_factory=dict)

    async def client(self) -> ClashApi:
        clash = ClashApi(self.settings)
        await clash.start()
        self.clients.append(clash)
        return clash

    async def tracker(self) -> Tracker:
        return Tracker(
            settings=self.settings,
            pool=self.pool,
            clash=await self.client(),
            options=TrackerOptions(maintenance_pause=0.2, rate_limit_backoff=0.2),
            clock=self.clock,
        )

    async def poller(self) -> BattlePoller:
        """A battle poller as a fresh process would build it."""
        return BattlePoller(
            settings=self.settings,
            pool=self.pool,
            clash=await self.client(),
            options=BattleOptions(retry_delay=1.0),
            clock=self.clock,
        )

    def player(self, tag: str, **kwargs: Any) -> Player:
        p = Player(tag, **kwargs)
        self.players[tag] = p
        self.api.set_player(p.payload())
        self.api.serve_battle_log(tag, p.log)
        return p

    def play(self, p: Player, count: int, *, attack: bool = True, **battle: Any) -> None:
        """``count`` battles, each moving trophies (and wins for a won attack)."""
        for _ in range(count):
            p.made += 1
            p.log.play(make_battle(p.made + 1000 * len(p.tag), attack=attack, **battle))
            p.trophies += 10 if attack else -10
            if attack:
                p.attack_wins += 1
        self.api.set_player(p.payload())

    async def track(self, *tags: str) -> None:
        async with self.pool.acquire() as con:
            for tag in tags:
                await guild_tracking.track_player(con, GUILD, tag, 1)

    async def read_profiles(self, tracker: Tracker, *, minutes: float = 10) -> None:
        """The tracker reads every tracked profile now."""
        self.clock.advance(minutes=minutes)
        async with self.pool.acquire() as con:
            await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
        await tracker.run_once()

    async def read_logs(
        self, poller: BattlePoller, *, minutes: float = 1, due: bool = False
    ) -> int:
        """The battle poller reads what is due (``due``: every player it reads at all, as
        if their interval had passed)."""
        self.clock.advance(minutes=minutes)
        if due:
            async with self.pool.acquire() as con:
                await con.execute(
                    "UPDATE battle_logs SET next_poll_at = now() - interval '1 s'"
                    " WHERE next_poll_at IS NOT NULL"
                )
        return await poller.run_once()

    async def battle_and_read(
        self, tracker: Tracker, poller: BattlePoller, p: Player, count: int, **battle: Any
    ) -> None:
        """``count`` battles, then the tracker reads the profiles and the poller the logs."""
        self.play(p, count, **battle)
        await self.read_profiles(tracker)
        await self.read_logs(poller)

    async def last_battle_days_ago(self) -> None:
        """Every player last battled two days ago: no log is due any more."""
        async with self.pool.acquire() as con:
            await con.execute(
                "UPDATE battle_logs SET played_at = now() - interval '2 days', next_poll_at = NULL"
            )

    def log_reads(self, tag: str) -> int:
        return self.api.count(f"/v1/players/{tag}/battlelog")

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with self.pool.acquire() as con:
            return await con.fetch(query, *args)

    async def stored(self, tag: str) -> list[str]:
        """Opponent tags of the player's stored battles, oldest first."""
        rows = await self.fetch(
            "SELECT opponent_tag FROM battles WHERE player_tag = $1 ORDER BY id", tag
        )
        return [r["opponent_tag"] for r in rows]


@pytest.fixture
async def benv(db_dsn: str, tmp_path: Path) -> AsyncIterator[BattleEnv]:
    api = FakeCocApi(tokens=("test-token",), battle_log_max_age=0, league_history_max_age=0)
    await api.start()
    settings = tracker_settings(api, db_dsn, tmp_path, interval=3600)
    pool = await create_pool(db_dsn, min_size=1, max_size=10, command_timeout=60)
    e = BattleEnv(api, pool, settings)
    async with pool.acquire() as con:
        await feeds.set_feed(con, GUILD, 900, None, 1)
    try:
        yield e
    finally:
        for clash in e.clients:
            await clash.close()
        await pool.close()
        await api.stop()
