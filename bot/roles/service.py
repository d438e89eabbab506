"""The role sync loop: full passes, and the queue of members due a sync.

Members are queued by database triggers (a link made or removed, a linked
player's Town Hall, league, clan, rank or name changed, whichever process saw
it), by the commands, and by each guild's full pass every
ROLE_SYNC_INTERVAL_SECONDS. A full pass queues every member it covers in the
database, so a pass cut short by a restart carries on where it stopped. It
posts nothing. Each process syncs the guilds it is connected to; a member's row
is leased while it is synced, so two processes never sync one member at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import discord

from bot.roles.member_sync import REFUSED, GuildPlan, Outcome, guild_plan, sync_member
from bot.roles.rules import league_rank
from db import roles
from db.model import RoleConfig

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

TASK_NAME = "role sync"
DB_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# Discord down, a dropped connection: the member is tried again later, with back-off.
TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)
BATCH = 20
LEASE = timedelta(minutes=2)
RETRY_BASE, RETRY_MAX = 30.0, 3600.0
CHUNK_TIMEOUT = 60.0


class RoleSyncService:
    def __init__(self, bot: TrackerBot, *, tick: float | None = None) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        settings = bot.settings
        self.interval = timedelta(seconds=settings.role_sync_interval_seconds)
        # Changes the tracker saw reach Discord within one tracking interval.
        track = settings.track_interval_seconds
        self.tick = tick if tick is not None else max(0.5, min(track, 5.0))
        self._wake = asyncio.Event()
        self._stopping = False
        self._held: dict[tuple[int, int], roles.QueuedMember] = {}
        # Set after each cycle, then replaced: tests and commands wait on it.
        self.cycle_done = asyncio.Event()
        self.calls = 0  # REST calls made (changes), for the benchmark
        self.retry_base = RETRY_BASE  # seconds; doubled per try (tests shorten it)

    # -- lifecycle

    def start(self) -> None:
        self._stopping = False
        self.bot.supervisor.start(TASK_NAME, self.run)

    async def stop(self, grace: float = 5.0) -> None:
        self._stopping = True
        self._wake.set()
        await self.bot.supervisor.stop(TASK_NAME, timeout=grace)
        await self._release_held()

    def wake(self) -> None:
        self._wake.set()

    async def wait_cycle(self) -> None:
        """Wait for a whole cycle that starts after this call."""
        self.wake()
        first = self.cycle_done
        await first.wait()
        await self.cycle_done.wait()

    async def run(self) -> None:
        delay = 1.0
        while not self._stopping:
            try:
                busy = await self.run_once()
                delay = 1.0
            except DB_TROUBLE as exc:
                log.warning("role sync lost the database (%s); retrying in %.0f s", exc, delay)
                await self._release_held()
                busy = False
                await self._sleep(delay)
                delay = min(delay * 2, 60.0)
            done, self.cycle_done = self.cycle_done, asyncio.Event()
            done.set()
            if not busy and not self._stopping:
                await self._sleep(self.tick)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _release_held(self) -> None:
        held, self._held = list(self._held.values()), {}
        if not held:
            return
        with contextlib.suppress(*DB_TROUBLE):
            async with self.pool.acquire() as con:
                for item in held:
                    await roles.retry_later(con, item, timedelta(0))

    # -- one cycle

    async def run_once(self) -> bool:
        """Queue the due full passes, then sync one batch of due members. True if more
        members may be due at once."""
        guilds = {g.id: g for g in self.bot.guilds if not g.unavailable}
        if not guilds:
            return False
        async with self.pool.acquire() as con:
            for guild_id in await roles.claim_passes(con, list(guilds), self.interval):
                await self._queue_pass(con, guilds[guild_id])
            due = await roles.lease_due(con, list(guilds), BATCH, LEASE)
        if not due:
            return False
        self._held.update({(d.guild_id, d.user_id): d for d in due})
        by_guild: dict[int, list[roles.QueuedMember]] = {}
        for item in due:
            by_guild.setdefault(item.guild_id, []).append(item)
        for guild_id, items in by_guild.items():
            if self._stopping:
                break
            await self._sync_guild(guilds[guild_id], items)
        return len(due) == BATCH

    async def queue_pass(self, guild: discord.Guild) -> int:
        """Queue a full pass of ``guild`` now (``/roles sync``); how many members it covers."""
        async with self.pool.acquire() as con:
            covered = await self._queue_pass(con, guild)
        self.wake()
        return covered

    async def sync_one(self, guild: discord.Guild, member: discord.Member) -> Outcome | None:
        """Sync one member now (``/roles sync member``); None if the guild does not sync."""
        async with self.pool.acquire() as con:
            config = await roles.guild_config(con, guild.id)
            if config is None:
                return None
            gplan = guild_plan(guild, config, league_rank(await roles.league_tiers(con)))
            await self._note_problems(con, guild, config, gplan)
            accounts = await roles.accounts_of(con, [member.id])
            outcome = await sync_member(con, member, accounts[member.id], gplan)
            self.calls += outcome.calls
            await self._after(con, guild, outcome)
        return outcome

    async def _queue_pass(self, con: asyncpg.Connection, guild: discord.Guild) -> int:
        """Queue every member the pass covers: those with a link, a mapped role, or a
        nickname the bot gave. How many; 0 when the member list did not arrive."""
        if not guild.chunked and self.bot.intents.members:
            try:
                await asyncio.wait_for(guild.chunk(), CHUNK_TIMEOUT)
            except TimeoutError:
                log.warning("guild %s: its member list did not arrive; pass skipped", guild.id)
                await roles.pass_now(con, guild.id)
                return 0
        config = await roles.guild_config(con, guild.id)
        if config is None:
            return 0
        managed = {m.role_id for m in config.mappings}
        humans = [m for m in guild.members if not m.bot]
        linked = await roles.linked_among(con, [m.id for m in humans])
        nicked = await roles.nicked_members(con, guild.id)
        covered = [
            m.id
            for m in humans
            if m.id in linked or m.id in nicked or any(r.id in managed for r in m.roles)
        ]
        await roles.queue_members(con, guild.id, covered, "full pass")
        await roles.clear_refusals(con, guild.id, REFUSED)
        log.info("guild %s: full role pass queued for %d member(s)", guild.id, len(covered))
        return len(covered)

    async def _sync_guild(self, guild: discord.Guild, items: Sequence[roles.QueuedMember]) -> None:
        async with self.pool.acquire() as con:
            config = await roles.guild_config(con, guild.id)
            if config is None:  # the guild stopped syncing
                for item in items:
                    await self._finish(con, item)
                return
            gplan = guild_plan(guild, config, league_rank(await roles.league_tiers(con)))
            await self._note_problems(con, guild, config, gplan)
            accounts = await roles.accounts_of(con, [i.user_id for i in items])
            for item in items:
                if self._stopping:
                    return
                member = guild.get_member(item.user_id)
                if member is None and not guild.chunked:
                    member = await self._fetch_member(guild, item.user_id)
                if member is None:  # not in this guild: nothing to sync
                    await self._finish(con, item)
                    continue
                try:
                    outcome = await sync_member(con, member, accounts[item.user_id], gplan)
                except (*TRANSIENT, discord.HTTPException) as exc:
                    # Discord down or refusing in a way discord.py does not retry (a 429
                    # without its proxy's header, a 4xx): this member waits, the rest go on.
                    delay = min(self.retry_base * 2 ** (item.tries - 1), RETRY_MAX)
                    log.warning(
                        "role sync of member %s in guild %s failed (%s); again in %.0f s",
                        member.id, guild.id, exc or type(exc).__name__, delay,
                    )  # fmt: skip
                    await roles.retry_later(con, item, timedelta(seconds=delay))
                    self._held.pop((item.guild_id, item.user_id), None)
                    continue
                self.calls += outcome.calls
                await self._after(con, guild, outcome)
                await self._finish(con, item)

    async def _fetch_member(self, guild: discord.Guild, user_id: int) -> discord.Member | None:
        try:
            return await guild.fetch_member(user_id)
        except discord.NotFound:
            return None

    async def _finish(self, con: asyncpg.Connection, item: roles.QueuedMember) -> None:
        await roles.finish(con, item)
        self._held.pop((item.guild_id, item.user_id), None)

    async def _note_problems(
        self, con: asyncpg.Connection, guild: discord.Guild, config: RoleConfig, gplan: GuildPlan
    ) -> None:
        """Record (and log once, when it appears) why a role or nicknames are skipped."""
        for role_id in {m.role_id for m in config.mappings}:
            problem = gplan.skipped.get(role_id)
            if await roles.set_role_problem(con, guild.id, role_id, problem) and problem:
                log.warning("guild %s: role %s is skipped: %s", guild.id, role_id, problem)
        if config.nickname_format:
            problem = gplan.nickname_problem
            if await roles.set_nickname_problem(con, guild.id, problem) and problem:
                log.warning("guild %s: nicknames are skipped: %s", guild.id, problem)

    async def _after(self, con: asyncpg.Connection, guild: discord.Guild, outcome: Outcome) -> None:
        for role_id in outcome.refused:
            if await roles.set_role_problem(con, guild.id, role_id, REFUSED):
                log.warning("guild %s: Discord refused role %s: %s", guild.id, role_id, REFUSED)
        if outcome.owner_skipped and await roles.note_owner(con, guild.id):
            log.info(
                "guild %s: the server owner's nickname cannot be changed by a bot; skipped",
                guild.id,
            )
