"""/board add, remove, list; the refresher that keeps boards current; the gateway events
that tell it a board's message or channel is gone."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import asyncpg
import discord
from discord import app_commands
from discord.ext import commands

from bot.boards import messages
from bot.boards.refresher import BoardRefresher
from bot.boards.render import every
from bot.channels import FEED_PERMISSIONS, TextChannel, bot_permissions, missing_permissions
from bot.command_checks import manage_guild
from bot.embeds import timestamp
from bot.errors import LimitReached, NoData, NotAllowed
from bot.leaderboard_text import heading
from bot.leaderboards import ACTIVITY_BOARDS
from bot.limits import MAX_BOARDS
from bot.periods import PERIOD_LABELS, Period
from bot.profile import STAT_LABELS
from db import boards
from db.model import STATS

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

DB_TROUBLE = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
STAT_CHOICES = [app_commands.Choice(name=STAT_LABELS[s], value=s) for s in STATS] + [
    app_commands.Choice(name=label, value=stat) for stat, label in ACTIVITY_BOARDS.items()
]
PERIOD_CHOICES = [app_commands.Choice(name=PERIOD_LABELS[p], value=p.value) for p in Period]


def board_title(stat: str, period: str) -> str:
    return heading(stat, Period(period))


class BoardCog(commands.Cog):
    board = app_commands.Group(
        name="board",
        description="Leaderboards the bot keeps current in a channel",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        self.refresher = BoardRefresher(bot)

    async def cog_load(self) -> None:
        self.refresher.start()

    async def cog_unload(self) -> None:
        await self.refresher.stop()

    @board.command(name="add", description="Post a leaderboard that updates itself")
    @app_commands.describe(
        stat="The stat to rank by (raid loot: latest weekend; clan games: this month)",
        channel="The channel to keep it in",
        period="Current value (default), or the gain over 7 days, 30 days or this season",
    )
    @app_commands.choices(stat=STAT_CHOICES, period=PERIOD_CHOICES)
    @manage_guild()
    async def add(
        self,
        interaction: discord.Interaction,
        stat: app_commands.Choice[str],
        channel: TextChannel,
        period: app_commands.Choice[str] | None = None,
    ) -> None:
        assert interaction.guild is not None and interaction.guild_id is not None
        # Raid loot and clan games points are counted per weekend and month already.
        chosen = Period(period.value) if period and stat.value not in ACTIVITY_BOARDS else None
        chosen = chosen or Period.CURRENT
        missing = missing_permissions(
            await bot_permissions(self.bot, interaction.guild, channel), FEED_PERMISSIONS
        )
        if missing:
            raise NotAllowed(
                f"I cannot post in {channel.mention}: I am missing {', '.join(missing)} "
                "there. Give me those permissions in that channel, or pick another one."
            )
        async with self.bot.pool.acquire() as con:
            try:
                added = await boards.add(
                    con,
                    interaction.guild_id,
                    channel.id,
                    stat.value,
                    chosen.value,
                    interaction.user.id,
                    MAX_BOARDS,
                )
            except boards.TooManyBoards as exc:
                raise LimitReached(
                    f"This server has {exc.limit} boards, the most it may have. Remove one "
                    "with `/board remove` first (`/board list` shows them)."
                ) from None
        self.refresher.board_added(channel.id)
        title = board_title(stat.value, chosen.value)
        verb = "added" if added.inserted else "changed (and on again)"
        await interaction.response.send_message(
            f"Board {verb}: **{title}** in {channel.mention}. I post it there in a moment "
            f"and update it every {every(self.bot.settings.board_refresh_seconds)} when it "
            "changes.",
            ephemeral=True,
        )

    @board.command(name="remove", description="Stop and delete a board")
    @app_commands.describe(stat="The board's stat", channel="The board's channel")
    @app_commands.choices(stat=STAT_CHOICES)
    @manage_guild()
    async def remove(
        self,
        interaction: discord.Interaction,
        stat: app_commands.Choice[str],
        channel: TextChannel,
    ) -> None:
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True)  # the message's delete may wait
        async with self.bot.pool.acquire() as con:
            removed = await boards.remove(con, interaction.guild_id, channel.id, stat.value)
        if removed is None:
            raise NoData(
                f"There is no {STAT_LABELS.get(stat.value) or ACTIVITY_BOARDS[stat.value]} "
                f"board in {channel.mention}. `/board list` shows this server's boards."
            )
        note = ""
        if removed.message_id is not None:
            if await messages.delete(self.bot.http, channel.id, removed.message_id):
                note = " Its message was deleted."
            else:
                note = " I could not delete its message; delete it yourself if you like."
        await interaction.followup.send(f"Board removed.{note}", ephemeral=True)

    @board.command(name="list", description="This server's boards and how they are doing")
    @manage_guild()
    async def list_boards(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            rows = await boards.list_boards(con, interaction.guild_id)
        if not rows:
            raise NoData("This server has no boards. Add one with `/board add`.")
        lines = []
        for r in rows:
            title = board_title(r["stat"], r["period"])
            head = f"**{title}** in <#{r['channel_id']}>"
            if r["disabled_at"] is not None:
                lines.append(
                    f"⛔ {head}: **off** since {timestamp(r['disabled_at'])}. "
                    f"{r['disabled_reason']} `/board add` turns it on again."
                )
                continue
            if r["message_id"] is None:
                state = "being posted"
            else:
                link = (
                    f"https://discord.com/channels/{interaction.guild_id}/"
                    f"{r['channel_id']}/{r['message_id']}"
                )
                refreshed = r["refreshed_at"]
                state = f"[message]({link})" + (
                    f", refreshed {timestamp(refreshed)}" if refreshed else ""
                )
            trouble = f" ({r['failures']} failed tries, retrying)" if r["failures"] else ""
            lines.append(f"✅ {head}: {state}{trouble}")
        footer = (
            f"\n\n{len(rows)} of {MAX_BOARDS} boards · each is re-rendered every "
            f"{every(self.bot.settings.board_refresh_seconds)} and edited only when it changed"
        )
        embed = discord.Embed(
            title="Boards", description="\n".join(lines) + footer, colour=discord.Colour.gold()
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # -- what the gateway says

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        self.refresher.new_session()

    @commands.Cog.listener()
    async def on_shard_ready(self, shard_id: int) -> None:
        # Sharded, one shard's new session (a reconnect that could not resume) fires no
        # on_ready once the process is up: the deletes it missed are found the same way.
        self.refresher.new_session()

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._messages_gone(payload.channel_id, [payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        if payload.guild_id is not None:
            await self._messages_gone(payload.channel_id, list(payload.message_ids))

    async def _messages_gone(self, channel_id: int, message_ids: list[int]) -> None:
        # Missed (the database away): the refresher's fetch finds it later.
        with contextlib.suppress(*DB_TROUBLE):
            await self.refresher.messages_deleted(channel_id, message_ids)

    @commands.Cog.listener()
    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        # Its boards go with it (their messages did); Discord would offer no deleted
        # channel to /board remove.
        with contextlib.suppress(*DB_TROUBLE):
            async with self.bot.pool.acquire() as con:
                if await boards.delete_channel(con, channel.guild.id, channel.id):
                    log.info("boards of deleted channel %s removed", channel.id)

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        with contextlib.suppress(*DB_TROUBLE):
            async with self.bot.pool.acquire() as con:
                await boards.disable_guild(con, guild.id, "I was removed from this server.")


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(BoardCog(bot))
