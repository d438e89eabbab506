"""/export: a CSV file of what the bot stored for this server (bot.exports)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.command_checks import BoundedInt, in_guild
from bot.exports.kinds import KIND_LABELS, Kind
from bot.exports.service import build, make_request
from bot.timeutil import utcnow

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

KIND_CHOICES = [app_commands.Choice(name=KIND_LABELS[k], value=k.value) for k in Kind]
# Ten years: more than the bot can have stored, and far from timedelta's overflow.
Days = app_commands.Transform[int, BoundedInt(1, 3650)]


class ExportCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="export", description="Download this server's data as a CSV file")
    @app_commands.describe(
        kind="What to export",
        tag="history: the player (required); wars, raids, clangames: only this player",
        days="How many days back (1 to 3650; default: everything stored)",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.autocomplete(tag=tag_autocomplete)
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def export(
        self,
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        tag: str | None = None,
        days: Days | None = None,
    ) -> None:
        assert interaction.guild_id is not None  # in_guild
        # Options first: a wrong one is refused at once, before the command defers.
        request = make_request(kind.value, tag, days, interaction.guild_id, utcnow())
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            # The limit comes with the interaction: it depends on the server's boosts.
            export = await build(con, request, interaction.filesize_limit)
        try:
            await interaction.followup.send(
                export.summary, file=discord.File(export.file, filename=export.filename)
            )
        finally:
            export.file.close()


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(ExportCog(bot))
