"""``python -m bot check``: one line per check, with the reason and the fix."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable

import asyncpg
import discord

from bot.clash import ClashApi
from bot.discord_bot import point_discord_at
from bot.failures import (
    StartupError,
    clash_failure,
    clash_transient,
    database_failure,
    discord_failure,
)
from bot.settings import Settings
from db.embedded import EmbeddedPostgres
from db.migrate import pending

log = logging.getLogger(__name__)


async def check_database(settings: Settings) -> str:
    embedded: EmbeddedPostgres | None = None
    try:
        if settings.database_url:
            dsn = settings.database_url.get()
            where = "DATABASE_URL"
        else:
            embedded = EmbeddedPostgres(settings.data_dir)
            dsn = await embedded.start()
            where = f"embedded server in {settings.data_dir}"
        con = await asyncio.wait_for(asyncpg.connect(dsn), 10)
        try:
            version = con.get_server_version()
            todo = await pending(con)
        finally:
            await con.close()
    except Exception as exc:
        failure = database_failure(exc, settings)
        if failure is None:
            raise
        raise failure from None
    finally:
        if embedded is not None:
            embedded.stop()
    status = (
        "migrations current"
        if not todo
        else (f"{len(todo)} migration(s) pending; they are applied when the bot starts")
    )
    return f"{where}, PostgreSQL {version.major}.{version.micro}, {status}"


async def check_clash(settings: Settings) -> str:
    api = ClashApi(settings)
    try:
        await api.start()
        latency = await api.ping()
    except Exception as exc:
        failure = clash_failure(exc, settings)
        if failure is not None:
            raise failure from None
        passing = clash_transient(exc)
        if passing is None:
            raise
        raise StartupError(
            f"{passing}, so the credentials could not be checked",
            "check again later (the bot itself starts, and its tracker waits)",
        ) from None
    finally:
        await api.close()
    return f"credentials accepted by {settings.coc_api_base_url} ({latency * 1000:.0f} ms)"


async def check_discord(settings: Settings) -> str:
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        user = await asyncio.wait_for(http.static_login(settings.discord_token.get()), 15)
    except Exception as exc:
        failure = discord_failure(exc, settings)
        if failure is None:
            raise
        raise failure from None
    finally:
        await http.close()
    return f"logged in as {user.get('username')} ({user.get('id')})"


async def run_checks(settings: Settings) -> int:
    checks: list[tuple[str, Callable[[Settings], Awaitable[str]]]] = [
        ("database", check_database),
        ("clash of clans", check_clash),
        ("discord", check_discord),
    ]
    print("OK    settings: loaded (see .env.example for every setting)")
    failed = 0
    for name, check in checks:
        try:
            detail = await check(settings)
        except StartupError as exc:
            failed += 1
            print(f"FAIL  {name}: {exc.what}. Fix: {exc.fix}")
        else:
            print(f"OK    {name}: {detail}")
        sys.stdout.flush()
    return 0 if failed == 0 else 1
