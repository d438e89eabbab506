"""/roles map, unmap, show, sync and /nickname set, off; and the role sync loop."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import asyncpg
import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import clan_autocomplete
from bot.command_checks import manage_guild
from bot.embeds import literal
from bot.errors import InvalidOption, LimitReached, NoData, NotAllowed, UserFacingError
from bot.limits import MAX_ROLE_MAPS
from bot.roles.member_sync import guild_plan, nickname_problem, role_problem
from bot.roles.nicknames import main_account, parse_format, render, values_of
from bot.roles.report import outcome_text, roles_embed
from bot.roles.rules import CLAN_KINDS, KINDS, MAX_TOWN_HALL
from bot.roles.service import RoleSyncService
from bot.roles.values import canonical, known_tiers, shown
from bot.tags import parse_tag
from db import roles

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

KIND_CHOICES = [app_commands.Choice(name=label, value=kind) for kind, label in KINDS.items()]


async def value_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """Values for the chosen kind: Town Hall levels, league tiers, tracked clans."""
    kind = getattr(interaction.namespace, "kind", None)
    text = current.strip().casefold()[:50]
    if kind == "town_hall":
        levels = [str(th) for th in range(MAX_TOWN_HALL, 0, -1)]
        return [app_commands.Choice(name=f"Town Hall {v}", value=v)
                for v in levels if not text or v.startswith(text)][:25]  # fmt: skip
    if kind == "league":
        bot = cast("TrackerBot", interaction.client)
        try:
            async with bot.pool.acquire(timeout=2.0) as con:
                tiers = await known_tiers(bot.clash, con)
        except Exception as exc:  # autocomplete must answer within 3 s, whatever happened
            log.warning("league autocomplete failed: %s", type(exc).__name__)
            return []
        names = [tiers[t] for t in sorted(tiers, reverse=True)]
        return [app_commands.Choice(name=n, value=n)
                for n in names if not text or text in n.casefold()][:25]  # fmt: skip
    if kind in CLAN_KINDS:
        return await clan_autocomplete(interaction, current)
    if kind == "verified":
        return [app_commands.Choice(name="(no value needed)", value="-")]
    return []


class RolesCog(commands.Cog):
    roles_group = app_commands.Group(
        name="roles",
        description="Keep members' roles in sync with their linked accounts",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )
    nickname_group = app_commands.Group(
        name="nickname",
        description="Keep members' nicknames in sync with their main linked account",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        self.service = RoleSyncService(bot)

    async def cog_load(self) -> None:
        self.bot.role_sync = self.service
        self.service.start()

    async def cog_unload(self) -> None:
        self.bot.role_sync = None
        await self.service.stop()

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        """A member who joins with linked accounts gets their roles now, not at the next
        pass; one still in membership screening once they pass it (a role would let them
        skip it)."""
        if not member.pending:
            await self._queue(member, "joined")

    @commands.Cog.listener()
    async def on_member_update(self, before: discord.Member, after: discord.Member) -> None:
        self.service.recent.confirm(after)
        if before.pending and not after.pending:
            await self._queue(after, "passed membership screening")

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        await self.service.forget_guild(guild.id)

    async def _queue(self, member: discord.Member, reason: str) -> None:
        if member.bot:
            return
        async with self.bot.pool.acquire() as con:
            if await roles.guild_config(con, member.guild.id) is None:
                return
            if not await roles.linked_among(con, [member.id]):
                return
            await roles.queue_now(con, member.guild.id, [member.id], reason)
        self.service.wake()

    # -- /roles

    @roles_group.command(name="map", description="Give a role to members whose accounts match")
    @app_commands.describe(
        kind="What the role follows",
        value="Town Hall level, league tier name, or clan tag (ignored for verified)",
        role="The role to give (below the bot's highest role)",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.autocomplete(value=value_autocomplete)
    @manage_guild()
    async def map_role(
        self, interaction: discord.Interaction, kind: str, value: str, role: discord.Role
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        if kind not in KINDS:
            raise InvalidOption(f"Choose a kind from the list: {', '.join(KINDS)}.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        # The cached role: Discord's resolved data may be missing (discord.py then gives a
        # bare Object) or stale.
        known = guild.get_role(role.id)
        if known is None:
            raise NoData("That role does not exist in this server.")
        problem = role_problem(guild, known.id)
        if problem is not None:
            raise NotAllowed(f"I cannot give {known.mention}: {problem}.")
        # Discord's own rule for whoever gives a role: Manage Roles and a higher role.
        # Without it, Manage Server alone would hand out any role below the bot's.
        # Server-wide: in a channel's overwrites the same bit is Manage Permissions.
        invoker = interaction.user
        if invoker.id != guild.owner_id and not (
            isinstance(invoker, discord.Member)
            and (invoker.guild_permissions.manage_roles or invoker.guild_permissions.administrator)
            and known < invoker.top_role
        ):
            raise NotAllowed(
                f"To map {known.mention} you need Manage Roles and a role above it, as you "
                "would to give it yourself."
            )
        async with self.bot.pool.acquire() as con:
            stored, label = await canonical(self.bot.clash, con, guild.id, kind, value)
            existing = {(m.kind, m.value) for m in await roles.guild_maps(con, guild.id)}
            if (kind, stored) not in existing and len(existing) >= MAX_ROLE_MAPS:
                raise LimitReached(f"This server maps {MAX_ROLE_MAPS} roles, the most allowed.")
            previous = await roles.map_role(con, guild.id, kind, stored, known.id)
        self.service.wake()
        replaced = f" (instead of <@&{previous}>)" if previous and previous != known.id else ""
        await interaction.followup.send(
            f"{known.mention} now follows **{literal(label)}**{replaced}. Members are being "
            "synced now; only mapped roles are ever added or removed.",
            ephemeral=True,
        )

    @roles_group.command(name="unmap", description="Stop giving a role for a kind and value")
    @app_commands.describe(kind="What the role follows", value="The value it was mapped with")
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.autocomplete(value=value_autocomplete)
    @manage_guild()
    async def unmap_role(self, interaction: discord.Interaction, kind: str, value: str) -> None:
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with self.bot.pool.acquire() as con:
            stored, label = await _stored_value(self.bot, con, guild.id, kind, value)
            role_id = await roles.unmap_role(con, guild.id, kind, stored)
        if role_id is None:
            raise NoData(f"No role is mapped to **{literal(label)}**. See `/roles show`.")
        await interaction.followup.send(
            f"<@&{role_id}> no longer follows **{literal(label)}**. Members who hold it keep "
            "it; it is no longer added or removed for this.",
            ephemeral=True,
        )

    @roles_group.command(name="show", description="Mapped roles, nicknames, and what is skipped")
    @manage_guild()
    async def show(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        async with self.bot.pool.acquire() as con:
            config = await roles.guild_config(con, guild.id)
            if config is None:
                raise NoData(
                    "This server syncs no roles or nicknames. Start with `/roles map` or "
                    "`/nickname set`."
                )
            gplan = guild_plan(guild, config, {})  # the skipped roles: no ranks needed
            state = await roles.pass_state(con, guild.id)
        embed = roles_embed(config, gplan, state, guild.owner_id)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @roles_group.command(name="sync", description="Sync one member now, or every member")
    @app_commands.describe(member="The member to sync now (default: a full pass of everyone)")
    @manage_guild()
    async def sync(
        self, interaction: discord.Interaction, member: discord.Member | None = None
    ) -> None:
        guild = interaction.guild
        assert guild is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        if member is None:
            async with self.bot.pool.acquire() as con:
                if await roles.guild_config(con, guild.id) is None:
                    raise NoData("This server syncs no roles or nicknames yet.")
            if not await self.service.ensure_chunked(guild):
                raise NoData("Discord did not send this server's member list. Try again later.")
            covered = await self.service.queue_pass(guild)
            text = f"Full pass started: {covered} member(s) queued. Nothing is posted."
        else:
            cached = guild.get_member(member.id) or member
            outcome = await self.service.sync_one(guild, cached)
            if outcome is None:
                raise NoData("This server syncs no roles or nicknames yet.")
            text = f"{member.mention}: {outcome_text(outcome)}"
        await interaction.followup.send(text, ephemeral=True)

    # -- /nickname

    @nickname_group.command(name="set", description="Keep nicknames as a format")
    @app_commands.describe(
        format="Like {name} | TH{th} or {name} [{clan}]: {name}, {th} and {clan} are filled in"
    )
    @manage_guild()
    async def set_nickname(self, interaction: discord.Interaction, format: str) -> None:
        guild = interaction.guild
        assert guild is not None
        fmt = parse_format(format)
        problem = nickname_problem(guild)
        if problem is not None:
            raise NotAllowed(f"I cannot change nicknames: {problem}.")
        async with self.bot.pool.acquire() as con:
            await roles.set_nickname_format(con, guild.id, fmt.text)
            mine = await roles.accounts_of(con, [interaction.user.id])
        self.service.wake()
        main = main_account(mine[interaction.user.id])
        values = values_of(main) if main else None
        example = values or {"name": "Chief Dragon", "th": "17", "clan": "Clan Family"}
        preview = render(fmt, example) or "(empty)"
        notes = [
            f"Nicknames now follow `{literal(fmt.text)}`, e.g. **{literal(preview)}**. "
            "Members are being renamed from their main account (first verified link, else "
            "first)."
        ]
        if self.bot.user is None or guild.owner_id != self.bot.user.id:
            notes.append(
                f"The server owner (<@{guild.owner_id}>) cannot be renamed by a bot: "
                "they are skipped."
            )
        await interaction.response.send_message("\n".join(notes), ephemeral=True)

    @nickname_group.command(name="off", description="Stop changing nicknames")
    @manage_guild()
    async def nickname_off(self, interaction: discord.Interaction) -> None:
        guild = interaction.guild
        assert guild is not None
        async with self.bot.pool.acquire() as con:
            config = await roles.guild_config(con, guild.id)
            if config is None or config.nickname_format is None:
                raise NoData("Nicknames are not being changed in this server.")
            await roles.set_nickname_format(con, guild.id, None)
        await interaction.response.send_message(
            "Nicknames are no longer changed; they stay as they are now.", ephemeral=True
        )


async def _stored_value(
    bot: TrackerBot, con: asyncpg.Connection, guild_id: int, kind: str, value: str
) -> tuple[str, str]:
    """The stored form of a value to unmap: a clan no longer tracked can still be unmapped."""
    try:
        return await canonical(bot.clash, con, guild_id, kind, value)
    except UserFacingError:
        if kind not in CLAN_KINDS:
            raise
        tag = parse_tag(value)
        return tag, shown(kind, tag)


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(RolesCog(bot))
