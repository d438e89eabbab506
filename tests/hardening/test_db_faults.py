"""The database restarts while the bot serves commands and tracks players.

The bot runs in process (real discord.py, coc.py, asyncpg, cogs) against the
fake Discord and the fake Clash API, on an embedded PostgreSQL of its own that
the test stops and starts again on the same data directory. Expected: commands
caught by the outage get the friendly "database is unavailable" reply, the bot
recovers without a restart, and the tracker loses no history row.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.clash import ClashApi
from bot.errors import DatabaseUnavailable
from bot.settings import load_settings
from bot.tracker.engine import Tracker, TrackerOptions
from bot.tree import UNEXPECTED
from db import guild_tracking
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import make_player
from tests.fakes.discord_server import Interaction, Message
from tests.hardening.faults import eventually, fetch_history, log_problems
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, fakes, opt, running_bot, sub

pytestmark = pytest.mark.heavy

TAGS = ("#2PP0JCCL", "#9P9PRYQ0", "#PQL0289", "#L0GRJCUV")
UNTRACKED = "#YC2RLG8J"
UNAVAILABLE = DatabaseUnavailable().message
# Trophies each tracked player shows, phase by phase; every value stays visible
# until the tracker has stored it (polling cannot see a value shorter than a poll).
VALUES = {tag: [3000 + 100 * i + k for k in range(5)] for i, tag in enumerate(TAGS)}


@pytest.fixture
def own_server() -> Iterator[EmbeddedPostgres]:
    """A server only this test uses (the session's shared one must not restart).

    A short data directory: the socket must stay under it (a long path would
    move the socket to a fresh temporary directory, changing the DSN on restart).
    """
    data_dir = Path(tempfile.mkdtemp(prefix="dbfault-"))
    server = EmbeddedPostgres(data_dir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Stream:
    """Commands sent at a steady pace, each remembered with the phase it was sent in."""

    h: Harness
    sent: list[tuple[str, str, Interaction]] = field(default_factory=list)
    phase: str = "before"
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def commands(self) -> Iterator[tuple[str, tuple, dict]]:
        n = 0
        while True:
            tag = TAGS[n % len(TAGS)]
            yield "player", (opt("tag", tag),), {}
            yield "track add", (sub("add", opt("tag", tag)),), {"permissions": MANAGE_GUILD}
            yield "player", (opt("tag", UNTRACKED),), {}
            yield "track list", (sub("list"),), {}
            n += 1

    async def run(self, every: float = 0.12) -> None:
        for label, options, who in self.commands():
            if self._stop.is_set():
                return
            name = label.split()[0]
            self.sent.append((label, self.phase, await self.h.send(name, *options, **who)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), every)

    def stop(self) -> None:
        self._stop.set()


def succeeded(label: str, reply: Message) -> bool:
    if label == "player":
        return bool(reply.embeds) and not reply.ephemeral
    if label == "track add":
        return "tracking" in (reply.content or "") or "already tracked" in (reply.content or "")
    return bool(reply.embeds) and reply.embeds[0]["title"].startswith("Tracked players")


@contextlib.asynccontextmanager
async def tracker_running(h: Harness) -> AsyncIterator[Tracker]:
    tracker = Tracker(
        settings=h.settings,
        pool=h.pool,
        clash=h.bot.clash,
        options=TrackerOptions(request_deadline=5.0, idle_wait=0.1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(tracker.run(stop))
    try:
        yield tracker
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def test_database_restart_while_serving_and_tracking(
    own_server: EmbeddedPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    dsn = await own_server.start()
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=60)
    try:
        await migrate(pool)
    finally:
        await pool.close()

    async with running_bot(dsn, tmp_path, POOL_MAX_SIZE="10") as h:

        def show(k: int) -> None:
            for tag in TAGS:
                h.coc.set_player(make_player(tag, trophies=VALUES[tag][k]))

        async def stored(k: int) -> bool:
            async with h.pool.acquire() as con:
                rows = await con.fetch(
                    "SELECT tag, trophies FROM players WHERE tag = ANY($1::text[])", list(TAGS)
                )
            return {r["tag"]: r["trophies"] for r in rows} == {t: VALUES[t][k] for t in TAGS}

        h.coc.set_player(make_player(UNTRACKED, trophies=1234))
        show(0)
        for tag in TAGS:
            reply = await h.run("track", sub("add", opt("tag", tag)), permissions=MANAGE_GUILD)
            assert "Now tracking" in (reply.content or ""), reply.raw
        stream = Stream(h)
        async with tracker_running(h):
            feeder = asyncio.create_task(stream.run())
            show(1)
            await eventually(lambda: stored(1), timeout=15, what="value 1 stored")

            # A batch in flight when the server stops: the API answers slowly, so
            # the tracker holds fetched profiles when its write finds no database.
            h.coc.set_delay(0.8)
            before = h.coc.count(TAGS[0])
            show(2)
            await eventually(
                lambda: h.coc.count(TAGS[0]) > before,
                timeout=10,
                what="the tracker's request for value 2",
            )
            stream.phase = "outage"
            await asyncio.to_thread(own_server.stop)

            down_at = time.monotonic()

            def write_retries() -> int:
                return sum("while writing a batch" in r.getMessage() for r in caplog.records)

            def refused() -> int:
                return sum(
                    it.response is not None and it.response.content == UNAVAILABLE
                    for _, _, it in stream.sent
                )

            # Down long enough for the write to be retried twice and commands to be refused.
            await eventually(
                lambda: write_retries() >= 2 and refused() >= 4,
                timeout=20,
                what="the tracker's write and several commands to meet the outage",
            )
            # Value 3 appears while the database is down; it is held until stored.
            show(3)
            restarted = await own_server.start()
            outage = time.monotonic() - down_at
            assert restarted == dsn
            stream.phase = "recovering"
            await eventually(lambda: stored(3), timeout=30, what="value 3 stored after restart")
            stream.phase = "after"
            h.coc.set_delay(0)
            recovered = time.monotonic() - down_at - outage
            show(4)
            await eventually(lambda: stored(4), timeout=15, what="value 4 stored")
            stream.stop()
            await feeder

            # Recovered by itself: a fresh burst of commands all succeeds.
            burst = []
            commands = stream.commands()
            for _ in range(12):
                label, options, who = next(commands)
                burst.append((label, "burst", await h.send(label.split()[0], *options, **who)))

        answers: dict[str, list[str]] = {}
        for label, phase, it in [*stream.sent, *burst]:
            reply = await it.wait_response(timeout=15)
            text = reply.content or ""
            assert text != UNEXPECTED, (label, phase)
            outcome = "ok" if succeeded(label, reply) else text
            if outcome != "ok":
                assert text == UNAVAILABLE and reply.ephemeral, (label, phase, reply.raw)
            answers.setdefault(phase, []).append(outcome)
        assert UNAVAILABLE in answers["outage"], answers
        assert set(answers["after"]) == {"ok"}, answers["after"]
        assert set(answers["burst"]) == {"ok"} and len(answers["burst"]) == 12

        # Not a row lost, none doubled: every value once, in order.
        history = await fetch_history(h.pool, TAGS)
        assert history == VALUES, history
        for rows in history.values():
            assert all(a != b for a, b in itertools.pairwise(rows))

    sent = [o for v in answers.values() for o in v]
    print(
        f"\nFIGURES db_restart: outage {outage:.1f} s; history stored again "
        f"{recovered:.1f} s after restart; {len(sent)} commands, "
        f"{sent.count('ok')} ok, {sent.count(UNAVAILABLE)} refused as unavailable, "
        f"0 unexpected; history rows {sum(map(len, history.values()))} "
        f"(expected {sum(map(len, VALUES.values()))}), lost 0"
    )
    records = caplog.records
    assert not log_problems(records), log_problems(records)
    assert any("database unavailable while writing a batch" in r.getMessage() for r in records)


async def test_a_tracker_stops_promptly_while_the_database_is_down(
    own_server: EmbeddedPostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Its write retried forever while the database was down, so a stop never ended."""
    caplog.set_level(logging.INFO)
    dsn = await own_server.start()
    async with fakes() as (_, coc):
        settings = load_settings(
            {
                "DISCORD_TOKEN": "x",
                "COC_TOKENS": "test-token",
                "COC_API_BASE_URL": coc.base_url,
                "DATABASE_URL": dsn,
                "DATA_DIR": str(tmp_path),
                "TRACK_INTERVAL_SECONDS": "1",
            }
        )
        pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=60)
        clash = ClashApi(settings)
        await clash.start()
        try:
            await migrate(pool)
            async with pool.acquire() as con:
                await guild_tracking.track_player(con, GUILD_ID, TAGS[0], 1)
            coc.set_player(make_player(TAGS[0]))
            coc.set_delay(0.5)  # the request is in flight when the server stops
            tracker = Tracker(settings=settings, pool=pool, clash=clash)
            stop = asyncio.Event()
            task = asyncio.create_task(tracker.run(stop))
            await eventually(lambda: coc.count(TAGS[0]) > 0, timeout=10, what="a request")
            await asyncio.to_thread(own_server.stop)
            await eventually(
                lambda: any("while writing a batch" in r.getMessage() for r in caplog.records),
                timeout=10,
                what="the write to meet the outage",
            )
            stop.set()
            started = time.monotonic()
            await asyncio.wait_for(task, 5)
            took = time.monotonic() - started
        finally:
            await clash.close()
            pool.terminate()
    assert any("not written" in r.getMessage() for r in caplog.records)
    print(f"\nFIGURES tracker_stop_db_down: stopped {took:.2f} s after the stop signal")
