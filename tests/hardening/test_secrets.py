"""Secrets appear in no log line, no reply, no ``repr``.

Every secret setting gets a recognisable fake value carrying the marker
``S3KRIT`` (so a partial leak, a truncated token, is caught too):
DISCORD_TOKEN, two COC_TOKENS, COC_PASSWORD (with COC_EMAIL), and the password
in DATABASE_URL (the embedded test server trusts local connections, so any
password works). Then:

* in process, with the bot's own logging set-up (``configure_logging`` at
  DEBUG), a session that runs commands, refusals, an API key refused, an
  unexpected error with its traceback and a gateway reconnect: no captured line
  holds a marker, neither as the operator sees it (redacted) nor raw, before the
  redacting formatter (so the redaction is a second line of defence, not the
  only one); no message the bot sent holds one; nor does the ``repr``/``str`` of
  the settings, the bot and its clients;
* the email log-in against a fake developer site, with a right and a wrong
  password;
* ``python -m bot check`` as a subprocess at LOG_LEVEL=DEBUG, with wrong
  credentials, with right ones and with malformed settings, and ``python -m
  bot`` with a token Discord refuses: no marker in its output.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import coc
import pytest
from aiohttp import web

import db.tracker_status
import tests.harness as harness_module
from bot.check import check_clash
from bot.clash import ClashApi
from bot.errors import ApiAccessDenied
from bot.failures import StartupError
from bot.logs import configure_logging
from bot.settings import SettingsError, load_settings
from tests.fakes.coc_api import FakeCocApi, make_player
from tests.fakes.discord_server import FakeDiscord
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, opt, running_bot, sub

ROOT = Path(__file__).resolve().parents[2]
MARKER = "S3KRIT"
DISCORD_TOKEN = f"MTEwMA.{MARKER}-discord.Zx9-1f2e3d4c"
COC_TOKEN_A = f"eyJ0eXAiOiJKV1Qi.{MARKER}-coc-a.4a5b6c"
COC_TOKEN_B = f"eyJ0eXAiOiJKV1Qi.{MARKER}-coc-b.7d8e9f"
COC_EMAIL = "ops@example.invalid"
COC_PASSWORD = f"hunter2-{MARKER}-password"
DB_PASSWORD = f"pw{MARKER}db0a1b"
COC_KEY = f"dev-site-key-{MARKER}-5555"  # created by the developer site, not a setting
SECRETS = (DISCORD_TOKEN, COC_TOKEN_A, COC_TOKEN_B, COC_PASSWORD, DB_PASSWORD, COC_KEY)
PLAYER = "#2PP0JCCL"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"  # bot.logs' format


def leaks(text: str) -> list[str]:
    """Each line of ``text`` holding a secret or a piece of one."""
    return [line for line in text.splitlines() if MARKER in line]


def with_password(dsn: str, password: str) -> str:
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    host = parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


# ---- logging ------------------------------------------------------------------------------


@dataclass
class Captured:
    raw: io.StringIO  # formatted without redaction: what the libraries and our code emit
    redacted: io.StringIO  # formatted by the bot's RedactingFormatter: what operators see


@contextlib.contextmanager
def bot_logging(secrets: tuple[str, ...]) -> Iterator[Captured]:
    """The bot's logging set-up at DEBUG, captured twice; pytest's handlers come back after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    noisy = {n: logging.getLogger(n).level for n in ("discord.gateway", "discord.http", "coc.http")}
    configure_logging("DEBUG", secrets)
    redacting = root.handlers[0].formatter
    captured = Captured(io.StringIO(), io.StringIO())
    raw = logging.StreamHandler(captured.raw)
    raw.setFormatter(logging.Formatter(FORMAT))
    redacted = logging.StreamHandler(captured.redacted)
    redacted.setFormatter(redacting)
    root.handlers[:] = [raw, redacted]
    try:
        yield captured
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)


# ---- the in-process session ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def secret_fakes() -> AsyncIterator[tuple[FakeDiscord, FakeCocApi]]:
    discord = FakeDiscord(token=DISCORD_TOKEN, guild_ids=(GUILD_ID,))
    coc_api = FakeCocApi(tokens=(COC_TOKEN_A, COC_TOKEN_B))
    await discord.start()
    await coc_api.start()
    try:
        yield discord, coc_api
    finally:
        await coc_api.stop()
        await discord.stop()


def secret_env() -> dict[str, str]:
    return {
        "COC_TOKENS": f"{COC_TOKEN_A}, {COC_TOKEN_B}",
        "COC_EMAIL": COC_EMAIL,
        "COC_PASSWORD": COC_PASSWORD,
        "LOG_LEVEL": "DEBUG",
    }


def reprs(h: Harness) -> dict[str, str]:
    objects: dict[str, Any] = {
        "settings": h.settings,
        "settings.discord_token": h.settings.discord_token,
        "settings.coc_tokens": h.settings.coc_tokens,
        "settings.coc_password": h.settings.coc_password,
        "settings.database_url": h.settings.database_url,
        "bot": h.bot,
        "bot.http": h.bot.http,
        "clash": h.bot.clash,
        "clash.client": h.bot.clash.client,
        "clash.client.http": h.bot.clash.client.http,
        "pool": h.pool,
    }
    out = {}
    for name, value in objects.items():
        out[f"repr({name})"] = repr(value)
        out[f"str({name})"] = str(value)
        out[f"format({name})"] = f"{value}"
    return out


async def test_no_secret_in_logs_replies_or_reprs(
    db_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dsn = with_password(db_dsn, DB_PASSWORD)
    settings = load_settings({"DISCORD_TOKEN": DISCORD_TOKEN, "DATABASE_URL": dsn, **secret_env()})
    assert set(SECRETS) - {COC_KEY} <= set(settings.secret_values())
    monkeypatch.setattr(harness_module, "fakes", secret_fakes)
    with bot_logging(settings.secret_values()) as logs:
        async with running_bot(dsn, tmp_path, **secret_env()) as h:
            assert h.settings.database_url and DB_PASSWORD in h.settings.database_url.get()
            h.coc.set_player(make_player(PLAYER, name="Chief"))
            h.coc.set_token_valid(PLAYER, "in-game-token")
            replies = [
                await h.run("player", opt("tag", PLAYER)),
                await h.run("player", opt("tag", "#QQQQQQQQ")),  # 404: refused
                await h.run("link", opt("tag", PLAYER), opt("token", "wrong")),
                await h.run("link", opt("tag", PLAYER), opt("token", "in-game-token")),
                await h.run("track", sub("add", opt("tag", PLAYER)), permissions=MANAGE_GUILD),
                await h.run("track", sub("add", opt("tag", PLAYER)), permissions=0),
                await h.run("status"),
            ]
            # A secret typed as input is logged nowhere (its ephemeral refusal echoes the
            # start of what the user typed, to that user only, so it is not checked).
            echo = await h.run("player", opt("tag", DISCORD_TOKEN))
            assert echo.ephemeral and "not a valid" in (echo.content or "")
            # The API refuses the key: the reply names `python -m bot check`, not the key.
            h.coc.fail("#9P9PRYQ0", 403, "accessDenied")
            replies.append(await h.run("player", opt("tag", "#9P9PRYQ0")))
            assert "python -m bot check" in (replies[-1].content or "")
            # An unexpected error: logged with its traceback.
            monkeypatch.setattr(db.tracker_status, "status", _boom)
            replies.append(await h.run("status"))
            assert "Something went wrong" in (replies[-1].content or "")
            # A gateway reconnect: discord.py sends the token again (RESUME).
            await h.discord.request_reconnect()
            await h.discord.wait_for(lambda: h.discord.resume_count == 1, 10, "RESUME")
            monkeypatch.undo()
            replies.append(await h.run("player", opt("tag", PLAYER)))
            object_texts = reprs(h)
            sent = [
                json.dumps(m.raw, ensure_ascii=False)
                for m in h.discord.messages.values()
                if m.id != echo.id
            ]

        raw, redacted = logs.raw.getvalue(), logs.redacted.getvalue()
        # The capture is live and the redaction works: a line that does hold a secret.
        logging.getLogger("tests.secrets").warning("probe %s", DISCORD_TOKEN)
        assert MARKER in logs.raw.getvalue()[len(raw) :]
        assert "probe [redacted]" in logs.redacted.getvalue()[len(redacted) :]
    assert "Traceback" in raw and "RuntimeError: boom" in raw  # the session did log errors
    assert "DEBUG" in raw  # and DEBUG lines
    assert not leaks(redacted), leaks(redacted)[:5]
    assert not leaks(raw), leaks(raw)[:5]
    assert all(r.content is None or MARKER not in r.content for r in replies)
    assert not [s for s in sent if MARKER in s]
    assert not {k: v for k, v in object_texts.items() if MARKER in v}
    print(
        f"\nsecrets: {len(raw.splitlines())} log lines at DEBUG, {len(sent)} messages, "
        f"{len(object_texts)} repr/str of {len(object_texts) // 3} objects: no secret"
    )


async def _boom(*_: Any) -> Any:
    raise RuntimeError("boom")


def test_settings_errors_never_show_a_secret() -> None:
    base = {"DISCORD_TOKEN": DISCORD_TOKEN, "COC_TOKENS": COC_TOKEN_A}
    bad_urls = [
        f"postgresql://postgres:{DB_PASSWORD}@db:notaport/bot",
        f"mysql://postgres:{DB_PASSWORD}@db/bot",
        f"postgresql://postgres:{DB_PASSWORD}@db:99999/bot",
        f"{DB_PASSWORD}",
    ]
    checked = 0
    for url in bad_urls:
        env = {**base, "DATABASE_URL": url, "COC_THROTTLE_LIMIT": "fast"}
        with pytest.raises(SettingsError) as info:
            load_settings(env)
        assert MARKER not in str(info.value), str(info.value)
        assert "DATABASE_URL" in str(info.value)
        checked += 1
    # Only a password, no email: the message names the missing email, not the password.
    with pytest.raises(SettingsError) as info:
        load_settings({"DISCORD_TOKEN": DISCORD_TOKEN, "COC_PASSWORD": COC_PASSWORD})
    assert MARKER not in str(info.value) and "COC_EMAIL" in str(info.value)
    assert checked == len(bad_urls)


# ---- the email log-in against a fake developer site -------------------------------------

DEV_SITE = "https://developer.clashofclans.com"


class DevSite:
    """The four developer-site routes coc.py's email log-in uses (login, list; no create)."""

    def __init__(self, password: str, key: str) -> None:
        self.password, self.key = password, key
        self.base = ""
        self.logins = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/login", self._login)
        app.router.add_post("/api/apikey/list", self._list)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _login(self, request: web.Request) -> web.Response:
        self.logins += 1
        body = await request.json()
        if body.get("password") != self.password:
            return web.json_response({"error": "invalidCredentials"}, status=403)
        claims = {"limits": [{}, {"cidrs": ["127.0.0.1/32"]}]}
        payload = base64.b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return web.json_response({"temporaryAPIToken": f"h.{payload}.s"})

    async def _list(self, request: web.Request) -> web.Response:
        key = {"id": "1", "name": "coc-tracker-bot", "cidrRanges": ["127.0.0.1"], "key": self.key}
        return web.json_response({"keys": [key]})


def moved_to(base: str) -> type:
    """coc.py's aiohttp, with the hard-coded developer site moved to ``base``."""

    class Session:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._session = aiohttp.ClientSession(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._session, name)

        async def __aenter__(self) -> Session:
            return self

        async def __aexit__(self, *exc: object) -> None:
            await self._session.close()

        def post(self, url: str, **kwargs: Any) -> Any:
            if url.startswith(DEV_SITE):
                url = base + url[len(DEV_SITE) :]
            return self._session.post(url, **kwargs)

    class Module:
        ClientSession = Session

        def __getattr__(self, name: str) -> Any:
            return getattr(aiohttp, name)

    return Module


async def test_email_log_in_keeps_the_password_and_key_out_of_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = DevSite(COC_PASSWORD, COC_KEY)
    await site.start()
    monkeypatch.setattr(coc.http, "aiohttp", moved_to(site.base)())
    api = FakeCocApi(tokens=(COC_KEY,))
    await api.start()
    api.set_player(make_player(PLAYER, name="Chief"))
    try:
        env = {
            "DISCORD_TOKEN": DISCORD_TOKEN,
            "COC_EMAIL": COC_EMAIL,
            "COC_PASSWORD": COC_PASSWORD,
            "COC_API_BASE_URL": api.base_url,
            "COC_THROTTLE_LIMIT": "1000",
            "LOG_LEVEL": "DEBUG",
        }
        good = load_settings(env)
        wrong = load_settings({**env, "COC_PASSWORD": f"not-it-{MARKER}"})
        with bot_logging((*good.secret_values(), *wrong.secret_values())) as logs:
            clash = ClashApi(good)
            await clash.start()
            try:
                assert (await clash.get_player(PLAYER))["name"] == "Chief"
            finally:
                await clash.close()
            with pytest.raises(ApiAccessDenied):
                await ClashApi(wrong).start()
            with pytest.raises(StartupError) as failed:
                await check_clash(wrong)
        assert site.logins == 3
        assert "invalidCredentials" in failed.value.what and MARKER not in str(failed.value)
        raw, redacted = logs.raw.getvalue(), logs.redacted.getvalue()
        assert "Invalid credentials" in raw  # coc.py logged the refused log-in
        assert not leaks(redacted), leaks(redacted)[:5]
        assert not leaks(raw), leaks(raw)[:5]
    finally:
        await api.stop()
        await site.stop()


# ---- python -m bot as a subprocess ------------------------------------------------------


def subprocess_env(**settings: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "COC_", "DATABASE_", "POOL_", "TRACK", "LOG_"))
    }
    return {**keep, "PYTHONPATH": str(ROOT), **settings}


async def run_bot_command(
    args: list[str], env: dict[str, str], cwd: Path, limit: float = 60
) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=cwd,  # no .env there: only the settings given
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), limit)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def verdicts(out: str) -> dict[str, int]:
    """How many of ``python -m bot check``'s lines passed and failed."""
    lines = out.splitlines()
    return {v: sum(1 for line in lines if line.startswith(v + " ")) for v in ("OK", "FAIL")}


def common_settings(discord: FakeDiscord, coc_api: FakeCocApi, dsn: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": DISCORD_TOKEN,
        "DISCORD_GUILD_ID": str(GUILD_ID),
        "DISCORD_API_BASE_URL": discord.api_base,
        "DISCORD_GATEWAY_URL": discord.gateway_url,
        "COC_TOKENS": f"{COC_TOKEN_A},{COC_TOKEN_B}",
        "COC_EMAIL": COC_EMAIL,
        "COC_PASSWORD": COC_PASSWORD,
        "COC_API_BASE_URL": coc_api.base_url,
        "DATABASE_URL": dsn,
        "TRACKER_ENABLED": "false",
        "LOG_LEVEL": "DEBUG",
    }


async def test_python_m_bot_prints_no_secret(db_dsn: str, tmp_path: Path) -> None:
    dsn = with_password(db_dsn, DB_PASSWORD)
    missing_db = with_password(db_dsn.replace("/t_", "/missing_t_", 1), DB_PASSWORD)
    outputs: dict[str, str] = {}
    # Wrong credentials: the fakes expect other tokens, the database does not exist.
    async with harness_module.fakes() as (discord, coc_api):
        env = subprocess_env(**{**common_settings(discord, coc_api, missing_db)})
        code, out = await run_bot_command(["check"], env, tmp_path)
        assert code == 1, out
        assert verdicts(out) == {"OK": 1, "FAIL": 3}, out
        outputs["check, wrong credentials"] = out

        env = subprocess_env(**{**common_settings(discord, coc_api, dsn)}, DATA_DIR=str(tmp_path))
        code, out = await run_bot_command([], env, tmp_path)
        assert code == 1 and "the Clash of Clans API refused the credentials" in out, out
        outputs["run, keys refused"] = out
    # Right credentials.
    async with secret_fakes() as (discord, coc_api):
        coc_api.set_player(make_player("#JY9J2Y99"))
        # The keys are accepted at start, then Discord refuses the token.
        discord.token = "another-bots-token"
        env = subprocess_env(**common_settings(discord, coc_api, dsn), DATA_DIR=str(tmp_path))
        code, out = await run_bot_command([], env, tmp_path)
        assert code == 1 and "Discord refused DISCORD_TOKEN" in out, out
        outputs["run, token refused"] = out
        discord.token = DISCORD_TOKEN
        env = subprocess_env(**common_settings(discord, coc_api, dsn))
        code, out = await run_bot_command(["check"], env, tmp_path)
        assert code == 0, out
        assert verdicts(out) == {"OK": 4, "FAIL": 0}, out
        outputs["check, right credentials"] = out
    # Malformed settings: stopped before anything starts, every problem named.
    env = subprocess_env(
        DISCORD_TOKEN=DISCORD_TOKEN,
        COC_PASSWORD=COC_PASSWORD,
        DATABASE_URL=f"postgresql://postgres:{DB_PASSWORD}@db:notaport/bot",
        POOL_MIN_SIZE="many",
        LOG_LEVEL="DEBUG",
    )
    code, out = await run_bot_command(["check"], env, tmp_path)
    assert code == 2 and ".env.example" in out and "DATABASE_URL" in out, out
    outputs["check, malformed settings"] = out

    for case, out in outputs.items():
        assert not leaks(out), (case, leaks(out))
    print(f"\nsecrets: python -m bot, {len(outputs)} runs at DEBUG: no secret in the output")
