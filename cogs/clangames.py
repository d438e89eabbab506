"""/clangames: a tracked clan's clan games points this month."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import clan_autocomplete
from bot.clangames.report import load_report, report_embed
from bot.clans import resolve_clan
from bot.command_checks import in_guild
from bot.paginator import send_pages
from bot.timeutil import utcnow

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot


class ClanGamesCog(commands.Cog):
    # Seconds a paged answer's buttons work; tests shorten it.
    view_timeout: float = 180.0

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="clangames", description="A tracked clan's clan games this month")
    @app_commands.describe(clan="The tracked clan (may be left out when there is only one)")
    @app_commands.autocomplete(clan=clan_autocomplete)
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def clangames(self, interaction: discord.Interaction, clan: str | None = None) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            chosen = await resolve_clan(con, interaction.guild_id, clan)
            report = await load_report(con, chosen, utcnow(), self.bot.settings.clan_games_max)
        await send_pages(
            interaction,
            lambda i: report_embed(report, i),
            len(report.pages),
            view_timeout=self.view_timeout,
            id_prefix="clangames",
        )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(ClanGamesCog(bot))
