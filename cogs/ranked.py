"""/ranked (the league week and the weeks before) and /battles (one day's battles)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.battles.days import parse_day
from bot.battles.ranked_report import load_ranked, ranked_embed
from bot.battles.report import day_embed, load_day
from bot.paginator import send_pages
from bot.tags import parse_tag
from bot.timeutil import utcnow
from db import players

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot


class RankedCog(commands.Cog):
    # Seconds a paged answer's buttons work; tests shorten it.
    view_timeout: float = 180.0

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="ranked", description="A player's ranked league week and results")
    @app_commands.describe(tag="The player's tag, like #2PP0JCCL")
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def ranked(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)
        await interaction.response.defer(thinking=True)
        report = await load_ranked(
            self.bot.clash,
            self.bot.pool,
            canonical,
            games_max=self.bot.settings.clan_games_max,
        )
        await interaction.followup.send(embed=ranked_embed(report))

    @app_commands.command(name="battles", description="A player's battles of one UTC day")
    @app_commands.describe(
        tag="The player's tag, like #2PP0JCCL",
        day="A UTC date like 2026-11-25, or days ago (default 0: today)",
    )
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def battles(
        self, interaction: discord.Interaction, tag: str, day: str | None = None
    ) -> None:
        canonical = parse_tag(tag)
        start = parse_day(day, utcnow())
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            name = await players.player_name(con, canonical)
            report = await load_day(con, canonical, name, start)
        await send_pages(
            interaction,
            lambda i: day_embed(report, i),
            len(report.pages),
            view_timeout=self.view_timeout,
            id_prefix="battles",
        )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(RankedCog(bot))
