"""The raid write path on a real database: readings in any order, each weekend once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.raids.store import write_answer
from db import feeds, guild_tracking
from db.model import RaidMember, RaidWeekend

CLAN = "#2PP"
GUILD = 77
START = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
END = START + timedelta(days=3)
TAGS = ("#8QQ", "#8RR", "#8UU", "#8YY")


def weekend(
    state: str = "ongoing", start: datetime = START, members: tuple[RaidMember, ...] = ()
) -> RaidWeekend:
    return RaidWeekend(
        CLAN, state, start, start + timedelta(days=3), sum(m.looted for m in members), 0,
        sum(m.attacks for m in members), 0, 100 if state == "ended" else 0,
        50 if state == "ended" else 0, members,
    )  # fmt: skip


async def setup(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await guild_tracking.track_clan(con, GUILD, CLAN, "Our Clan", 1)
        await feeds.set_feed(con, GUILD, 9, None, 1)


async def write(pool: asyncpg.Pool, w: RaidWeekend, at: datetime) -> int:
    async with pool.acquire() as con:
        return await write_answer(con, CLAN, [w], at)


async def stored(pool: asyncpg.Pool) -> dict[str, int]:
    async with pool.acquire() as con:
        rows = await con.fetch("SELECT tag, attacks FROM raid_members WHERE clan_tag = $1", CLAN)
    return {r["tag"]: r["attacks"] for r in rows}


async def posts(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as con:
        return await con.fetchval(
            "SELECT count(*) FROM feed_outbox o JOIN player_events e ON e.id = o.event_id "
            "WHERE e.kind = 'raid_end'"
        )


async def test_a_weekend_from_start_to_end_is_stored_and_posted_once(pool: asyncpg.Pool) -> None:
    await setup(pool)
    at = START + timedelta(hours=1)
    assert await write(pool, weekend(), at) == 0
    w1 = weekend(members=(RaidMember("#8QQ", "Ann", 3, 5, 0, 9_000),))
    assert await write(pool, w1, at + timedelta(hours=5)) == 0
    w2 = replace(w1, members=(RaidMember("#8QQ", "Ann", 6, 5, 1, 19_000),))
    await write(pool, w2, at + timedelta(hours=9))
    ended = replace(w2, state="ended", offensive_reward=400, defensive_reward=120)
    assert await write(pool, ended, END + timedelta(minutes=2)) == 1
    # Read again after its end, by this process or another: nothing more is posted.
    assert await write(pool, ended, END + timedelta(minutes=20)) == 0
    assert await stored(pool) == {"#8QQ": 6}
    assert await posts(pool) == 1
    async with pool.acquire() as con:
        row = await con.fetchrow("SELECT * FROM raid_weekends")
        active = await con.fetchval("SELECT count(*) FROM players")
    assert row["state"] == "ended" and row["offensive_reward"] == 400
    assert row["seen_ongoing"] and row["ended_seen_at"] == END + timedelta(minutes=2)
    assert active == 0  # raiders unknown to the tracker get no players row


async def test_a_weekend_first_seen_ended_is_stored_not_posted(pool: asyncpg.Pool) -> None:
    await setup(pool)
    ended = replace(weekend(), state="ended", members=(RaidMember("#8QQ", "Ann", 6, 5, 1, 1),))
    assert await write(pool, ended, END + timedelta(days=1)) == 0
    assert await stored(pool) == {"#8QQ": 6}
    assert await posts(pool) == 0


async def test_an_older_answer_takes_nothing_back_and_reopens_nothing(pool: asyncpg.Pool) -> None:
    await setup(pool)
    late = replace(weekend(), members=(RaidMember("#8QQ", "Ann", 4, 5, 0, 12_000),))
    await write(pool, late, START + timedelta(hours=10))
    early = replace(weekend(), members=(RaidMember("#8QQ", "Ann", 1, 5, 0, 3_000),))
    await write(pool, early, START + timedelta(hours=2))  # an answer older than stored
    assert await stored(pool) == {"#8QQ": 4}
    ended = replace(late, state="ended")
    assert await write(pool, ended, END + timedelta(minutes=1)) == 1
    # Another cache still serves the weekend running: it stays ended.
    await write(pool, late, END + timedelta(minutes=2))
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT state FROM raid_weekends") == "ended"
    assert await posts(pool) == 1


async def test_an_untracked_clan_writes_nothing(pool: asyncpg.Pool) -> None:
    await setup(pool)
    async with pool.acquire() as con:
        await guild_tracking.untrack_clan(con, GUILD, CLAN)
    assert await write(pool, weekend(), START + timedelta(hours=1)) == 0
    async with pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM raid_weekends") == 0


# -- generated timelines -------------------------------------------------------------------

# A reading: hours into the weekend (past 72: after its end), how many answers behind
# the truth it is (another cache), and attacks made before it.
readings = st.lists(
    st.tuples(
        st.integers(0, 80),
        st.integers(0, 2),
        st.dictionaries(st.sampled_from(TAGS), st.integers(1, 2), max_size=3),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(readings)
async def test_on_any_timeline_attacks_are_stored_once_and_the_end_posted_once(
    pool: asyncpg.Pool, timeline: list[tuple[int, int, dict[str, int]]]
) -> None:
    """Whatever order and staleness the answers come in: each member's stored attacks are
    the most any answer showed (never more than were made, never summed), and the
    weekend's end is posted once if a reading saw it running and one saw it ended."""
    async with pool.acquire() as con:
        await con.execute("TRUNCATE raid_weekends, feed_outbox, player_events CASCADE")
    await setup(pool)
    truth: dict[str, int] = {}
    history: list[tuple[str, dict[str, int]]] = []  # (state, attacks) as the game had them
    at = START
    seen_running = seen_ended = False
    for hours, behind, made in sorted(timeline, key=lambda r: r[0]):
        at = max(at + timedelta(seconds=1), START + timedelta(hours=hours))
        state = "ended" if hours >= 72 else "ongoing"
        if state == "ongoing":
            for tag, n in made.items():
                truth[tag] = min(truth.get(tag, 0) + n, 6)
        history.append((state, dict(truth)))
        shown_state, shown = history[max(0, len(history) - 1 - behind)]
        w = weekend(
            shown_state,
            members=tuple(
                RaidMember(t, t, n, 5, 1 if n > 5 else 0, 100 * n) for t, n in sorted(shown.items())
            ),
        )
        seen_ended_now = shown_state == "ended" and not seen_ended and seen_running
        queued = await write(pool, w, at)
        assert queued == (1 if seen_ended_now and shown_state == "ended" else 0)
        seen_running = seen_running or (shown_state == "ongoing" and not seen_ended)
        seen_ended = seen_ended or shown_state == "ended"
        got = await stored(pool)
        for tag, n in got.items():
            assert n <= truth[tag]
        assert all(got.get(t, 0) >= n for t, n in shown.items())
    assert await posts(pool) == (1 if seen_running and seen_ended else 0)


async def test_an_end_first_read_days_late_is_not_posted_and_a_forgotten_weekend_closes(
    pool: asyncpg.Pool,
) -> None:
    """The clan was untracked over a weekend's end and tracked again a week later: its end
    is no longer news. One the answer no longer lists is closed as last seen."""
    await setup(pool)
    await write(pool, weekend(), START + timedelta(hours=1))
    ended = replace(weekend(), state="ended")
    assert await write(pool, ended, END + timedelta(days=6)) == 0
    assert await posts(pool) == 0
    later = START + timedelta(days=7)
    await write(pool, weekend(start=later), later + timedelta(hours=1))
    forgotten = START + timedelta(days=14)
    await write(pool, weekend(start=forgotten), forgotten + timedelta(hours=1))
    # The weekend of `later` dropped out of answers (the API lists the newest ones).
    async with pool.acquire() as con:
        await con.execute("UPDATE raid_weekends SET state = 'ongoing' WHERE start_time = $1", later)
    await write(pool, weekend(start=forgotten), forgotten + timedelta(days=2))
    async with pool.acquire() as con:
        states = await con.fetch("SELECT start_time, state FROM raid_weekends ORDER BY 1")
    assert [s["state"] for s in states] == ["ended", "ended", "ongoing"]
    assert await posts(pool) == 0
