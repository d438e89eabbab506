"""The real bot, in process, against the fake Discord and the fake Clash API.

Every part but Discord and the Clash API is real: discord.py, coc.py,
asyncpg on a fresh PostgreSQL database, the bot's own cogs and tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bot.clash import ClashApi
from bot.discord_bot import TrackerBot, make_bot, point_discord_at
from bot.settings import Settings, load_settings
from bot.supervisor import Supervisor
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.discord_server import FakeDiscord, Interaction, Message

GUILD_ID = 5000
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3


def opt(name: str, value: Any, type: int = 3) -> dict[str, Any]:
    """A command option as Discord sends it (type 3 string, 4 integer, 6 user, 7 channel)."""
    return {"type": type, "name": name, "value": value}


def sub(name: str, *options: dict[str, Any]) -> dict[str, Any]:
    """A subcommand with its options."""
    return {"type": 1, "name": name, "options": list(options)}


def settings_for(
    discord: FakeDiscord, coc: FakeCocApi, dsn: str, data_dir: Path, **extra: str
) -> Settings:
    env = {
        "DISCORD_TOKEN": discord.token,
        "DISCORD_GUILD_ID": str(GUILD_ID),
        "DISCORD_API_BASE_URL": discord.api_base,
        "DISCORD_GATEWAY_URL": discord.gateway_url,
        "COC_TOKENS": "test-token",
        "COC_API_BASE_URL": coc.base_url,
        "COC_THROTTLE_LIMIT": "1000",
        "DATABASE_URL": dsn,
        "DATA_DIR": str(data_dir),
        "TRACK_INTERVAL_SECONDS": "1",
        "POOL_MIN_SIZE": "1",
        **extra,
    }
    return load_settings(env)


@dataclass
class Harness:
    discord: FakeDiscord
    coc: FakeCocApi
    bot: TrackerBot
    pool: asyncpg.Pool
    settings: Settings

    async def send(self, name: str, *options: dict[str, Any], **who: Any) -> Interaction:
        who.setdefault("guild_id", GUILD_ID)
        return await self.discord.interact(name, list(options), **who)

    async def run(self, name: str, *options: dict[str, Any], **who: Any) -> Message:
        """Invoke a command and wait for its final reply."""
        interaction = await self.send(name, *options, **who)
        return await interaction.wait_response()

    async def complete(self, name: str, options: list[dict[str, Any]], **who: Any) -> list[dict]:
        who.setdefault("guild_id", GUILD_ID)
        return await self.discord.autocomplete(name, options, **who)


@contextlib.asynccontextmanager
async def fakes() -> AsyncIterator[tuple[FakeDiscord, FakeCocApi]]:
    discord = FakeDiscord(guild_ids=(GUILD_ID,))
    coc = FakeCocApi(tokens=("test-token",))
    await discord.start()
    await coc.start()
    try:
        yield discord, coc
    finally:
        await coc.stop()
        await discord.stop()


@contextlib.asynccontextmanager
async def running_bot(dsn: str, data_dir: Path, **extra: str) -> AsyncIterator[Harness]:
    async with fakes() as (discord, coc), bot_on(discord, coc, dsn, data_dir, **extra) as h:
        yield h


async def _identify_at_once(shard_id: int | None, *, initial: bool = False) -> None:
    """discord.py waits 5 s between two shards' IDENTIFYs (Discord's limit); the fake
    has none."""


@contextlib.asynccontextmanager
async def bot_on(
    discord: FakeDiscord, coc: FakeCocApi, dsn: str, data_dir: Path, **extra: str
) -> AsyncIterator[Harness]:
    """The real bot on fakes the caller started (and built a world in)."""
    settings = settings_for(discord, coc, dsn, data_dir, **extra)
    point_discord_at(settings.discord_api_base_url, settings.discord_gateway_url)
    pool = await create_pool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        command_timeout=settings.db_command_timeout,
    )
    clash = ClashApi(settings)
    await clash.start()
    supervisor = Supervisor()
    # SHARD_COUNT in ``extra``: the sharded bot, with its shards (SHARD_IDS) only.
    bot = make_bot(
        settings=settings,
        pool=pool,
        clash=clash,
        supervisor=supervisor,
        guild_ready_timeout=0.05,
    )
    if settings.shard_count is not None:
        bot.before_identify_hook = _identify_at_once  # type: ignore[method-assign]
    runner = asyncio.create_task(bot.start(settings.discord_token.get()))
    try:
        if settings.shard_count is None:
            await asyncio.wait_for(discord.ready.wait(), 15)
        else:
            await discord.wait_shards_ready(settings.shard_count, settings.shard_ids)
        await discord.wait_synced(GUILD_ID)
        await asyncio.wait_for(bot.wait_until_ready(), 15)
        yield Harness(discord, coc, bot, pool, settings)
    finally:
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.wait_for(runner, 5)
        await supervisor.stop()
        await clash.close()
        await pool.close()
    logging.getLogger(__name__).debug("harness stopped")
