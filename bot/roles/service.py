"""The role sync loop: full passes, and the queue of members due a sync.

Members are marked by database triggers (a link made or removed, a linked player's
Town Hall, league, clan, rank or name changed, whichever process saw it), queued by
the commands and by joins, and by each guild's full pass every
ROLE_SYNC_INTERVAL_SECONDS. A full pass queues every member it covers in the
database, so a pass cut short by a restart carries on where it stopped; it posts
nothing. A link or a change comes before any pass (the queue's priority). Each
process syncs the guilds it is connected to; a member's row is leased while it is
synced, and a process stops using a batch's leases well before they run out, so two
processes never sync one member at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

import aiohttp
import asyncpg
import discord

from bot.roles.member_sync import (
    REFUSED,
    GuildPlan,
    Outcome,
    RecentChanges,
    guild_plan,
    sync_member,
)
from bot.roles.rules import league_rank
from bot.tracker.engine import owner_id
from db import roles
from db.errors import DB_TROUBLE
from db.model import RoleConfig

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

TASK_NAME = "role sync"
# Discord down, a dropped connection: the member is tried again later, with back-off.
TRANSIENT = (aiohttp.ClientError, OSError, TimeoutError, discord.DiscordServerError)
BATCH = 20
# Renewed every third of itself while the batch is synced (discord.py may wait out a
# rate limit for a while): only a process that stopped renewing loses its members.
LEASE = timedelta(minutes=2)
RETRY_BASE, RETRY_MAX = 30.0, 3600.0
CHUNK_TIMEOUT, CHUNK_RETRY = 60.0, 300.0
# A 429 discord.py does not ride out (Cloudflare's, with no rate-limit headers) stops
# every change of this process for a while: more requests would lengthen the ban.
BAN_PAUSE = 60.0


class RoleSyncService:
    def __init__(self, bot: TrackerBot, *, tick: float | None = None) -> None:
        self.bot = bot
        self.pool: asyncpg.Pool = bot.pool
        settings = bot.settings
        self.interval = timedelta(seconds=settings.role_sync_interval_seconds)
        # Changes the tracker saw reach Discord within one tracking interval.
        track = settings.track_interval_seconds
        self.tick = tick if tick is not None else max(0.5, min(track, 5.0))
        self.holder = owner_id()
        self.recent = RecentChanges()
        self._wake = asyncio.Event()
        self._stopping = False
        self._held: dict[tuple[int, int], roles.QueuedMember] = {}
        self._chunk_failed: dict[int, float] = {}  # guild id -> monotonic time to retry
        # The guild objects whose member list was fetched (a new log-in builds new ones).
        self._chunked: dict[int, discord.Guild] = {}
        self._paused_until = 0.0
        # Set after each cycle, then replaced: tests and commands wait on it.
        self.cycle_done = asyncio.Event()
        self.retry_base = RETRY_BASE  # seconds; doubled per try (tests shorten it)
        self.ban_pause = BAN_PAUSE

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
        try:
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
        finally:
            # A bug that ends the task: its leases go back at once, not when they run out.
            await self._release_held()

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()

    async def _release_held(self) -> None:
        """Give back the leases of members not synced (each forgotten once given back; one
        the database did not take back runs out by itself)."""
        with contextlib.suppress(*DB_TROUBLE):
            async with self.pool.acquire() as con:
                for key, item in list(self._held.items()):
                    await roles.release(con, item, self.holder)
                    self._held.pop(key, None)
        self._held.clear()

    # -- one cycle

    async def run_once(self) -> bool:
        """Move the triggers' marks into the queue, queue the due full passes, then sync
        one batch of due members. True if more members may be due at once."""
        async with self.pool.acquire() as con:
            while await roles.move_marks(con) > 0:
                pass
            connected = [g.id for g in self.bot.guilds if not g.unavailable]
            syncing = await roles.syncing_guilds(con, connected)
            await roles.back_in_guilds(con, syncing)
        if time.monotonic() < self._paused_until or not syncing:
            return False
        ready = {}
        for guild_id in syncing:
            guild = self.bot.get_guild(guild_id)
            if guild is not None and await self.ensure_chunked(guild):
                ready[guild_id] = guild
        async with self.pool.acquire() as con:
            due_passes = await roles.due_passes(con, list(ready))
        for guild_id in due_passes:
            await self.queue_pass(ready[guild_id], wake=False, claim=True)
        async with self.pool.acquire() as con:
            due = await roles.lease_due(con, list(ready), BATCH, LEASE, self.holder)
        if not due:
            return False
        self._held.update({(d.guild_id, d.user_id): d for d in due})
        by_guild: dict[int, list[roles.QueuedMember]] = {}
        for item in due:
            by_guild.setdefault(item.guild_id, []).append(item)
        renewing = asyncio.create_task(self._renew(LEASE, due))
        try:
            for guild_id, items in by_guild.items():
                await self._sync_guild(ready[guild_id], items)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        await self._release_held()  # what a stop or a ban left
        return len(due) == BATCH

    async def _renew(self, lease: timedelta, batch: Sequence[roles.QueuedMember]) -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            try:
                async with self.pool.acquire() as con:
                    await roles.renew_leases(con, self.holder, lease, batch)
            except DB_TROUBLE as exc:
                log.warning("role sync could not renew its leases: %s", exc)

    async def ensure_chunked(self, guild: discord.Guild) -> bool:
        """The guild's member list is in the cache: fetched once per guild object (a new
        log-in builds new ones). Not ``guild.chunked``, which compares the member count
        with the cache and stays false for good once a join or a leave crosses a chunk.
        A guild whose list did not arrive is tried again after a while, not every cycle."""
        if self._chunked.get(guild.id) is guild or guild.chunked or not self.bot.intents.members:
            return True
        if time.monotonic() < self._chunk_failed.get(guild.id, 0.0):
            return False
        try:
            await asyncio.wait_for(guild.chunk(), CHUNK_TIMEOUT)
        except (TimeoutError, *TRANSIENT, discord.ClientException, discord.HTTPException) as exc:
            log.warning("guild %s: its member list did not arrive (%r)", guild.id, exc)
            self._chunk_failed[guild.id] = time.monotonic() + CHUNK_RETRY
            return False
        self._chunked[guild.id] = guild
        return True

    async def queue_pass(
        self, guild: discord.Guild, *, wake: bool = True, claim: bool = False
    ) -> int:
        """Queue a full pass of ``guild``: every member with a link, a mapped role, or a
        nickname the bot gave. How many members it covers. ``claim``: only if the pass is
        due, claimed in the same transaction (another process may have taken it)."""
        async with self.pool.acquire() as con:
            config = await roles.guild_config(con, guild.id)
            if config is None:
                return 0
            managed = {m.role_id for m in config.mappings}
            humans = [m for m in guild.members if not m.bot]
            linked = await roles.linked_among(con, [m.id for m in humans])
            nicked = await roles.nicked_members(con, guild.id)
            covered = sorted(
                m.id
                for m in humans
                if m.id in linked or m.id in nicked or any(r.id in managed for r in m.roles)
            )
            async with con.transaction():
                if claim and not await roles.claim_passes(con, [guild.id], self.interval):
                    return 0
                await roles.queue_pass(con, guild.id, covered)
                await roles.clear_refusals(con, guild.id, REFUSED)
        log.info("guild %s: full role pass queued for %d member(s)", guild.id, len(covered))
        if wake:
            self.wake()
        return len(covered)

    async def sync_one(self, guild: discord.Guild, member: discord.Member) -> Outcome | None:
        """Sync one member now (``/roles sync member``); None if the guild does not sync."""
        async with self.pool.acquire() as con:
            gplan = await self._plan(con, guild, None)
            if gplan is None:
                return None
            accounts = await roles.accounts_of(con, [member.id])
            outcome = await sync_member(con, member, accounts[member.id], gplan, self.recent)
            await self._after(con, guild, outcome)
        return outcome

    async def forget_guild(self, guild_id: int) -> None:
        """The bot left the guild: its queue goes (its settings stay, for a return)."""
        async with self.pool.acquire() as con:
            await roles.left_guild(con, guild_id)

    async def _plan(
        self, con: asyncpg.Connection, guild: discord.Guild, previous: GuildPlan | None
    ) -> GuildPlan | None:
        """The guild's settings as they are now: a batch re-reads them before each
        member, so an unmap or `/nickname off` holds from the next member on."""
        config = await roles.guild_config(con, guild.id)
        if config is None:
            return None
        if previous is not None and previous.config == config:
            return previous
        gplan = guild_plan(guild, config, league_rank(await roles.league_tiers(con)))
        await self._note_problems(con, guild, config, gplan)
        return gplan

    async def _sync_guild(self, guild: discord.Guild, items: Sequence[roles.QueuedMember]) -> None:
        async with self.pool.acquire() as con:
            gplan: GuildPlan | None = None
            accounts = await roles.accounts_of(con, [i.user_id for i in items])
            for item in items:
                if self._stopping or time.monotonic() < self._paused_until:
                    return
                gplan = await self._plan(con, guild, gplan)
                member = guild.get_member(item.user_id)
                if gplan is None or member is None:  # not syncing, or not a member
                    await self._finish(con, item)
                    continue
                try:
                    outcome = await sync_member(
                        con, member, accounts[item.user_id], gplan, self.recent
                    )
                except (*TRANSIENT, discord.HTTPException) as exc:
                    await self._failed(con, guild, item, exc)
                    continue
                await self._after(con, guild, outcome)
                await self._finish(con, item)

    async def _failed(
        self,
        con: asyncpg.Connection,
        guild: discord.Guild,
        item: roles.QueuedMember,
        exc: Exception,
    ) -> None:
        """Discord down or refusing in a way discord.py does not retry: this member waits,
        with back-off; a 429 discord.py gave up on pauses every change for a while."""
        if isinstance(exc, discord.HTTPException) and exc.status == 429:
            self._paused_until = time.monotonic() + self.ban_pause
            log.warning(
                "Discord is refusing requests (429): role changes pause %.0f s", self.ban_pause
            )
        delay = min(self.retry_base * 2 ** (item.tries - 1), RETRY_MAX)
        log.warning(
            "role sync of member %s in guild %s failed (%s); again in %.0f s",
            item.user_id, guild.id, exc or type(exc).__name__, delay,
        )  # fmt: skip
        await roles.retry_later(con, item, timedelta(seconds=delay), self.holder)
        self._held.pop((item.guild_id, item.user_id), None)

    async def _finish(self, con: asyncpg.Connection, item: roles.QueuedMember) -> None:
        await roles.finish(con, item, self.holder)
        self._held.pop((item.guild_id, item.user_id), None)

    async def _note_problems(
        self, con: asyncpg.Connection, guild: discord.Guild, config: RoleConfig, gplan: GuildPlan
    ) -> None:
        """Record (and log once, when it appears) why a role or nicknames are skipped."""
        for role_id in {m.role_id for m in config.mappings}:
            problem = gplan.skipped.get(role_id)
            stored = {m.problem for m in config.mappings if m.role_id == role_id}
            if stored == {problem}:
                continue
            if await roles.set_role_problem(con, guild.id, role_id, problem) and problem:
                log.warning("guild %s: role %s is skipped: %s", guild.id, role_id, problem)
        if config.nickname_format and config.nickname_problem != gplan.nickname_problem:
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
