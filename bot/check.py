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
from bot.errors import ApiAccessDenied, UserFacingError
from bot.settings import Settings
from db.embedded import EmbeddedDatabaseError, EmbeddedPostgres
from db.migrate import MigrationError, pending

log = logging.getLogger(__name__)


class CheckFailed(Exception):
    def __init__(self, reason: str, fix: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


async def check_database(settings: Settings) -> str:
    embedded: EmbeddedPostgres | None = None
    try:
        if settings.database_url:
            dsn = settings.database_url.get()
            where = "DATABASE_URL"
        else:
            embedded = EmbeddedPostgres(settings.data_dir)
            dsn = embedded.start()
            where = f"embedded server in {settings.data_dir}"
        con = await asyncio.wait_for(asyncpg.connect(dsn), 10)
        try:
            version = con.get_server_version()
            todo = await pending(con)
        finally:
            await con.close()
    except EmbeddedDatabaseError as exc:
        raise CheckFailed(str(exc), "fix DATA_DIR or set DATABASE_URL") from None
    except MigrationError as exc:
        raise CheckFailed(str(exc), "check the migrations/ folder of this install") from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise CheckFailed(
            f"cannot connect: {type(exc).__name__}: {exc}",
            "check DATABASE_URL (host, port, user, password, database) and that the server runs",
        ) from None
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
    except ApiAccessDenied as exc:
        fix = {
            "accessDenied.invalidIp": "the key is bound to another IP: create a key for this "
            "machine's IP, or use COC_EMAIL/COC_PASSWORD",
            "invalidCredentials": "check COC_EMAIL and COC_PASSWORD",
        }.get(exc.reason, "check COC_TOKENS, or use COC_EMAIL/COC_PASSWORD")
        raise CheckFailed(f"the API refused the credentials ({exc.reason})", fix) from None
    except UserFacingError as exc:
        raise CheckFailed(exc.message, "check COC_API_BASE_URL and the network") from None
    finally:
        await api.close()
    return f"credentials accepted by {settings.coc_api_base_url} ({latency * 1000:.0f} ms)"


async def check_discord(settings: Settings) -> str:
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        user = await asyncio.wait_for(http.static_login(settings.discord_token.get()), 15)
    except discord.LoginFailure:
        raise CheckFailed(
            "Discord refused the token", "copy the bot token again into DISCORD_TOKEN"
        ) from None
    except (discord.HTTPException, OSError, TimeoutError) as exc:
        raise CheckFailed(
            f"Discord could not be reached: {type(exc).__name__}",
            "check the network or DISCORD_API_BASE_URL",
        ) from None
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
        except CheckFailed as exc:
            failed += 1
            print(f"FAIL  {name}: {exc.reason}. Fix: {exc.fix}")
        else:
            print(f"OK    {name}: {detail}")
        sys.stdout.flush()
    return 0 if failed == 0 else 1
