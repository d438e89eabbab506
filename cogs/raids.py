"""/raids: a tracked clan's raid weekend (the latest, or some weeks back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import clan_autocomplete
from bot.clans import resolve_clan
from bot.command_checks import BoundedInt, in_guild
from bot.paginator import send_pages
from bot.raids.report import load_report, report_embed

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

WeeksAgo = app_commands.Transform[int, BoundedInt(0, 52)]


class RaidsCog(commands.Cog):
    # Seconds a paged answer's buttons work; tests shorten it.
    view_timeout: float = 180.0

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="raids", description="A tracked clan's raid weekend")
    @app_commands.describe(
        clan="The tracked clan (may be left out when there is only one)",
        weekend="How many weekends back (0 to 52, default 0: the latest)",
    )
    @app_commands.autocomplete(clan=clan_autocomplete)
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def raids(
        self, interaction: discord.Interaction, clan: str | None = None, weekend: WeeksAgo = 0
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            chosen = await resolve_clan(con, interaction.guild_id, clan)
            report = await load_report(con, chosen, weekend)
        await send_pages(
            interaction,
            lambda i: report_embed(report, i),
            len(report.pages),
            view_timeout=self.view_timeout,
            id_prefix="raids",
        )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(RaidsCog(bot))
