"""SIGTERM to ``python -m bot`` with commands and a tracker batch in flight.

The fake API answers slowly and many players are tracked, so a tracker batch
takes several seconds: the signal lands in the middle of one. Expected: exit 0
within POOL_CLOSE_TIMEOUT + 2 s, and the database holds whole batches only
(every polled player's profile, history and schedule agree).
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from db import guild_tracking
from db.pool import connect, create_pool
from tests.bot.test_lifecycle import BotProcess, bot_env, wait_ready
from tests.fakes.coc_api import make_player
from tests.hardening.faults import eventually
from tests.harness import GUILD_ID, fakes, opt

pytestmark = pytest.mark.heavy

PLAYERS = 200
CONCURRENCY = 25  # requests in flight: a batch is PLAYERS / CONCURRENCY rounds
DELAY = 1.0  # seconds per API answer: a batch takes about 8 s
POOL_CLOSE_TIMEOUT = 3.0
ALPHABET = "0289PYLQGRJCUV"


def tag_of(n: int) -> str:
    digits = ""
    for _ in range(4):
        n, r = divmod(n, len(ALPHABET))
        digits += ALPHABET[r]
    return "#P" + digits


async def test_sigterm_mid_batch_exits_in_time_and_leaves_whole_batches(
    tmp_path: Path, db_dsn: str
) -> None:
    tags = [tag_of(n) for n in range(PLAYERS)]
    con = await connect(db_dsn)
    try:
        for tag in tags:
            await guild_tracking.track_player(con, GUILD_ID, tag, 1)
    finally:
        await con.close()

    async with fakes() as (discord, coc):
        coc.bulk_set_players(make_player(t, trophies=1000) for t in tags)
        coc.set_delay(DELAY)
        proc = BotProcess(
            bot_env(
                discord.api_base,
                discord.gateway_url,
                coc,
                DATABASE_URL=db_dsn,
                DATA_DIR=str(tmp_path),
                POOL_CLOSE_TIMEOUT=str(POOL_CLOSE_TIMEOUT),
                TRACKER_CONCURRENCY=str(CONCURRENCY),
            ),
            tmp_path / "bot.log",
        )
        await proc.start()
        await wait_ready(discord, proc)
        pool = await create_pool(db_dsn, min_size=1, max_size=2, command_timeout=60)
        try:

            async def baseline_done() -> bool:
                return await pool.fetchval("SELECT count(*) FROM player_history") == PLAYERS

            # The first batch (baselines) is written whole, then every player changes.
            await eventually(baseline_done, timeout=60, what="the first batch")
            first_polled_at = await pool.fetchval("SELECT max(last_polled_at) FROM player_polls")
            coc.bulk_set_players(make_player(t, trophies=1100) for t in tags)
            asked = coc.count()
            # The second batch is in flight: some rounds answered, most not.
            await eventually(
                lambda: coc.count() - asked >= 2 * CONCURRENCY,
                timeout=30,
                what="the second batch to be under way",
            )
            commands = [await discord.interact("player", [opt("tag", tags[n])]) for n in range(5)]
            await eventually(
                lambda: all(c.deferred for c in commands), timeout=10, what="commands in flight"
            )
            code, took = await proc.stop(grace=30)
        finally:
            await pool.close()
        log = proc.log
        assert code == 0, log
        assert took < POOL_CLOSE_TIMEOUT + 2, (took, log)
        assert "Traceback" not in log, log

    con = await connect(db_dsn)
    try:
        report = await whole_batches(con, tags, first_polled_at, set(tags[: len(commands)]))
    finally:
        await con.close()
    print(
        f"\nFIGURES shutdown: SIGTERM to exit {took:.2f} s (budget "
        f"{POOL_CLOSE_TIMEOUT + 2:.0f} s); second batch written for {report['second']} of "
        f"{PLAYERS} players, released {report['released']}; commands in flight "
        f"{len(commands)}; {report['rows']} history rows = {report['changes']} changing polls"
    )


async def whole_batches(
    con: asyncpg.Connection, tags: list[str], first_polled_at: object, commanded: set[str]
) -> dict[str, int]:
    """Assert the stored state is made of whole batches; return counts for the figures."""
    rows = await con.fetch(
        """
        SELECT pp.tag, pp.last_polled_at, pp.leased_until, p.trophies, p.changed_at,
               p.fetched_at,
               (SELECT array_agg(h.trophies ORDER BY h.observed_at) FROM player_history h
                 WHERE h.tag = pp.tag) AS history,
               (SELECT max(h.observed_at) FROM player_history h WHERE h.tag = pp.tag) AS last_at
        FROM player_polls pp LEFT JOIN players p ON p.tag = pp.tag
        WHERE pp.tag = ANY($1::text[])
        """,
        tags,
    )
    assert len(rows) == len(tags)
    second = released = total_rows = by_command = 0
    for r in rows:
        history = list(r["history"] or [])
        # Polled means written: a schedule update never without its history row.
        assert r["last_polled_at"] is not None and history[:1] == [1000], dict(r)
        # The profile, its last change and the last history row agree.
        assert r["trophies"] == history[-1] and r["changed_at"] == r["last_at"], dict(r)
        if r["last_polled_at"] > first_polled_at:
            # Polled again (and written) during the second batch: it saw the change.
            assert history == [1000, 1100], dict(r)
            second += 1
        else:
            # Its request was cut off: nothing of it was written, and it is due at once.
            # A /player command in flight may have finished first and stored the change
            # itself (a command's reading is not a poll: the schedule stays).
            if r["tag"] in commanded and history == [1000, 1100]:
                by_command += 1
            else:
                assert history == [1000], dict(r)
            released += r["leased_until"] is None
        total_rows += len(history)
    # Readings that changed something, counted from the schedule: every baseline, every
    # second poll (each player's trophies changed before it) and the commands' readings.
    changes = len(tags) + second + by_command
    count = await con.fetchval("SELECT count(*) FROM player_history")
    assert count == total_rows == changes
    # Every player cut off mid-request was released: due at once on the next start.
    assert released == len(tags) - second
    assert 0 < second < len(tags), "the signal should land in the middle of the batch"
    return {"second": second, "released": released, "rows": count, "changes": changes}
