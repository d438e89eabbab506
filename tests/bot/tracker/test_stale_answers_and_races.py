"""Regressions found in review: answers cached from before a move or a reset,
lock orders that deadlocked, leases that never expired, races with commands.

Each runs through the real tracker (or the real db functions) on a real
database; the fake API is set to what the real one would answer.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

import bot.tracker.observe as observe_module
from bot.profile import parse_player
from bot.tracker.diff import merge_member, observe
from bot.tracker.engine import Tracker
from bot.tracker.observe import record_clan, record_lookup
from bot.tracker.seasons import season_end, season_start
from db import guild_tracking, schedule
from db.pool import connect
from tests.bot.tracker.conftest import GUILD, Env
from tests.bot.tracker.test_members_come_and_go import (
    LIFETIME,
    A,
    B,
    C,
    X,
    Y,
    kinds,
    member,
    poll_clans,
    seasons,
    totals,
)
from tests.fakes.coc_api import make_clan

N = "#8Q8LQ2"
G1, G2 = 1000, 2000


async def poll_only(
    env: Env, tracker: Tracker, *, clan: str | None = None, player: str | None = None,
    seconds: float = 60,
) -> None:  # fmt: skip
    """Advance the clock and poll just this clan's list or this player's profile."""
    env.clock.advance(seconds=seconds)
    async with env.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() + interval '1 h'")
        await con.execute("UPDATE player_polls SET next_poll_at = now() + interval '1 h'")
        await con.execute(
            "UPDATE clan_polls SET next_poll_at = now() - interval '1 s' WHERE clan_tag = $1",
            clan,
        )
        await con.execute(
            "UPDATE player_polls SET next_poll_at = now() - interval '1 s' WHERE tag = $1", player
        )
    await tracker.run_once()


# -- answers cached from before a move or a reset ---------------------------------------------


async def test_the_old_clans_cached_list_after_a_move_counts_nothing(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_player(member(A, X, donations=500, received=40))
    env.api.set_clan(make_clan(X, [member(A, X, donations=500, received=40)]))
    env.api.set_clan(make_clan(Y, [member(B, Y)]))
    env.api.set_player(member(B, Y))
    await env.track_clan(X)
    await env.track_clan(Y)
    await env.poll(tracker)
    # A moves X -> Y and donates 20; Y's list shows it first.
    moved = member(A, Y, donations=20, received=1, lifetime=LIFETIME + 500)
    env.api.set_player(moved)
    env.api.set_clan(make_clan(Y, [member(B, Y), moved]))
    await poll_only(env, tracker, clan=Y)
    # Within the list's cache age of the last full profile, Y's list may be an answer
    # taken before it: the move is held until a reading certainly newer shows it.
    assert await totals(env, A) == (500, 40)
    # X's list, 30 s later, is the answer cached from before the move: still A, 500/40.
    await poll_only(env, tracker, clan=X, seconds=30)
    assert await totals(env, A) == (500, 40)
    # The cache expires: X no longer shows A, then Y's list shows the move, placed.
    env.api.set_clan(make_clan(X, []))
    await poll_only(env, tracker, clan=X, seconds=120)
    await poll_only(env, tracker, clan=Y)
    assert await totals(env, A) == (520, 41)
    assert sorted(await kinds(env, A)) == ["clan_join", "clan_leave", "donations", "received"]
    await poll_only(env, tracker, clan=X, seconds=120)
    await poll_only(env, tracker, player=A)
    assert await totals(env, A) == (520, 41)
    assert await env.value("SELECT via_clan FROM tracked_players WHERE tag = $1", A) == Y


async def test_a_cached_profile_from_before_a_move_keeps_nothing_of_the_old_clan(env: Env) -> None:
    tracker = await env.new_tracker()
    await env.track(A)
    env.api.set_player(member(A, X, donations=300, received=40))  # X is not tracked
    env.api.set_clan(make_clan(Y, [member(B, Y)]))
    env.api.set_player(member(B, Y))
    await env.track_clan(Y)
    await env.poll(tracker)
    moved = member(A, Y, donations=5, received=1, lifetime=LIFETIME + 300)
    env.api.set_clan(make_clan(Y, [member(B, Y), moved]))
    await poll_only(env, tracker, clan=Y)
    # A's profile 30 s later is cached from before the move (still X, 300/40); the move
    # Y's list showed is held (it may be older than the last profile).
    await poll_only(env, tracker, player=A, seconds=30)
    assert await totals(env, A) == (300, 40)
    # The profile's cache turns: it shows the move.
    env.api.set_player(moved)
    await poll_only(env, tracker, player=A, seconds=60)
    assert await env.value("SELECT clan_tag FROM players WHERE tag = $1", A) == Y
    await poll_only(env, tracker, clan=Y, seconds=90)
    assert await totals(env, A) == (305, 41)
    assert sorted(await kinds(env, A)) == ["clan_join", "clan_leave", "donations", "received"]


@pytest.mark.parametrize("first", ["list", "profile"])
async def test_the_other_endpoint_cached_from_before_a_season_reset(env: Env, first: str) -> None:
    """One endpoint shows the season's reset, the other still answers from before it."""
    tracker = await env.new_tracker()
    end = season_end(env.clock.now)
    old = season_start(env.clock.now)
    env.clock.now = end - timedelta(minutes=15)
    pre = member(A, X, donations=3000, received=2000)
    env.api.set_player(pre)
    env.api.set_clan(make_clan(X, [pre]))
    await env.track(A)
    await env.track_clan(X)
    await env.poll(tracker, advance_minutes=0)
    await env.poll(tracker, advance_minutes=5)
    env.clock.now = end
    reset = member(A, X, donations=0, received=0, lifetime=LIFETIME + 3000)
    if first == "list":
        env.api.set_clan(make_clan(X, [reset]))
        await poll_only(env, tracker, clan=X, seconds=40)
        await poll_only(env, tracker, player=A, seconds=1)  # still 3000/2000 (cached)
    else:
        env.api.set_player(reset)
        await poll_only(env, tracker, player=A, seconds=30)
        await poll_only(env, tracker, clan=X, seconds=30)  # still 3000/2000 (cached)
    now = member(A, X, donations=20, received=5, lifetime=LIFETIME + 3000)
    env.api.set_player(now)
    env.api.set_clan(make_clan(X, [now]))
    await env.poll(tracker, advance_minutes=15)
    assert await seasons(env, A) == {old: (3000, 2000), end: (20, 5)}
    assert await totals(env, A) == (3020, 2005)


def test_an_answer_held_as_stale_changes_no_stat() -> None:
    """A cached clan list from before a profile: no trophies back and forth."""
    t0 = datetime(2026, 3, 10, 12, tzinfo=UTC)
    first = observe(None, parse_player(member(A, X, donations=100, trophies=3000)), t0).stored
    fresh = observe(
        first,
        parse_player(member(A, X, donations=150, trophies=3031)),
        t0 + timedelta(minutes=15),
    )
    stale_member = {"tag": A, "donations": 100, "donationsReceived": 0, "trophies": 3000}
    merged = merge_member(fresh.stored.profile, stale_member, X, "Clan")
    stale = observe(
        fresh.stored, merged, t0 + timedelta(minutes=15, seconds=20), source="list", list_of=X
    )
    assert stale.events == [] and not stale.history
    assert stale.stored.profile == fresh.stored.profile


# -- gaps, limits and turnover ------------------------------------------------------------------


async def test_donations_while_untracked_are_not_credited_at_the_return(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_clan(make_clan(X, [member(A, X, donations=80), member(B, X)]))
    env.api.set_player(member(A, X, donations=80))
    env.api.set_player(member(B, X))
    await env.track_clan(X)
    await env.poll(tracker)
    env.api.set_clan(make_clan(X, [member(B, X)]))
    env.api.set_player(member(A, None, lifetime=LIFETIME + 80))
    await poll_clans(env, tracker)
    assert not await env.value("SELECT count(*) FROM player_polls WHERE tag = $1", A)
    # 100 days elsewhere, 9,000 donated; back in X with 40 on the counter.
    env.clock.advance(days=100)
    back = member(A, X, donations=40, lifetime=LIFETIME + 80 + 9000)
    env.api.set_clan(make_clan(X, [member(B, X), back]))
    env.api.set_player(back)
    await poll_clans(env, tracker)
    await env.poll(tracker)
    # What the bot saw given while tracked: 80 before, 40 since the return.
    assert await totals(env, A) == (120, 0)


async def test_a_joiner_at_a_full_guild_with_a_leaver_is_tracked_and_posted(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(observe_module, "MAX_TRACKED_PLAYERS", 3)
    tracker = await env.new_tracker()
    for tag in (A, B, C, N):
        env.api.set_player(member(tag, X))
    env.api.set_clan(make_clan(X, [member(A, X), member(B, X), member(C, X)]))
    await env.track_clan(X)
    await env.poll(tracker)
    env.api.set_player(member(A, None))
    env.api.set_clan(make_clan(X, [member(B, X), member(C, X), member(N, X)]))
    await poll_clans(env, tracker)
    assert await env.value("SELECT count(*) FROM tracked_players WHERE tag = $1", N) == 1
    assert "clan_join" in await kinds(env, N)


# -- locks and leases ---------------------------------------------------------------------------


async def test_track_clan_and_a_poll_of_a_shared_clan_do_not_deadlock(
    env: Env, db_dsn: str
) -> None:
    async with env.pool.acquire() as con:
        await guild_tracking.track_clan(con, G1, X, None, 1)
        await guild_tracking.track_clan(con, G1, Y, None, 1)
        await guild_tracking.track_clan(con, G2, Y, None, 1)
    command, poll = await connect(db_dsn), await connect(db_dsn)
    try:
        tx = command.transaction()
        await tx.start()
        await guild_tracking.track_clan(command, G2, X, None, 1, limit=10)
        polled = poll.transaction()
        await polled.start()
        write = asyncio.create_task(
            record_clan(poll, Y, make_clan(Y, [member(B, Y)]), env.clock.now)
        )
        await asyncio.sleep(0.3)  # the poll waits for the command's guild lock
        read = asyncio.create_task(
            record_clan(command, X, make_clan(X, [member(A, X)]), env.clock.now)
        )
        done = await asyncio.wait_for(asyncio.gather(read, return_exceptions=True), 10)
        await tx.commit()
        done += await asyncio.wait_for(asyncio.gather(write, return_exceptions=True), 10)
        await polled.commit()
        assert not any(isinstance(r, BaseException) for r in done), done
    finally:
        await command.close()
        await poll.close()


async def test_a_lease_left_by_a_failed_step_expires(env: Env) -> None:
    for tag in (A, B, C):
        env.api.set_player(member(tag, X))
    await env.track(A, B, C)
    tracker = await env.new_tracker(lease_seconds=0.6, batch_size=1)
    async with env.pool.acquire() as con:
        # C leased by this process in a step that then raised: never polled, not released.
        await con.execute(
            "UPDATE player_polls SET leased_until = now() + interval '0.6 s', leased_by = $1 "
            "WHERE tag = $2",
            tracker.owner,
            C,
        )
    env.api.set_delay(1.0)
    for _ in range(2):  # later steps, each longer than a third of the lease
        await tracker.step()
    alive = await env.value(
        "SELECT leased_until > now() FROM player_polls WHERE tag = $1 AND leased_by = $2",
        C,
        tracker.owner,
    )
    assert not alive  # expired: another process (or this one) polls C


async def test_lease_renewal_does_not_deadlock_with_the_batch_write(env: Env, db_dsn: str) -> None:
    await env.track(B)
    await env.track(A)
    async with env.pool.acquire() as con:
        assert sorted(await schedule.lease_players(con, 10, 60, "me")) == sorted([A, B])
    write, renew = await connect(db_dsn), await connect(db_dsn)
    try:
        tx = write.transaction()
        await tx.start()
        await schedule.players_polled(write, [A], 60, 6, "me")
        renewal = asyncio.create_task(schedule.renew(renew, "me", [A, B], [], 60))
        await asyncio.sleep(0.3)
        retry = asyncio.create_task(schedule.players_retry(write, [B], 30, "timeout", "me"))
        results = await asyncio.wait_for(asyncio.gather(renewal, retry, return_exceptions=True), 10)
        await tx.commit()
        assert not any(isinstance(r, asyncpg.DeadlockDetectedError) for r in results), results
    finally:
        await write.close()
        await renew.close()


async def test_removing_a_clan_while_its_reading_is_written_releases_every_member(
    env: Env, db_dsn: str
) -> None:
    t = env.clock.now
    async with env.pool.acquire() as con:
        await guild_tracking.track_clan(con, GUILD, X, None, 1)
        async with con.transaction():
            await record_clan(con, X, make_clan(X, [member(A, X)]), t)
    poll, command = await connect(db_dsn), await connect(db_dsn)
    try:
        tx = poll.transaction()
        await tx.start()
        await record_clan(poll, X, make_clan(X, [member(A, X), member(B, X)]), t + timedelta(1))
        remove = asyncio.create_task(guild_tracking.untrack_clan(command, GUILD, X))
        await asyncio.sleep(0.3)  # the removal waits for the guild's lock
        await tx.commit()
        assert await asyncio.wait_for(remove, 10)
    finally:
        await poll.close()
        await command.close()
    assert not await env.value("SELECT count(*) FROM tracked_players WHERE guild_id = $1", GUILD)


@pytest.mark.parametrize("clan_after", [X, None])
async def test_a_lookup_racing_track_add_is_a_reading_of_the_new_baseline(
    env: Env, db_dsn: str, clan_after: str | None
) -> None:
    tracker = await env.new_tracker()
    t = env.clock.now
    add, look = await connect(db_dsn), await connect(db_dsn)
    try:
        tx = add.transaction()
        await tx.start()
        await guild_tracking.track_player(add, GUILD, A, 1, limit=500)
        await record_lookup(add, parse_player(member(A, X, received=10)), t)
        later = parse_player(member(A, clan_after, received=35 if clan_after else 0))
        lookup = asyncio.create_task(record_lookup(look, later, t + timedelta(seconds=20)))
        await asyncio.sleep(0.3)  # the lookup waits for the player's lock
        await tx.commit()
        await asyncio.wait_for(lookup, 10)
    finally:
        await add.close()
        await look.close()
    env.api.set_player(member(A, clan_after, received=35 if clan_after else 0))
    await env.poll(tracker)
    if clan_after:
        assert (await totals(env, A))[1] == 35
    else:
        assert "clan_leave" in await kinds(env, A)
