"""``python -m bot`` as a black box: start, answer, stop on SIGTERM, survive kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.fakes.coc_api import FakeCocApi, make_player
from tests.harness import GUILD_ID, fakes, opt

ROOT = Path(__file__).resolve().parents[2]


class BotProcess:
    def __init__(self, env: dict[str, str], log_path: Path, command: str = "run") -> None:
        self.env = env
        self.log_path = log_path
        self.command = command
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: ASYNC230 - a log file handed to the child
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            self.command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=log,
        )
        log.close()

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def stop(self, sig: int = signal.SIGTERM, grace: float = 10.0) -> tuple[int, float]:
        assert self.proc is not None
        start = time.monotonic()
        self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), grace)
        return code, time.monotonic() - start


def bot_env(discord_base: str, gateway: str, coc: FakeCocApi, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "COC_"))}
    base.pop("DATABASE_URL", None)
    return {
        **base,
        "PYTHONPATH": str(ROOT),
        "DISCORD_TOKEN": "fake-token",
        "DISCORD_GUILD_ID": str(GUILD_ID),
        "DISCORD_API_BASE_URL": discord_base,
        "DISCORD_GATEWAY_URL": gateway,
        "COC_TOKENS": "test-token",
        "COC_API_BASE_URL": coc.base_url,
        "TRACK_INTERVAL_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        **extra,
    }


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple]:
    async with fakes() as (discord, coc):
        yield discord, coc, tmp_path


async def _ready(discord, proc: BotProcess) -> None:  # type: ignore[no-untyped-def]
    try:
        await asyncio.wait_for(discord.ready.wait(), 30)
        await discord.wait_synced(GUILD_ID, timeout=30)
    except TimeoutError:
        pytest.fail("the bot did not reach READY:\n" + proc.log)


async def test_sigterm_stops_in_order_and_exits_0(running: tuple, db_dsn: str) -> None:
    discord, coc, tmp = running
    coc.set_player(make_player("#9P9PRYQ0", name="Sub Process"))
    proc = BotProcess(
        bot_env(
            discord.api_base,
            discord.gateway_url,
            coc,
            DATABASE_URL=db_dsn,
            DATA_DIR=str(tmp),
            POOL_CLOSE_TIMEOUT="3",
        ),
        tmp / "bot.log",
    )
    await proc.start()
    await _ready(discord, proc)
    reply = await (await discord.interact("player", [opt("tag", " #9p9pryqo ")])).wait_response()
    assert reply.embeds[0]["title"].startswith("Sub Process")
    code, took = await proc.stop()
    assert code == 0, proc.log
    assert took < 3 + 2, took
    log = proc.log
    assert "database pool closed" in log
    assert log.index("closing the Discord connection") < log.index("database pool closed")
    assert "Traceback" not in log


async def test_a_busy_connection_is_terminated_at_shutdown(running: tuple, db_dsn: str) -> None:
    discord, coc, tmp = running
    coc.set_player(make_player("#9P9PRYQ0"))
    proc = BotProcess(
        bot_env(
            discord.api_base,
            discord.gateway_url,
            coc,
            DATABASE_URL=db_dsn,
            DATA_DIR=str(tmp),
            POOL_CLOSE_TIMEOUT="1",
            TRACKER_ENABLED="false",
        ),
        tmp / "bot.log",
    )
    await proc.start()
    await _ready(discord, proc)
    blocker = await asyncpg.connect(db_dsn)
    try:
        # Hold a lock so the bot's /player upsert waits on it: a busy connection.
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute("LOCK TABLE players IN ACCESS EXCLUSIVE MODE")
        await discord.interact("player", [opt("tag", "#9P9PRYQ0")])
        await discord.wait_for(
            lambda: any(m == "POST" and "/callback" in p for m, p in discord.requests),
            what="the /player defer",
        )
        await asyncio.sleep(0.3)  # the upsert is now waiting on the lock
        code, took = await proc.stop()
        await tx.rollback()
    finally:
        await blocker.close()
    assert code == 0, proc.log
    assert took < 1 + 2, took
    assert "did not close within 1.0 s" in proc.log and "terminated" in proc.log


def _postmasters(pgdata: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"postgres") and str(pgdata).encode() in cmdline:
            found.append(int(entry.name))
    return found


async def test_embedded_database_survives_kill_9(running: tuple) -> None:
    discord, coc, tmp = running
    data_dir = tmp / "data"
    coc.set_player(make_player("#9P9PRYQ0", trophies=4321))
    env = bot_env(discord.api_base, discord.gateway_url, coc, DATA_DIR=str(data_dir))
    first = BotProcess(env, tmp / "first.log")
    await first.start()
    await _ready(discord, first)
    await (await discord.interact("player", [opt("tag", "#9P9PRYQ0")])).wait_response()
    assert len(_postmasters(data_dir / "postgres")) == 1
    assert first.proc is not None
    first.proc.kill()
    await first.proc.wait()
    # The server dies with its parent (no orphan), shutting down cleanly.
    deadline = time.monotonic() + 15
    # Another process's exit gives no event to wait on: poll /proc.
    while _postmasters(data_dir / "postgres") and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    assert _postmasters(data_dir / "postgres") == []

    discord.ready.clear()
    second = BotProcess(env, tmp / "second.log")
    await second.start()
    await _ready(discord, second)
    assert len(_postmasters(data_dir / "postgres")) == 1
    con = await asyncpg.connect(f"postgresql://postgres@/postgres?host={data_dir / 'run'}")
    try:
        assert await con.fetchval("SELECT trophies FROM players WHERE tag = '#9P9PRYQ0'") == 4321
    finally:
        await con.close()
    code, _ = await second.stop()
    assert code == 0, second.log
    assert _postmasters(data_dir / "postgres") == []
