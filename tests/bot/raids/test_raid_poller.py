"""The raid poller on a real database against the fake API, with scripted time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.clash import ClashApi
from bot.raids.parse import parse_weekend
from bot.raids.poller import RaidOptions, RaidPoller, next_delay, next_weekend_start
from bot.tracker.engine import Tracker
from db import feeds, guild_tracking
from db.pool import create_pool
from tests.bot.tracker.conftest import Clock, tracker_settings
from tests.fakes.coc_api import FakeCocApi, make_clan, make_player
from tests.fakes.raids import RaidWeekend

GUILD, OTHER_GUILD = 5000, 5001
CLAN = "#2PP"
ANN, BOB, CID = "#8QQ", "#8RR", "#8UU"
FRIDAY = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


class RaidEnv:
    def __init__(self, api: FakeCocApi, pool: asyncpg.Pool, settings: object) -> None:
        self.api, self.pool, self.settings = api, pool, settings
        self.clock = Clock()
        self.clock.now = FRIDAY + timedelta(hours=1)
        self.clients: list[ClashApi] = []

    async def client(self) -> ClashApi:
        clash = ClashApi(self.settings)  # type: ignore[arg-type]
        await clash.start()
        self.clients.append(clash)
        return clash

    async def poller(self) -> RaidPoller:
        """A raid poller as a fresh process would build it."""
        return RaidPoller(
            settings=self.settings,  # type: ignore[arg-type]
            pool=self.pool,
            clash=await self.client(),
            options=RaidOptions(),
            clock=self.clock,
        )

    async def poll(self, poller: RaidPoller, *, hours: float = 1) -> int:
        self.clock.advance(hours=hours)
        async with self.pool.acquire() as con:
            await con.execute("UPDATE raid_polls SET next_poll_at = now() - interval '1 s'")
        return await poller.run_once()

    async def read_clan(self, members: list[str]) -> None:
        """The player tracker reads the clan's member list now."""
        self.api.set_clan(make_clan(CLAN, [make_player(t, name=t[1:]) for t in members]))
        for t in members:
            self.api.set_player(make_player(t, name=t[1:], clan=(CLAN, "Our Clan")))
        tracker = Tracker(
            settings=self.settings,  # type: ignore[arg-type]
            pool=self.pool,
            clash=await self.client(),
            clock=self.clock,
        )
        async with self.pool.acquire() as con:
            await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
        await tracker.run_once()

    async def fetch(self, query: str, *args: object) -> list[asyncpg.Record]:
        async with self.pool.acquire() as con:
            return await con.fetch(query, *args)


@pytest.fixture
async def renv(db_dsn: str, tmp_path: Path) -> AsyncIterator[RaidEnv]:
    api = FakeCocApi(tokens=("test-token",), raid_max_age=0)
    await api.start()
    settings = tracker_settings(api, db_dsn, tmp_path, interval=3600)
    pool = await create_pool(db_dsn, min_size=1, max_size=10, command_timeout=60)
    e = RaidEnv(api, pool, settings)
    async with pool.acquire() as con:
        for guild in (GUILD, OTHER_GUILD):
            await guild_tracking.track_clan(con, guild, CLAN, "Our Clan", 1)
            await feeds.set_feed(con, guild, 900 + guild, None, 1)
    try:
        yield e
    finally:
        for clash in e.clients:
            await clash.close()
        await pool.close()
        await api.stop()


async def raid_posts(e: RaidEnv) -> list[asyncpg.Record]:
    return await e.fetch(
        "SELECT o.guild_id, e.detail FROM feed_outbox o JOIN player_events e ON e.id = o.event_id"
        " WHERE e.kind = 'raid_end' ORDER BY o.guild_id"
    )


async def test_a_weekend_from_start_to_end_with_a_member_who_never_raids(renv: RaidEnv) -> None:
    weekend = RaidWeekend(FRIDAY)
    renv.api.serve_raids(CLAN, [weekend])
    poller = await renv.poller()
    await renv.read_clan([ANN, BOB, CID])
    await renv.poll(poller)  # the weekend is seen running; the list read in it is its roster
    weekend.attack(ANN, "Ann", 9_000, attacks=3)
    await renv.poll(poller)
    weekend.attack(ANN, "Ann", 12_000, attacks=3, bonus=True)
    weekend.attack(BOB, "Bob", 4_000, attacks=2)
    await renv.read_clan([ANN, BOB, CID])
    await renv.poll(poller, hours=30)
    assert await raid_posts(renv) == []  # not over yet
    weekend.end_weekend(offensive_reward=430, defensive_reward=180)
    renv.clock.now = weekend.end + timedelta(minutes=2)  # type: ignore[operator]
    await renv.poll(poller, hours=0)

    members = await renv.fetch("SELECT tag, attacks, looted FROM raid_members ORDER BY tag")
    assert [tuple(m) for m in members] == [(ANN, 6, 21_000), (BOB, 2, 4_000)]
    posts = await raid_posts(renv)
    assert [p["guild_id"] for p in posts] == [GUILD, OTHER_GUILD]  # once per guild
    detail = posts[0]["detail"]
    assert detail["looted"] == 25_000 and detail["attacks"] == 8 and detail["raiders"] == 2
    assert detail["offensive_reward"] == 430
    assert detail["non_raiders"] == ["8UU"]  # Cid (named from his tag here) never raided
    assert [t["tag"] for t in detail["top"]] == [ANN, BOB]

    # A restart, and more polls: nothing is posted again, nothing counted twice.
    restarted = await renv.poller()
    await renv.poll(restarted)
    await renv.poll(restarted, hours=24)
    assert len(await raid_posts(renv)) == 2
    assert [tuple(m) for m in await renv.fetch(
        "SELECT tag, attacks, looted FROM raid_members ORDER BY tag"
    )] == [(ANN, 6, 21_000), (BOB, 2, 4_000)]  # fmt: skip


async def test_a_weekend_that_ended_between_two_polls_is_read_ended_with_the_next(
    renv: RaidEnv,
) -> None:
    first = RaidWeekend(FRIDAY)
    renv.api.serve_raids(CLAN, [first])
    poller = await renv.poller()
    await renv.poll(poller)
    first.attack(ANN, "Ann", 5_000, attacks=5)
    first.end_weekend()
    second = RaidWeekend(FRIDAY + timedelta(days=7))
    second.attack(BOB, "Bob", 1_000)
    renv.api.serve_raids(CLAN, [first, second])
    renv.clock.now = second.start + timedelta(hours=2)
    await renv.poll(poller, hours=0)
    weekends = await renv.fetch("SELECT start_time, state FROM raid_weekends ORDER BY start_time")
    assert [tuple(w) for w in weekends] == [(FRIDAY, "ended"), (second.start, "ongoing")]
    posts = await raid_posts(renv)
    assert len(posts) == 2 and posts[0]["detail"]["looted"] == 5_000
    # Nobody's member list was read during the first weekend: who did not raid is unknown.
    assert posts[0]["detail"]["non_raiders"] is None


async def test_a_list_read_after_the_end_adds_nobody_to_the_roster(renv: RaidEnv) -> None:
    weekend = RaidWeekend(FRIDAY)
    renv.api.serve_raids(CLAN, [weekend])
    poller = await renv.poller()
    await renv.read_clan([ANN])
    await renv.poll(poller)
    weekend.attack(ANN, "Ann", 1_000)
    renv.clock.now = weekend.end + timedelta(seconds=30)  # type: ignore[operator]
    await renv.read_clan([ANN, BOB])  # Bob joined after the end, before the next poll
    weekend.end_weekend()
    await renv.poll(poller, hours=0.1)
    [post] = [p for p in await raid_posts(renv) if p["guild_id"] == GUILD]
    assert post["detail"]["non_raiders"] == []


async def test_a_weekend_first_seen_over_is_recorded_not_posted(renv: RaidEnv) -> None:
    done = RaidWeekend(FRIDAY)
    done.attack(ANN, "Ann", 5_000, attacks=5)
    done.end_weekend()
    renv.api.serve_raids(CLAN, [done])
    renv.clock.now = FRIDAY + timedelta(days=4)
    await renv.poll(await renv.poller(), hours=0)
    assert len(await renv.fetch("SELECT 1 FROM raid_members")) == 1
    assert await raid_posts(renv) == []


async def test_raid_attacks_are_a_sign_of_play(renv: RaidEnv) -> None:
    weekend = RaidWeekend(FRIDAY)
    renv.api.serve_raids(CLAN, [weekend])
    poller = await renv.poller()
    await renv.read_clan([ANN])
    weekend.attack(ANN, "Ann", 1_000)
    await renv.poll(poller)  # the first sighting: a baseline
    [row] = await renv.fetch("SELECT last_active_at FROM players WHERE tag = $1", ANN)
    assert row["last_active_at"] is None
    weekend.attack(ANN, "Ann", 1_000)
    await renv.poll(poller)
    [row] = await renv.fetch(
        "SELECT last_active_at, last_active_by FROM players WHERE tag = $1", ANN
    )
    assert (row["last_active_at"], row["last_active_by"]) == (renv.clock.now, "raid_attacks")
    # Read again days after the end (the bot was down): the attacks were made by the end.
    weekend.attack(ANN, "Ann", 1_000)
    weekend.end_weekend()
    renv.clock.now = weekend.end + timedelta(days=3)  # type: ignore[operator]
    await renv.poll(poller, hours=0)
    [row] = await renv.fetch("SELECT last_active_at FROM players WHERE tag = $1", ANN)
    assert row["last_active_at"] == weekend.end


def test_the_schedule_reads_running_weekends_often_and_waits_between_them() -> None:
    running = RaidWeekend(FRIDAY)
    w = parse_weekend(running.body(), CLAN)
    at = FRIDAY + timedelta(hours=5)
    assert next_delay([w], at, 900, 4) == 900
    # Near the end: read again just after it (and the API's minute of cache).
    near = FRIDAY + timedelta(days=3) - timedelta(minutes=3)
    assert next_delay([w], near, 900, 4) == pytest.approx(180 + 65)
    running.end_weekend()
    over = parse_weekend(running.body(), CLAN)
    tuesday = FRIDAY + timedelta(days=4)
    assert next_delay([over], tuesday, 900, 4) == 3600
    thursday_late = FRIDAY + timedelta(days=6, hours=23, minutes=50)
    assert next_delay([over], thursday_late, 900, 4) == 900  # never below the interval
    assert next_delay([over], FRIDAY + timedelta(days=6, hours=23), 60, 100) == 3605
    # A weekend that began a few seconds ago is not in the API's cached answer yet: read
    # again once it is (its first hour counts).
    assert next_delay([over], FRIDAY + timedelta(seconds=5), 900, 4) == pytest.approx(60)
    # Still not shown (no raid yet): asked every cache age for the first hour, then idle.
    assert next_delay([over], FRIDAY + timedelta(minutes=20), 900, 4) == pytest.approx(65)
    assert next_delay([over], FRIDAY + timedelta(minutes=20), 30, 4) == 30
    assert next_delay([over], FRIDAY + timedelta(minutes=61), 900, 4) == 3600
    assert next_weekend_start(FRIDAY) == FRIDAY + timedelta(days=7)
    assert next_weekend_start(FRIDAY - timedelta(seconds=1)) == FRIDAY
