"""Regressions of issue 10, through the real tracker, database and fake API.

Members leave and move, seasons end while the API is late, readers race,
processes stall: the stored totals, seasons, history and events stay exact.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import asyncpg

from bot.clash import fetched_at
from bot.profile import parse_player
from bot.tracker.observe import ProfileReading, record_lookup, record_players
from bot.tracker.seasons import season_end, season_start
from db import clan_membership, guild_tracking, links, schedule, tracker_status
from db.guild_tracking import Tracked
from db.links import LinkSaved
from db.pool import connect, create_pool
from tests.bot.tracker.conftest import GUILD, Env
from tests.fakes.coc_api import make_clan, make_player, set_achievement

X, Y = "#2Q9VRJ0", "#8YUCG2L"
A, B, C = "#2PP0JCCL", "#9P9PRYQ0", "#LQ2V9UC"
LIFETIME = 20_000


def member(tag: str, clan: str | None, donations: int = 0, **kw: Any) -> dict[str, Any]:
    """A profile whose lifetime donation achievements agree with its counter."""
    lifetime = kw.pop("lifetime", LIFETIME)
    shown = (clan, f"Clan {clan}") if clan else None
    payload = make_player(tag, clan=shown, donations=donations, **kw)
    set_achievement(payload, "Friend in Need", lifetime + donations)
    set_achievement(payload, "Sharing is caring", 0)
    set_achievement(payload, "Siege Sharer", 0)
    return payload


async def totals(env: Env, tag: str) -> tuple[int, int]:
    async with env.pool.acquire() as con:
        row = await con.fetchrow(
            "SELECT donations_total, received_total FROM players WHERE tag = $1", tag
        )
    return (row["donations_total"], row["received_total"])


async def seasons(env: Env, tag: str) -> dict[Any, tuple[int, int]]:
    async with env.pool.acquire() as con:
        rows = await con.fetch(
            "SELECT season_start, donations, received FROM player_seasons WHERE tag = $1", tag
        )
    return {r["season_start"]: (r["donations"], r["received"]) for r in rows}


async def kinds(env: Env, tag: str) -> list[str]:
    return [e[1] for e in await env.events(tag)]


async def poll_clans(env: Env, tracker: Any) -> None:
    """Only the clans are due: what the member lists alone show."""
    env.clock.advance(minutes=5)
    async with env.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()


# -- 1. a leave does not count the donations again -------------------------------------------


async def test_a_member_who_leaves_keeps_their_donations_counted_once(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_player(member(A, X, donations=500, received=40))
    env.api.set_clan(make_clan(X, [member(A, X, donations=500, received=40)]))
    await env.track_clan(X)
    await env.poll(tracker)  # the clan's baseline, then A's full profile
    assert await totals(env, A) == (500, 40)

    # A leaves: the game zeroes both counters; the clan's list no longer shows A.
    env.api.set_player(member(A, None, donations=0, received=0, lifetime=LIFETIME + 500))
    env.api.set_clan(make_clan(X, []))
    await poll_clans(env, tracker)
    assert await totals(env, A) == (500, 40)
    assert sum(d for d, _ in (await seasons(env, A)).values()) == 500
    assert "donations" not in await kinds(env, A) and "received" not in await kinds(env, A)
    assert (await kinds(env, A)).count("clan_leave") == 1


async def test_a_move_between_two_tracked_clans_counts_only_the_new_donations(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_player(member(A, X, donations=500))
    env.api.set_clan(make_clan(X, [member(A, X, donations=500)]))
    env.api.set_clan(make_clan(Y, [member(B, Y)]))
    env.api.set_player(member(B, Y))
    await env.track_clan(X)
    await env.track_clan(Y)
    await env.poll(tracker)

    # A moves from X to Y (counters zeroed) and donates 20 there.
    moved = member(A, Y, donations=20, lifetime=LIFETIME + 500)
    env.api.set_player(moved)
    env.api.set_clan(make_clan(X, []))
    env.api.set_clan(make_clan(Y, [member(B, Y), moved]))
    await poll_clans(env, tracker)
    assert await totals(env, A) == (520, 0)
    assert sorted(await kinds(env, A)) == ["clan_join", "clan_leave", "donations"]
    assert [e[4] for e in await env.events(A) if e[1] == "donations"] == [20]
    # And the next full profile agrees: nothing more, nothing less.
    await env.poll(tracker)
    assert await totals(env, A) == (520, 0)


async def test_donations_just_before_a_move_between_tracked_clans_are_found(env: Env) -> None:
    """The move is a leave from X (nobody tracks A for a moment) and a join of Y: the
    achievements' witness survives the moment, and finds what no counter showed."""
    tracker = await env.new_tracker()
    env.api.set_player(member(A, X, donations=100))
    env.api.set_clan(make_clan(X, [member(A, X, donations=100)]))
    env.api.set_clan(make_clan(Y, [member(B, Y)]))
    env.api.set_player(member(B, Y))
    await env.track_clan(X)
    await env.track_clan(Y)
    await env.poll(tracker)
    # A donates 70 in X, then moves to Y (zeroed) before any poll sees it.
    moved = member(A, Y, donations=0, lifetime=LIFETIME + 170)
    env.api.set_player(moved)
    env.api.set_clan(make_clan(X, []))
    env.api.set_clan(make_clan(Y, [member(B, Y), moved]))
    await poll_clans(env, tracker)
    await env.poll(tracker)
    assert await totals(env, A) == (170, 0)


async def test_what_a_player_donated_while_nobody_tracked_them_is_not_credited(
    env: Env,
) -> None:
    """A leaves the tracked clan X for an hour (nobody tracks A then), donates 70
    elsewhere and comes back: the achievements show 70 more, but those were donated while
    untracked; crediting them would date them at the return. The witness is dropped."""
    tracker = await env.new_tracker()
    env.api.set_player(member(A, X, donations=100))
    env.api.set_clan(make_clan(X, [member(A, X, donations=100)]))
    await env.track_clan(X)
    await env.poll(tracker)
    env.api.set_clan(make_clan(X, []))
    env.api.set_player(member(A, None, donations=0))
    await poll_clans(env, tracker)
    env.clock.advance(minutes=60)
    back = member(A, X, donations=0, lifetime=LIFETIME + 170)
    env.api.set_player(back)
    env.api.set_clan(make_clan(X, [back]))
    await poll_clans(env, tracker)
    await env.poll(tracker)
    assert await totals(env, A) == (100, 0)
    assert [e[4] for e in await env.events(A) if e[1] == "donations"] == []


async def test_a_leave_and_rejoin_between_polls_is_found_by_the_achievements(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(A)
    env.api.set_player(member(A, X, donations=100))
    await env.poll(tracker)
    # Donated 50, left, rejoined, donated 120: the counter shows 120, never a drop.
    env.api.set_player(member(A, X, donations=120, lifetime=LIFETIME + 150))
    await env.poll(tracker)
    assert (await totals(env, A))[0] == 270
    assert [e[4] for e in await env.events(A) if e[1] == "donations"] == [170]


# -- 4. a season end the API shows late --------------------------------------------------------


async def test_a_late_reset_is_not_added_to_the_new_season(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(A)
    end = season_end(env.clock.now)
    old = season_start(env.clock.now)
    env.clock.now = end - timedelta(hours=1)
    env.api.set_player(member(A, X, donations=400, received=30))
    await env.poll(tracker, advance_minutes=0)
    # After the season end the API still serves the old counters (20 donated just before).
    env.clock.now = end
    env.api.set_player(member(A, X, donations=420, received=30, lifetime=LIFETIME))
    await env.poll(tracker, advance_minutes=5)
    assert await seasons(env, A) == {old: (420, 30)}
    # Then the reset shows; 25 are donated in the new season.
    env.api.set_player(member(A, X, donations=25, received=3, lifetime=LIFETIME + 420))
    await env.poll(tracker, advance_minutes=30)
    assert await seasons(env, A) == {old: (420, 30), end: (25, 3)}
    assert await totals(env, A) == (445, 33)
    assert [e[4] for e in await env.events(A) if e[1] == "donations"] == [20, 25]


async def test_without_achievements_a_late_counter_waits_for_the_drop(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(A)
    end = season_end(env.clock.now)
    env.clock.now = end - timedelta(hours=1)
    env.api.set_player(make_player(A, clan=(X, "X"), donations=400))  # achievements unchanged
    await env.poll(tracker, advance_minutes=0)
    env.clock.now = end
    env.api.set_player(make_player(A, clan=(X, "X"), donations=400))
    await env.poll(tracker, advance_minutes=5)
    env.api.set_player(make_player(A, clan=(X, "X"), donations=410))
    await env.poll(tracker, advance_minutes=5)
    assert await totals(env, A) == (400, 0)  # held: late or refilled, not known yet
    env.api.set_player(make_player(A, clan=(X, "X"), donations=15))
    await env.poll(tracker, advance_minutes=20)
    # The drop proves the reset, and that 410 was the old season's end.
    assert await seasons(env, A) == {season_start(end - timedelta(hours=1)): (410, 0), end: (15, 0)}


# -- 5. races ----------------------------------------------------------------------------------


async def test_a_lookup_racing_a_poll_makes_one_baseline(env: Env, db_dsn: str) -> None:
    await env.track(A)  # scheduled, never read: no row to lock yet
    profile = parse_player(member(A, X, donations=300, received=7))
    cons = [await connect(db_dsn) for _ in range(2)]
    try:

        async def read(con: asyncpg.Connection, seconds: int) -> None:
            async with con.transaction():
                await record_players(
                    con, [ProfileReading(profile, env.clock.now + timedelta(seconds=seconds))]
                )

        await asyncio.gather(read(cons[0], 0), read(cons[1], 1))
    finally:
        for con in cons:
            await con.close()
    assert await totals(env, A) == (300, 7)
    assert await seasons(env, A) == {season_start(env.clock.now): (300, 7)}
    assert len(await env.history(A)) == 1


async def test_a_command_lookup_of_a_tracked_player_is_a_reading(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(A)
    env.api.set_player(member(A, X, donations=10))
    await env.poll(tracker)
    raw = member(A, X, donations=35)
    async with env.pool.acquire() as con:
        await record_lookup(con, parse_player(raw), env.clock.advance(minutes=1))
    assert (await totals(env, A))[0] == 35
    # The tracker's next poll sees the same counter: nothing doubled.
    env.api.set_player(raw)
    await env.poll(tracker)
    assert (await totals(env, A))[0] == 35
    assert fetched_at({"timestamp": 0}).year == 1970  # the lookup's time comes from the body


async def test_a_stalled_process_cannot_undo_the_lease_of_the_one_that_took_over(
    env: Env,
) -> None:
    await env.track(A)
    async with env.pool.acquire() as con:
        assert await schedule.lease_players(con, 10, 60, "first") == [A]
        # The first process stalls past its lease; the second takes the row.
        await con.execute("UPDATE player_polls SET leased_until = now() - interval '1 s'")
        assert await schedule.lease_players(con, 10, 60, "second") == [A]
        # The first wakes up and releases / reschedules "its" row: nothing happens.
        await schedule.release(con, [A], [], "first")
        await schedule.players_polled(con, [A], 60, 6, "first")
        row = await con.fetchrow(
            "SELECT leased_by, leased_until FROM player_polls WHERE tag = $1", A
        )
    assert row["leased_by"] == "second" and row["leased_until"] is not None


async def test_a_slow_batch_keeps_its_leases(env: Env, db_dsn: str) -> None:
    tags = [A, B, C]
    for tag in tags:
        env.api.set_player(member(tag, X))
    await env.track(*tags)
    pools = [
        await create_pool(db_dsn, min_size=1, max_size=4, command_timeout=60) for _ in range(2)
    ]
    try:
        slow = await env.new_tracker(pool=pools[0], lease_seconds=0.6)
        other = await env.new_tracker(pool=pools[1], lease_seconds=0.6)
        env.api.set_delay(1.5)  # each request outlives the lease; renewals keep it
        batch = asyncio.create_task(slow.run_once())
        await asyncio.sleep(0.9)  # past the first lease: the other process finds nothing
        assert await other.step() == 0
        await batch
    finally:
        for p in pools:
            await p.close()
    assert all(env.api.count(t) == 1 for t in tags)


async def test_two_commands_at_the_limit_cannot_both_pass(env: Env, db_dsn: str) -> None:
    async with env.pool.acquire() as con:
        for i in range(4):
            await guild_tracking.track_player(con, GUILD, f"#{'2' * 3}{'PYLQ'[i]}", 1)
    cons = [await connect(db_dsn) for _ in range(2)]
    try:
        results = await asyncio.gather(
            guild_tracking.track_player(cons[0], GUILD, A, 1, limit=5),
            guild_tracking.track_player(cons[1], GUILD, B, 1, limit=5),
        )
        assert sorted(r.value for r in results) == [Tracked.FULL.value, Tracked.NEW.value]
        for i in range(2):
            await links.save_link(cons[0], f"#{'8' * 3}{'PY'[i]}", 77, False)
        saved = await asyncio.gather(
            links.save_link(cons[0], A, 77, False, limit=3),
            links.save_link(cons[1], B, 77, False, limit=3),
        )
        assert sorted(s.value for s in saved) == [LinkSaved.FULL.value, LinkSaved.SAVED.value]
        # Another user's link is not taken over without proof, even in a race.
        assert await links.save_link(cons[0], C, 1, False) is LinkSaved.SAVED
        assert await links.save_link(cons[1], C, 2, False) is LinkSaved.TAKEN
        assert await links.save_link(cons[1], C, 2, True) is LinkSaved.SAVED
    finally:
        for con in cons:
            await con.close()
    assert await env.value("SELECT count(*) FROM tracked_players WHERE guild_id = $1", GUILD) == 5


# -- 6. the smaller ones ------------------------------------------------------------------------


async def test_timeouts_before_a_404_do_not_make_a_clan_gone(env: Env) -> None:
    tracker = await env.new_tracker(request_deadline=0.3)
    env.api.set_clan(make_clan(X, [member(A, X)]))
    env.api.set_player(member(A, X))
    await env.track_clan(X)
    await env.poll(tracker)
    for status in (500, 500, 404):
        env.api.fail(X, status, times=1)
        await env.poll(tracker)
    assert await env.value("SELECT gone_at FROM clan_polls WHERE clan_tag = $1", X) is None
    for _ in range(2):
        env.api.fail(X, 404, times=1)
        await env.poll(tracker)
    # Three 404s in a row: gone.
    assert await env.value("SELECT gone_at IS NOT NULL FROM clan_polls WHERE clan_tag = $1", X)


async def test_gone_players_are_not_counted_as_past_due(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(A, B)
    env.api.set_player(member(B, X))
    for _ in range(3):
        await env.poll(tracker)  # A answers 404 three times: gone
    async with env.pool.acquire() as con:
        await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 h'")
        backlog = await tracker_status.backlog(con)
    assert backlog["gone"] == 1 and backlog["due"] == 1


async def test_clan_joins_stop_at_the_guilds_player_limit(env: Env) -> None:
    async with env.pool.acquire() as con:
        await guild_tracking.track_clan(con, GUILD, X, None, 1)
        for i in range(3):
            await guild_tracking.track_player(con, GUILD, f"#{'2' * 3}{'PYL'[i]}", 1)
        async with con.transaction():
            untracked = await clan_membership.follow_members(con, X, [A, B, C], limit=5)
    assert untracked == [C]
    assert await env.value("SELECT count(*) FROM tracked_players WHERE guild_id = $1", GUILD) == 5


async def test_a_clan_only_member_who_leaves_is_untracked_with_one_leave_event(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_clan(make_clan(X, [member(A, X, donations=80), member(B, X)]))
    for tag in (A, B):
        env.api.set_player(member(tag, X, donations=80 if tag == A else 0))
    await env.track_clan(X)
    await env.poll(tracker)
    env.api.set_clan(make_clan(X, [member(B, X)]))
    env.api.set_player(member(A, None, lifetime=LIFETIME + 80))
    await poll_clans(env, tracker)
    await env.poll(tracker)
    assert await kinds(env, A) == ["clan_leave"]
    assert not await env.value("SELECT count(*) FROM tracked_players WHERE tag = $1", A)
    assert not await env.value("SELECT count(*) FROM player_polls WHERE tag = $1", A)
    # The history stays: the first reading, and the counters the game zeroed.
    assert await env.history(A, "donations", "donations_total") == [(80, 80), (0, 80)]
    assert (await totals(env, A))[0] == 80
