"""/leaderboard: the guild's tracked players ranked by a stat or by its gain over a period.

The ranking is computed once per command and paged in memory, so every page
of one leaderboard shows the same moment.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import leaderboards
from bot.command_checks import in_guild
from bot.embeds import timestamp
from bot.errors import NoData
from bot.leaderboard_text import PARTIAL, heading, line, signed
from bot.leaderboards import ACTIVITY_BOARDS, Board
from bot.paginator import send_pages
from bot.periods import PERIOD_LABELS, Period, Ranked, pages, rank
from bot.profile import STAT_LABELS
from bot.timeutil import utcnow
from db.model import STATS

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

STAT_CHOICES = [app_commands.Choice(name=STAT_LABELS[s], value=s) for s in STATS] + [
    app_commands.Choice(name=label, value=stat) for stat, label in ACTIVITY_BOARDS.items()
]
PERIOD_CHOICES = [app_commands.Choice(name=PERIOD_LABELS[p], value=p.value) for p in Period]
PAGE_SIZE = 10


class Leaderboard:
    """A ranked board and its pages as embeds."""

    def __init__(self, stat: str, period: Period, board: Board, ranked: list[Ranked]) -> None:
        self.stat, self.period, self.board = stat, period, board
        self.pages: list[Sequence[Ranked]] = pages(ranked, PAGE_SIZE)

    def embed(self, index: int) -> discord.Embed:
        gains = signed(self.stat, self.period)
        body = "\n".join(line(entry, gains) for entry in self.pages[index])
        since = self.board.since
        intro = f"Since {timestamp(since, 'f')}\n\n" if isinstance(since, datetime) else ""
        embed = discord.Embed(
            title=heading(self.stat, self.period),
            description=intro + body,
            colour=discord.Colour.gold(),
        )
        footer = [
            f"Page {index + 1}/{len(self.pages)}",
            f"{len(self.board.standings)} players ranked",
        ]
        if any(entry.standing.partial for entry in self.pages[index]):
            footer.append(f"{PARTIAL} tracked for less than the period: gain since tracking began")
        if self.board.pending:
            footer.append(f"{self.board.pending} without data yet")
        embed.set_footer(text=" · ".join(footer))
        return embed


class LeaderboardCog(commands.Cog):
    # Seconds a leaderboard's buttons work; tests shorten it.
    view_timeout: float = 180.0

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="leaderboard", description="Rank this server's tracked players")
    @app_commands.describe(
        stat="The stat to rank by (raid loot: latest weekend; clan games: this month)",
        period="Current value (default), or the gain over 7 days, 30 days or this season",
    )
    @app_commands.choices(stat=STAT_CHOICES, period=PERIOD_CHOICES)
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def leaderboard(
        self,
        interaction: discord.Interaction,
        stat: app_commands.Choice[str],
        period: app_commands.Choice[str] | None = None,
    ) -> None:
        # Raid loot and clan games points are counted per weekend and month already.
        chosen = Period(period.value) if period and stat.value not in ACTIVITY_BOARDS else None
        chosen = chosen or Period.CURRENT
        assert interaction.guild_id is not None  # in_guild
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            board = await leaderboards.board(
                con, interaction.guild_id, stat.value, chosen, utcnow(), interaction.user.id
            )
        if not board.tracked:
            raise NoData(
                "This server tracks no players yet. Someone with Manage Server can add them "
                "with `/track add` or `/track clan`."
            )
        if not board.standings and stat.value == "capital_looted":
            raise NoData(
                "No raid weekend is recorded for this server's tracked clans yet: raid "
                "weekends are read for tracked clans (`/track clan`) while they run."
            )
        if not board.standings:
            raise NoData(
                f"None of the {board.tracked} tracked players has data for this yet; "
                "the tracker records them shortly after they are added."
            )
        leaderboard = Leaderboard(stat.value, chosen, board, rank(board.standings))
        await send_pages(
            interaction,
            leaderboard.embed,
            len(leaderboard.pages),
            view_timeout=self.view_timeout,
            refusal="Only the person who asked for this leaderboard can turn its pages. "
            "Run `/leaderboard` yourself to browse it.",
            id_prefix="leaderboard",
        )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(LeaderboardCog(bot))
