"""/inactive: tracked players with no sign of play for some days."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import clan_autocomplete
from bot.clans import resolve_clan
from bot.command_checks import BoundedInt, in_guild
from bot.errors import NoData
from bot.inactivity import load_report, report_embed
from bot.paginator import send_pages
from bot.timeutil import utcnow

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

Days = app_commands.Transform[int, BoundedInt(1, 365)]


class InactiveCog(commands.Cog):
    # Seconds a paged answer's buttons work; tests shorten it.
    view_timeout: float = 180.0

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="inactive", description="Tracked players with no sign of play for some days"
    )
    @app_commands.describe(
        days="Inactive for at least this many days (1 to 365, default 7)",
        clan="Only the members of this tracked clan",
    )
    @app_commands.autocomplete(clan=clan_autocomplete)
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def inactive(
        self, interaction: discord.Interaction, days: Days = 7, clan: str | None = None
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            # A clan is a filter here: without one, every tracked player.
            chosen = await resolve_clan(con, interaction.guild_id, clan) if clan else None
            report = await load_report(con, interaction.guild_id, days, chosen, utcnow())
        if not report.tracked:
            raise NoData(
                "This server tracks no players yet"
                + (f" in {chosen.shown}" if chosen else "")
                + ". Someone with Manage Server can add them with `/track add` or `/track clan`."
            )
        await send_pages(
            interaction,
            lambda i: report_embed(report, i),
            len(report.pages),
            view_timeout=self.view_timeout,
            id_prefix="inactive",
        )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(InactiveCog(bot))
