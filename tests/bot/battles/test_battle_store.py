"""The battle log write path on a real database, on generated timelines: battles between
reads, stale answers from another cache, two processes writing the same read, restarts
(every write is its own transaction on a connection of its own)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.battles.align import LOG_CAPACITY
from bot.battles.parse import parse_battle_log
from bot.battles.store import write_log
from db.model import Battle
from tests.fakes.battles import make_battle

ANN = "#8QQ"
START = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# More battles than any timeline plays (25 steps of at most 70).
BATTLES = [make_battle(n) for n in range(25 * 70)]
TAGS = [b["opponentPlayerTag"] for b in BATTLES]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("play"), st.integers(0, 70)),
        st.tuples(st.sampled_from(["read", "twice"]), st.integers(0, 2)),
    ),
    max_size=25,
)


def log_of(count: int) -> list[Battle]:
    first = max(0, count - LOG_CAPACITY)
    return parse_battle_log({"items": list(reversed(BATTLES[first:count]))})


async def fresh(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await con.execute("TRUNCATE battle_logs, battles, battle_gaps")
        await con.execute("INSERT INTO battle_logs (player_tag, season_id) VALUES ($1, 1)", ANN)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@example([("play", 3), ("read", 0), ("play", 4), ("read", 0), ("read", 2), ("twice", 0)])
@example([("play", 5), ("read", 0), ("play", 60), ("read", 0), ("play", 49), ("read", 0)])
@example([("play", 2), ("play", 49), ("read", 0), ("read", 2)])
@given(steps)
async def test_each_battle_is_stored_once_in_its_window_and_a_gap_exactly_on_overflow(
    pool: asyncpg.Pool, timeline: list[tuple[str, int]]
) -> None:
    await fresh(pool)
    played = 0
    snapshots = [0]  # battles made, after each step
    at = START
    # What the stored read has seen: battles, and when it was read (None: never).
    seen, read_at = 0, None
    expected: list[tuple[str, datetime | None, datetime]] = []
    gaps: list[tuple[datetime, datetime]] = []
    for kind, value in timeline:
        at += timedelta(minutes=1)
        if kind == "play":
            played += value
            snapshots.append(played)
            continue
        count = snapshots[max(0, len(snapshots) - 1 - value)]
        if read_at is not None and seen - count >= LOG_CAPACITY:
            count = played  # no cache serves an answer 50 battles old
        log = log_of(count)
        if kind == "twice":
            async with pool.acquire() as one, pool.acquire() as two:
                results = await asyncio.gather(
                    write_log(one, ANN, log, at), write_log(two, ANN, log, at)
                )
            assert sum(not r.skipped for r in results) <= 1
        else:
            async with pool.acquire() as con:
                await write_log(con, ANN, log, at)
        snapshots.append(played)
        if read_at is None:
            expected += [(t, None, at) for t in TAGS[max(0, count - LOG_CAPACITY) : count]]
            seen, read_at = count, at
        elif count >= seen:  # not an answer older than the stored read
            new = TAGS[max(seen, count - LOG_CAPACITY) : count]
            expected += [(t, read_at, at) for t in new]
            if count - seen >= LOG_CAPACITY:
                gaps.append((read_at, at))
            seen, read_at = count, at

    async with pool.acquire() as con:
        rows = await con.fetch(
            "SELECT opponent_tag, window_start, window_end FROM battles ORDER BY id"
        )
        got_gaps = await con.fetch("SELECT window_start, window_end FROM battle_gaps")
    assert [tuple(r) for r in rows] == expected
    assert sorted(tuple(g) for g in got_gaps) == gaps


async def test_a_player_no_longer_tracked_is_not_written(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        result = await write_log(con, "#9YY", log_of(3), START)
        assert result.skipped
        assert await con.fetchval("SELECT count(*) FROM battles") == 0
