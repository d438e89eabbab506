"""Scripted timelines through the fake API: the exact history and events stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.tracker.seasons import season_end, season_start
from db.pool import create_pool
from tests.bot.tracker.conftest import Env
from tests.fakes.coc_api import make_player

TAG = "#2PP0JCCL"


async def test_trophies_up_and_down_change_only(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG)
    for trophies in (5000, 5031, 5031, 5031, 5010):
        env.api.set_player(make_player(TAG, trophies=trophies, best_trophies=5100))
        await env.poll(tracker)
    assert await env.history(TAG) == [(5000,), (5031,), (5010,)]
    assert await env.events(TAG) == [
        (TAG, "trophies", "5000", "5031", 31),
        (TAG, "trophies", "5031", "5010", -21),
    ]
    assert env.api.count(TAG) == 5


async def test_season_end_resets_counters_and_totals_survive(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG)
    end = season_end(env.clock.now)
    env.clock.now = end - timedelta(hours=2)
    env.api.set_player(make_player(TAG, donations=100, received=40))
    await env.poll(tracker, advance_minutes=0)
    env.api.set_player(make_player(TAG, donations=180, received=50))
    await env.poll(tracker, advance_minutes=60)  # still the old season
    # The game resets at the season end; the new counter (150) is all new-season work,
    # even though it is larger than the last one seen.
    env.api.set_player(make_player(TAG, donations=150, received=5))
    await env.poll(tracker, advance_minutes=120)
    assert await env.history(TAG, "donations", "donations_total", "received_total") == [
        (100, 100, 40),
        (180, 180, 50),
        (150, 330, 55),
    ]
    async with env.pool.acquire() as con:
        seasons = await con.fetch(
            "SELECT season_start, donations, received FROM player_seasons WHERE tag = $1 "
            "ORDER BY season_start",
            TAG,
        )
    assert [(r["season_start"], r["donations"], r["received"]) for r in seasons] == [
        (season_start(end - timedelta(hours=2)), 180, 50),
        (end, 150, 5),
    ]


async def test_leave_and_rejoin_resets_the_counter_but_not_the_totals(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG)
    clan = ("#2Q9VRJ0", "Home Clan")
    timeline = [
        make_player(TAG, donations=100, received=10, clan=clan),
        make_player(TAG, donations=0, received=0, clan=None),  # left: the game zeroes both
        make_player(TAG, donations=30, received=8, clan=clan),  # rejoined and donated
        # Left and joined another clan between two polls, with more than before:
        make_player(TAG, donations=50, received=9, clan=("#8YUCG2L", "Other")),
    ]
    for payload in timeline:
        env.api.set_player(payload)
        await env.poll(tracker)
    assert await env.history(TAG, "donations", "donations_total", "received_total") == [
        (100, 100, 10),
        (0, 100, 10),
        (30, 130, 18),
        (50, 180, 27),
    ]
    kinds = [e[1] for e in await env.events(TAG)]
    assert kinds.count("clan_leave") == 2 and kinds.count("clan_join") == 2
    assert await env.value("SELECT sum(donations) FROM player_seasons WHERE tag = $1", TAG) == 180


async def test_town_hall_and_hero_upgrades(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG)
    env.api.set_player(make_player(TAG, town_hall=15, heroes={"Archer Queen": 94}))
    await env.poll(tracker)
    env.api.set_player(
        make_player(TAG, town_hall=16, heroes={"Archer Queen": 95, "Minion Prince": 1})
    )
    await env.poll(tracker)
    assert await env.history(TAG, "town_hall") == [(15,), (16,)]
    assert await env.events(TAG) == [
        (TAG, "town_hall", "15", "16", 1),
        (TAG, "hero", "94", "95", 1),
        (TAG, "hero", "0", "1", 1),
    ]


async def test_rename_and_clan_change_are_events_without_history_rows(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG)
    env.api.set_player(make_player(TAG, name="Old", clan=("#2Q9VRJ0", "A")))
    await env.poll(tracker)
    env.api.set_player(make_player(TAG, name="New", clan=("#8YUCG2L", "B")))
    await env.poll(tracker)
    # Neither a name nor a clan is a charted stat: one history row, three events.
    assert len(await env.history(TAG)) == 1
    assert await env.events(TAG) == [
        (TAG, "clan_leave", "#2Q9VRJ0", None, None),
        (TAG, "clan_join", None, "#8YUCG2L", None),
        (TAG, "name", "Old", "New", None),
    ]
    assert await env.value("SELECT name FROM players WHERE tag = $1", TAG) == "New"


async def test_a_player_that_disappears_stops_being_polled(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG, "#8YUCG2L")
    env.api.set_player(make_player(TAG))
    env.api.set_player(make_player("#8YUCG2L"))
    await env.poll(tracker)
    env.api.remove_player(TAG)
    for _ in range(5):
        await env.poll(tracker)
    # 1 good poll + 3 misses, then no more requests; the other player goes on.
    assert env.api.count(TAG) == 4
    assert env.api.count("#8YUCG2L") == 6
    assert await env.events(TAG) == [(TAG, "gone", None, None, None)]
    assert await env.value("SELECT gone_at IS NOT NULL FROM player_polls WHERE tag = $1", TAG)
    assert len(await env.history(TAG)) == 1


async def test_maintenance_in_the_middle_pauses_and_loses_nothing(env: Env) -> None:
    tracker = await env.new_tracker()
    tags = ["#2PP0JCCL", "#8YUCG2L", "#9P9PRYQ0"]
    await env.track(*tags)
    for t in tags:
        env.api.set_player(make_player(t, trophies=1000))
    await env.poll(tracker)
    for t in tags:
        env.api.set_player(make_player(t, trophies=1100))
    env.api.set_maintenance(True)
    await env.poll(tracker)
    assert await env.value("SELECT pause_reason FROM tracker_status") == "API maintenance"
    requests_during = env.api.count()
    assert await tracker.run_once() == 0  # paused: no request at all
    assert env.api.count() == requests_during
    env.api.set_maintenance(False)
    await asyncio.sleep(0.25)  # the (shortened) pause runs out
    await env.poll(tracker, advance_minutes=1)
    assert await env.value("SELECT pause_reason FROM tracker_status") is None
    for t in tags:
        assert await env.history(t) == [(1000,), (1100,)]


async def test_rate_limit_in_the_middle_backs_off_then_catches_up(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(TAG)
    env.api.set_player(make_player(TAG, trophies=1000))
    await env.poll(tracker)
    env.api.set_player(make_player(TAG, trophies=1200))
    env.api.fail(TAG, 429, times=1)
    await env.poll(tracker)
    assert "429" in str(await env.value("SELECT pause_reason FROM tracker_status"))
    await asyncio.sleep(0.25)
    await env.poll(tracker, advance_minutes=1)
    assert await env.history(TAG) == [(1000,), (1200,)]


async def test_timeouts_and_server_errors_retry_later(env: Env) -> None:
    tracker = await env.new_tracker(request_deadline=0.3)
    await env.track(TAG)
    env.api.set_player(make_player(TAG, trophies=1000))
    env.api.set_garbage(TAG, "json")
    await env.poll(tracker)
    assert "ApiUnavailable" in str(
        await env.value("SELECT last_error FROM player_polls WHERE tag = $1", TAG)
    )
    env.api.set_garbage(TAG, None)
    env.api.set_delay(1.0)
    await env.poll(tracker)
    env.api.set_delay(0)
    await env.poll(tracker)
    assert await env.history(TAG) == [(1000,)]
    assert await env.value("SELECT last_error FROM player_polls WHERE tag = $1", TAG) is None


async def test_a_restart_between_two_polls(env: Env) -> None:
    first = await env.new_tracker()
    await env.track(TAG)
    env.api.set_player(make_player(TAG, trophies=1000, best_trophies=2000, war_stars=10))
    await env.poll(first)
    # A new process: new client, new tracker, nothing in memory.
    second = await env.new_tracker()
    env.api.set_player(make_player(TAG, trophies=1010, best_trophies=2000, war_stars=13))
    await env.poll(second)
    assert await env.history(TAG, "trophies", "war_stars") == [(1000, 10), (1010, 13)]
    assert [e[1] for e in await env.events(TAG)] == ["trophies", "war_stars"]


async def test_an_observation_written_twice_is_stored_once(env: Env) -> None:
    """A crash after the write but before the lease is released: the retry is a no-op."""
    from bot.profile import parse_player
    from bot.tracker.observe import ProfileReading, record_players

    await env.track(TAG)
    profile = parse_player(make_player(TAG, trophies=1234))
    obs = ProfileReading(profile, env.clock.now)
    for _ in range(2):
        async with env.pool.acquire() as con, con.transaction():
            await record_players(con, [obs])
    assert await env.history(TAG) == [(1234,)]


async def test_two_tracker_processes_share_the_work(env: Env, db_dsn: str) -> None:
    tags = [f"#{a}{b}{c}" for a in "289PY" for b in "LQGRJ" for c in "CUV0"]  # 100 tags
    for t in tags:
        env.api.set_player(make_player(t, trophies=100))
    await env.track(*tags)
    pools = [
        await create_pool(db_dsn, min_size=1, max_size=5, command_timeout=60) for _ in range(2)
    ]
    try:
        trackers = [await env.new_tracker(pool=p, batch_size=7) for p in pools]
        env.api.set_delay(0.002)
        polled = await asyncio.gather(*(t.run_once() for t in trackers))
    finally:
        for p in pools:
            await p.close()
    assert sum(polled) == len(tags)
    assert all(n > 0 for n in polled), polled  # both did some of the work
    assert all(env.api.count(t) == 1 for t in tags)
    assert await env.value("SELECT count(*) FROM player_history") == len(tags)
