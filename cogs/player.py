"""/player: a player's profile, stored on every lookup."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.clash import fetched_at
from bot.embeds import player_embed
from bot.profile import parse_player
from bot.tags import parse_tag
from bot.tracker.observe import record_lookup
from db import guild_tracking

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot


class PlayerCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="player", description="Show a Clash of Clans player's profile")
    @app_commands.describe(tag="The player's tag, like #2PP0JCCL")
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def player(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)  # refused before any API request
        await interaction.response.defer(thinking=True)
        raw = await self.bot.clash.get_player(canonical)
        profile = parse_player(raw)
        info = None
        async with self.bot.pool.acquire() as con:
            await record_lookup(
                con, profile, fetched_at(raw), games_max=self.bot.settings.clan_games_max
            )
            if interaction.guild_id is not None:
                info = await guild_tracking.tracking_info(con, interaction.guild_id, canonical)
        embed = player_embed(
            profile,
            tracked_since=info["added_at"] if info else None,
            last_change=info["last_event"] if info else None,
            last_change_at=info["last_event_at"] if info else None,
        )
        await interaction.followup.send(embed=embed)


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(PlayerCog(bot))
