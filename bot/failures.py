"""What failed and how to fix it: one sentence each, for the start and for ``check``.

``python -m bot`` logs a failed start as one line built from a ``StartupError``;
``python -m bot check`` prints the same words, so the two never disagree.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg
import discord

from bot.errors import ApiAccessDenied, ApiMaintenance, ApiRateLimited, ApiUnavailable
from bot.settings import Settings
from db.embedded import EmbeddedDatabaseError
from db.migrate import MigrationError


class StartupError(Exception):
    """The bot cannot start (or go on): ``what`` failed; ``fix`` says what to do."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(f"{what}. Fix: {fix}")
        self.what = what
        self.fix = fix


def _where(settings: Settings) -> tuple[str, str, str]:
    """Host (or socket directory) and port, user, and database name of DATABASE_URL."""
    assert settings.database_url
    parts = urlsplit(settings.database_url.get())
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", ["localhost"])[0]
    try:
        port = parts.port or int(query.get("port", ["5432"])[0])
    except ValueError:
        port = 5432
    user = parts.username or query.get("user", ["?"])[0]
    name = parts.path.lstrip("/") or query.get("dbname", [user])[0]
    return f"{host}:{port}", user, name


def database_failure(exc: BaseException, settings: Settings) -> StartupError | None:
    """A failure to open or migrate the database, or None if ``exc`` is not one."""
    if isinstance(exc, EmbeddedDatabaseError):
        return StartupError(str(exc), exc.fix)
    if isinstance(exc, MigrationError):
        return StartupError(
            f"the database could not be migrated: {exc}",
            "run the version of the bot that matches the database, or restore a backup",
        )
    if not settings.database_url:
        # The embedded server: it runs, so anything else is a fault in it.
        if isinstance(exc, OSError | TimeoutError | asyncpg.PostgresError | asyncpg.InterfaceError):
            return StartupError(
                f"the embedded PostgreSQL failed: {type(exc).__name__}: {exc}",
                f"see {settings.data_dir.resolve() / 'postgres.log'}; "
                "or set DATABASE_URL to use another server",
            )
        return None
    address, user, name = _where(settings)
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return StartupError(
            f"the database at {address} refused the password of user {user!r}",
            "check the user and password in DATABASE_URL",
        )
    if isinstance(exc, asyncpg.InvalidAuthorizationSpecificationError):
        return StartupError(
            f"the database at {address} refused user {user!r}: {exc}",
            "check the user in DATABASE_URL, and that the server's pg_hba.conf lets it in",
        )
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return StartupError(
            f"the database {name!r} does not exist on {address}",
            f"create it (createdb -O {user} {name}), or fix its name in DATABASE_URL",
        )
    if isinstance(exc, asyncpg.CannotConnectNowError | asyncpg.TooManyConnectionsError):
        return StartupError(
            f"the database at {address} does not accept connections now: {exc}",
            "wait until it has started, or raise its max_connections; then start again",
        )
    if isinstance(exc, TimeoutError):
        return StartupError(
            f"the database at {address} did not answer in time",
            "check the host and port in DATABASE_URL, and that PostgreSQL runs there",
        )
    if isinstance(exc, OSError | asyncpg.PostgresConnectionError):
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return StartupError(
            f"cannot reach the database at {address}: {reason}",
            "check the host and port in DATABASE_URL, and that PostgreSQL runs there",
        )
    if isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
        return StartupError(
            f"the database at {address} failed: {type(exc).__name__}: {exc}",
            f"check that user {user!r} may create tables in database {name!r}",
        )
    return None


CLASH_FIXES = {
    "accessDenied.invalidIp": "the key is bound to another IP address: create a key for this "
    "machine's public IP at developer.clashofclans.com, or use COC_EMAIL and COC_PASSWORD",
    "invalidCredentials": "check COC_EMAIL and COC_PASSWORD "
    "(your developer.clashofclans.com log-in)",
}


def clash_failure(exc: BaseException, settings: Settings) -> StartupError | None:
    """Refused credentials or an API that cannot be reached; None for anything else
    (maintenance, rate limits and HTTP errors pass: the tracker waits them out)."""
    if isinstance(exc, ApiAccessDenied):
        default = (
            "check COC_TOKENS (keys from developer.clashofclans.com), "
            "or use COC_EMAIL and COC_PASSWORD"
            if settings.coc_tokens
            else "check COC_EMAIL and COC_PASSWORD"
        )
        return StartupError(
            f"the Clash of Clans API refused the credentials ({exc.reason})",
            CLASH_FIXES.get(exc.reason, default),
        )
    if isinstance(exc, ApiUnavailable) and not exc.answered:
        return StartupError(
            f"the Clash of Clans API could not be reached at {settings.coc_api_base_url} "
            f"({exc.detail or 'no answer'})",
            "check this machine's network (and COC_API_BASE_URL, if set)",
        )
    return None


def clash_transient(exc: BaseException) -> str | None:
    """Why the API could not confirm the credentials right now, if it is passing trouble."""
    if isinstance(exc, ApiMaintenance):
        return "the Clash of Clans API is in maintenance"
    if isinstance(exc, ApiRateLimited):
        return "the Clash of Clans API is rate-limiting this key"
    if isinstance(exc, ApiUnavailable) and exc.answered:
        return f"the Clash of Clans API answered with an error ({exc.detail})"
    return None


def discord_failure(exc: BaseException, settings: Settings) -> StartupError | None:
    """A failed Discord log-in, command sync or gateway connection."""
    if isinstance(exc, discord.LoginFailure) or (
        isinstance(exc, discord.ConnectionClosed) and exc.code == 4004
    ):
        return StartupError(
            "Discord refused DISCORD_TOKEN",
            "copy the bot token again into DISCORD_TOKEN "
            "(Discord developer portal > your application > Bot > Reset Token)",
        )
    if isinstance(exc, discord.ConnectionClosed) and exc.code == 4011:
        return StartupError(
            "Discord requires this bot to be sharded (it is in too many servers for one "
            "gateway connection)",
            "set SHARD_COUNT (about one shard per 1,000 servers) and, to split the shards "
            "over processes, SHARD_IDS in each (see README, Shards)",
        )
    if isinstance(exc, discord.ConnectionClosed) and exc.code == 4010:
        return StartupError(
            f"Discord refused the shard settings (SHARD_COUNT {settings.shard_count}, "
            f"SHARD_IDS {settings.shard_ids})",
            "every shard id must be below SHARD_COUNT, and every process must use the "
            "same SHARD_COUNT",
        )
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return StartupError(
            "Discord refused the Server Members intent (roles and nicknames need it)",
            "Discord developer portal > your application > Bot > Privileged Gateway Intents: "
            "turn on Server Members Intent, then start again",
        )
    if isinstance(exc, discord.DiscordServerError):
        return StartupError(
            f"Discord answered with a server error (HTTP {exc.status})",
            "Discord is having trouble: start again later",
        )
    if isinstance(exc, discord.Forbidden | discord.NotFound) and settings.discord_guild_id:
        return StartupError(
            f"Discord refused the command sync to DISCORD_GUILD_ID {settings.discord_guild_id} "
            f"(HTTP {exc.status}: {exc.text or 'no detail'})",
            "invite the bot to that server (with the applications.commands scope), "
            "or leave DISCORD_GUILD_ID empty",
        )
    if isinstance(exc, discord.HTTPException):
        return StartupError(
            f"Discord refused a request at start (HTTP {exc.status}: {exc.text or 'no detail'})",
            "run python -m bot check; if it passes, start again",
        )
    if isinstance(exc, OSError | aiohttp.ClientError | TimeoutError):
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return StartupError(
            f"Discord could not be reached ({detail})",
            "check this machine's network (and DISCORD_API_BASE_URL, if set)",
        )
    return None
