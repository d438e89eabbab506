"""The Bot subclass: dependencies injected, every cog loaded, commands synced."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import asyncpg
import discord
from discord.ext import commands

from bot.clash import ClashApi
from bot.command_limits import check_commands
from bot.roles.service import RoleSyncService
from bot.settings import Settings
from bot.supervisor import Supervisor
from bot.timeutil import utcnow
from bot.tree import TrackerTree

log = logging.getLogger(__name__)

# At a stop, commands in flight get this long to reply before Discord closes: well
# inside compose's stop_grace_period (20 s), which the tracker and pool need after it.
DRAIN_GRACE = 10.0


def point_discord_at(api_base_url: str | None, gateway_url: str | None) -> None:
    """Send discord.py's REST and gateway traffic to a proxy or a test server.

    discord.py has no setting or environment variable for this, only two class
    attributes, read at log-in; webhooks (interaction follow-ups) use
    ``Route.BASE`` too.
    """
    import yarl

    if api_base_url:
        discord.http.Route.BASE = api_base_url.rstrip("/")
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


# Every cog, by module name: loaded by name so that bot/ never imports cogs/
# (dependencies point one way: cogs -> bot -> db).
INITIAL_EXTENSIONS: tuple[str, ...] = (
    "cogs.board",
    "cogs.clangames",
    "cogs.export",
    "cogs.feed",
    "cogs.history",
    "cogs.inactive",
    "cogs.leaderboard",
    "cogs.link",
    "cogs.player",
    "cogs.raids",
    "cogs.ranked",
    "cogs.roles",
    "cogs.status",
    "cogs.track",
    "cogs.war",
    "cogs.war_reminder",
)


class CommandPayloadError(RuntimeError):
    pass


class TrackerBot(commands.Bot):
    def __init__(
        self,
        *,
        settings: Settings,
        pool: asyncpg.Pool,
        clash: ClashApi,
        supervisor: Supervisor,
        clock: Callable[[], datetime] = utcnow,
        **options: Any,
    ) -> None:
        """``supervisor`` runs the background tasks (its owner starts and stops it);
        ``clock`` is what the background tasks take for now (tests move it);
        ``options`` go to ``commands.Bot`` (tests shorten ``guild_ready_timeout``)."""
        intents = discord.Intents.none()
        intents.guilds = True
        # Role and nickname sync reads members' roles from the cache (a member already
        # right costs no request). A privileged intent: see README, "Roles".
        intents.members = True
        # Boards learn at once that their message was deleted (MESSAGE_DELETE comes with
        # this intent; message content does not, and no message is cached).
        intents.guild_messages = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=TrackerTree,
            help_command=None,
            # Player names and user input are echoed back; nothing may ping.
            allowed_mentions=discord.AllowedMentions.none(),
            # Member lists are fetched only for guilds that sync roles, when they do.
            chunk_guilds_at_startup=False,
            max_messages=None,
            **options,
        )
        self.settings = settings
        self.pool = pool
        self.clash = clash
        self.supervisor = supervisor
        self.clock = clock
        # Set by the roles cog while it is loaded: links wake it.
        self.role_sync: RoleSyncService | None = None
        # Set by drain(): new commands are refused, those in flight may finish.
        self.draining = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def shard_for(self, guild_id: int | None) -> int | None:
        """The shard a guild's events come on, as Discord assigns it; None unsharded (or
        outside a guild)."""
        count = self.settings.shard_count
        if count is None or guild_id is None:
            return None
        return (guild_id >> 22) % count

    def gateway_latency(self, guild_id: int | None = None) -> float:
        """Seconds between a heartbeat and its acknowledgement on the connection that
        carries ``guild_id`` (unsharded: the one connection); inf or nan until measured."""
        return self.latency

    @contextlib.contextmanager
    def command_in_flight(self) -> Iterator[None]:
        """Count one command (or autocomplete) while it runs (TrackerTree._call)."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    @property
    def commands_in_flight(self) -> int:
        return self._in_flight

    async def drain(self, grace: float = DRAIN_GRACE) -> int:
        """Refuse new commands and give those in flight up to ``grace`` seconds to reply.

        Returns how many were still running when the time ran out.
        """
        self.draining = True
        if self._in_flight:
            log.info(
                "stopping: waiting up to %.0f s for %d command(s) in flight",
                grace,
                self._in_flight,
            )
            try:
                await asyncio.wait_for(self._idle.wait(), grace)
            except TimeoutError:
                log.warning(
                    "%d command(s) still running after %.0f s: closing anyway",
                    self._in_flight,
                    grace,
                )
            else:
                log.info("the commands in flight have finished")
        return self._in_flight

    async def setup_hook(self) -> None:
        for name in INITIAL_EXTENSIONS:
            await self.load_extension(name)
        guild = (
            discord.Object(self.settings.discord_guild_id)
            if self.settings.discord_guild_id
            else None
        )
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        payload = [c.to_dict(self.tree) for c in self.tree.get_commands(guild=guild)]
        problems = check_commands(payload)
        if problems:
            raise CommandPayloadError("Discord would reject these commands: " + "; ".join(problems))
        synced = await self.tree.sync(guild=guild)
        log.info(
            "synced %d commands %s",
            len(synced),
            f"to guild {guild.id}" if guild else "globally (may take up to an hour to appear)",
        )

    async def on_message(self, message: discord.Message, /) -> None:
        """Nothing: every command is a slash command. (The messages intent is there for
        the delete events; without this, a mention of the bot would look up a prefix
        command and log that none exists.)"""

    async def on_ready(self) -> None:
        log.info(
            "ready as %s (%s) in %d guild(s)",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )


class ShardedTrackerBot(TrackerBot, commands.AutoShardedBot):
    """The same bot over discord.py's AutoShardedBot: the shards SHARD_IDS (default: all)
    of SHARD_COUNT, each its own gateway connection, in this process.

    The method order is TrackerBot, Bot, AutoShardedBot, BotBase, AutoShardedClient,
    Client: Bot and AutoShardedBot add nothing of their own, so the client's methods
    (connect, close, latency, ...) are the sharded client's. With ``shard_count`` given,
    discord.py does not ask Discord for one (no GET /gateway/bot).
    """

    def gateway_latency(self, guild_id: int | None = None) -> float:
        shard = self.shard_for(guild_id)
        if shard is None:
            return self.latency  # the average over this process's shards
        info = self.get_shard(shard)
        return info.latency if info is not None else float("nan")


def describe_shards(settings: Settings) -> str:
    """Which shards this process runs, for the start-up log."""
    count = settings.shard_count
    if count is None:
        return "one unsharded gateway connection"
    ids = settings.shard_ids if settings.shard_ids is not None else tuple(range(count))
    if len(ids) == count:
        return f"all {count} shard(s) in this process"
    listed = ", ".join(str(i) for i in ids)
    return f"shard(s) {listed} of {count} (the others run in other processes)"


def make_bot(
    *,
    settings: Settings,
    pool: asyncpg.Pool,
    clash: ClashApi,
    supervisor: Supervisor,
    clock: Callable[[], datetime] = utcnow,
    **options: Any,
) -> TrackerBot:
    """The bot ``settings`` ask for: unsharded without SHARD_COUNT (a plain TrackerBot),
    else a ShardedTrackerBot running SHARD_IDS (default: every shard)."""
    log.info("Discord: %s", describe_shards(settings))
    if settings.shard_count is None:
        return TrackerBot(
            settings=settings, pool=pool, clash=clash, supervisor=supervisor, clock=clock, **options
        )
    shard_ids = list(settings.shard_ids) if settings.shard_ids is not None else None
    return ShardedTrackerBot(
        settings=settings,
        pool=pool,
        clash=clash,
        supervisor=supervisor,
        clock=clock,
        shard_count=settings.shard_count,
        shard_ids=shard_ids,
        **options,
    )
