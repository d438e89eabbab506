"""/war: a clan's current war, a player's war record, missed attacks, the war leaderboard."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import clan_autocomplete, tag_autocomplete
from bot.clans import resolve_clan
from bot.command_checks import BoundedInt, in_guild
from bot.errors import NoData, WarLogPrivate
from bot.paginator import send_pages
from bot.periods import pages
from bot.tags import parse_tag
from bot.timeutil import utcnow
from bot.wars.current import current_war
from bot.wars.embeds import (
    current_war_embed,
    missed_embed,
    not_in_war_text,
    player_record_embed,
    war_board_embed,
)
from bot.wars.records import METRIC_LABELS, Metric, player_record, war_board
from db import war_stats

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

METRIC_CHOICES = [app_commands.Choice(name=METRIC_LABELS[m], value=m.value) for m in Metric]
PAGE_SIZE = 15
Days = app_commands.Transform[int, BoundedInt(1, 365)]


class WarCog(commands.Cog):
    war = app_commands.Group(
        name="war", description="Clan wars and the Clan War League", guild_only=True
    )
    # Seconds a paged answer's buttons work; tests shorten it.
    view_timeout: float = 180.0

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @war.command(name="current", description="A tracked clan's current war or CWL round")
    @app_commands.describe(clan="The tracked clan (may be left out when there is only one)")
    @app_commands.autocomplete(clan=clan_autocomplete)
    @app_commands.check(in_guild)
    async def current(self, interaction: discord.Interaction, clan: str | None = None) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            chosen = await resolve_clan(con, interaction.guild_id, clan)
        await interaction.response.defer(thinking=True)
        now = utcnow()
        found = await current_war(self.bot.pool, self.bot.clash, chosen.tag, now)
        if found.war is None:
            await interaction.followup.send(not_in_war_text(chosen, found))
            return
        await interaction.followup.send(embed=current_war_embed(chosen, found, now))

    @war.command(name="player", description="A player's war record")
    @app_commands.describe(
        tag="The player's tag, like #2PP0JCCL", days="How many days back (1 to 365, default 90)"
    )
    @app_commands.autocomplete(tag=tag_autocomplete)
    @app_commands.check(in_guild)
    async def player(self, interaction: discord.Interaction, tag: str, days: Days = 90) -> None:
        wanted = parse_tag(tag)
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            record = await player_record(con, wanted, days, utcnow())
        if not record.wars:
            raise NoData(
                f"No war of `{wanted}` was recorded in the last {days} day(s). Wars are "
                "recorded for tracked clans, from when they are tracked."
            )
        await interaction.followup.send(embed=player_record_embed(record))

    @war.command(name="missed", description="Members with missed war attacks")
    @app_commands.describe(
        clan="The tracked clan (may be left out when there is only one)",
        days="How many days back (1 to 365, default 30)",
    )
    @app_commands.autocomplete(clan=clan_autocomplete)
    @app_commands.check(in_guild)
    async def missed(
        self, interaction: discord.Interaction, clan: str | None = None, days: Days = 30
    ) -> None:
        assert interaction.guild_id is not None
        since = utcnow() - timedelta(days=days)
        async with self.bot.pool.acquire() as con:
            chosen = await resolve_clan(con, interaction.guild_id, clan)
            closed = await war_stats.closed_wars(con, chosen.tag, since)
            rows = await war_stats.missed(con, chosen.tag, since)
            polled = await war_stats.war_poll(con, chosen.tag)
        if not closed["wars"]:
            if polled is not None and polled["private_since"] is not None:
                raise WarLogPrivate(chosen.tag)
            raise NoData(
                f"No war of {chosen.shown} ended in the last {days} day(s) since it is tracked."
            )
        chunks = pages(rows, PAGE_SIZE)
        await interaction.response.defer(thinking=True)
        await send_pages(
            interaction,
            lambda i: missed_embed(chosen, days, chunks[i], closed, i, len(chunks)),
            len(chunks),
            view_timeout=self.view_timeout,
            id_prefix="war-missed",
        )

    @war.command(name="leaderboard", description="Rank this server's tracked players in wars")
    @app_commands.describe(
        metric="What to rank by (default war stars)",
        days="How many days back (1 to 365, default 30)",
    )
    @app_commands.choices(metric=METRIC_CHOICES)
    @app_commands.check(in_guild)
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        metric: app_commands.Choice[str] | None = None,
        days: Days = 30,
    ) -> None:
        assert interaction.guild_id is not None
        chosen = Metric(metric.value) if metric else Metric.STARS
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            board = await war_board(
                con, interaction.guild_id, chosen, days, utcnow(), interaction.user.id
            )
        if not board.ranked:
            raise NoData(
                f"None of this server's tracked players has a recorded war in the last "
                f"{days} day(s). Wars are recorded for tracked clans."
            )
        chunks = pages(board.ranked, PAGE_SIZE)
        await send_pages(
            interaction,
            lambda i: war_board_embed(board, chunks[i], i, len(chunks)),
            len(chunks),
            view_timeout=self.view_timeout,
            refusal="Only the person who asked for this leaderboard can turn its pages. "
            "Run `/war leaderboard` yourself to browse it.",
            id_prefix="war-leaderboard",
        )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(WarCog(bot))
