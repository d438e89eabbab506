"""/war-reminder set, off, show; and the task that posts the reminders.

A top-level command of its own: its members need Manage Server, unlike /war's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import clan_autocomplete
from bot.channels import MESSAGE_PERMISSIONS, TextChannel, bot_permissions, missing_permissions
from bot.clans import resolve_clan
from bot.command_checks import BoundedInt, manage_guild
from bot.embeds import literal, timestamp
from bot.errors import NoData, NotAllowed
from bot.wars.reminders import WarReminders
from db import war_reminders

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

Hours = app_commands.Transform[int, BoundedInt(1, 24)]


class WarReminderCog(commands.Cog):
    reminder = app_commands.Group(
        name="war-reminder",
        description="Remind a clan's members with war attacks left",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        self.reminders = WarReminders(bot)

    async def cog_load(self) -> None:
        self.reminders.start()

    async def cog_unload(self) -> None:
        await self.reminders.stop()

    @reminder.command(name="set", description="Post who has war attacks left before the end")
    @app_commands.describe(
        channel="The channel to post in",
        hours="How many hours before the battle day ends (1 to 24)",
        clan="The tracked clan (may be left out when there is only one)",
    )
    @app_commands.autocomplete(clan=clan_autocomplete)
    @manage_guild()
    async def set_reminder(
        self,
        interaction: discord.Interaction,
        channel: TextChannel,
        hours: Hours,
        clan: str | None = None,
    ) -> None:
        assert interaction.guild is not None and interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            chosen = await resolve_clan(con, interaction.guild_id, clan)
        missing = missing_permissions(
            await bot_permissions(self.bot, interaction.guild, channel), MESSAGE_PERMISSIONS
        )
        if missing:
            raise NotAllowed(
                f"I cannot post in {channel.mention}: I am missing {', '.join(missing)} "
                "there. Give me those permissions in that channel, or pick another one."
            )
        async with self.bot.pool.acquire() as con:
            await war_reminders.set_reminder(
                con, interaction.guild_id, chosen.tag, channel.id, hours, interaction.user.id
            )
        self.reminders.wake()
        await interaction.response.send_message(
            f"War reminder on: {hours} hour(s) before each battle day of "
            f"{literal(chosen.shown)} ends, I post in {channel.mention} the members with "
            "attacks left, mentioning those linked to a Discord account. A war whose "
            "moment has already passed when this is set is not reminded.",
            ephemeral=True,
        )

    @reminder.command(name="off", description="Stop a clan's war reminder")
    @app_commands.describe(clan="The tracked clan (may be left out when there is only one)")
    @app_commands.autocomplete(clan=clan_autocomplete)
    @manage_guild()
    async def off(self, interaction: discord.Interaction, clan: str | None = None) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            chosen = await resolve_clan(con, interaction.guild_id, clan)
            stopped = await war_reminders.turn_off(con, interaction.guild_id, chosen.tag)
        if not stopped:
            raise NoData(f"{literal(chosen.shown)} has no war reminder in this server.")
        await interaction.response.send_message(
            f"War reminder off for {literal(chosen.shown)}.", ephemeral=True
        )

    @reminder.command(name="show", description="Show this server's war reminders")
    @manage_guild()
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            rows = await war_reminders.show(con, interaction.guild_id)
        if not rows:
            raise NoData("This server has no war reminder. Set one with `/war-reminder set`.")
        lines = []
        for r in rows:
            clan = f"{literal(r['name'])} ({r['clan_tag']})" if r["name"] else r["clan_tag"]
            lines.append(
                f"• {clan}: {r['hours']} hour(s) before the end, in <#{r['channel_id']}> "
                f"(set by <@{r['set_by']}> {timestamp(r['set_at'])})"
            )
        await interaction.response.send_message("\n".join(lines)[:2000], ephemeral=True)


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(WarReminderCog(bot))
