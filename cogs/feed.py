"""/feed set, /feed off, /feed show; and the sender that posts the feed in the background.

The ``events`` option is a comma-separated list of kinds (or their labels),
with autocomplete that completes the last item: one option within Discord's
limits, and a whole choice typed in one go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.channels import FEED_PERMISSIONS, TextChannel, bot_permissions, missing_permissions
from bot.command_checks import manage_guild
from bot.embeds import literal, timestamp
from bot.errors import NoData, NotAllowed, UserFacingError
from bot.feed.sender import FeedSender
from bot.season_end.poster import SeasonSummaries
from bot.tracker.events import EVENT_KINDS
from db import feeds

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot


class UnknownEventKind(UserFacingError):
    def __init__(self, unknown: Sequence[str]) -> None:
        # In a code span: drop what cannot be shown there (control characters, bidi
        # overrides, the backtick that would end the span).
        printable = ["".join(c for c in k if c.isprintable() and c != "`") for k in unknown[:5]]
        shown = ", ".join(f"`{literal(k)[:30]}`" for k in printable)
        super().__init__(
            f"Unknown event kind {shown}. Use a comma-separated list of: "
            + ", ".join(EVENT_KINDS)
            + " (or leave it empty for all)."
        )


# -- the kinds filter ----------------------------------------------------------------


def _normalise(text: str) -> str:
    return "_".join(text.lower().replace("-", " ").split())


_ALIASES = {_normalise(label): kind for kind, label in EVENT_KINDS.items()} | {
    kind: kind for kind in EVENT_KINDS
}


def parse_kinds(text: str | None) -> list[str] | None:
    """The kinds named in a comma-separated list, in canonical order; None means all."""
    if text is None:
        return None
    words = [_normalise(w) for w in text.replace(";", ",").split(",")]
    words = [w for w in words if w]
    if not words or "all" in words:
        return None
    unknown = [w for w in words if w not in _ALIASES]
    if unknown:
        raise UnknownEventKind(unknown)
    chosen = {_ALIASES[w] for w in words}
    return [k for k in EVENT_KINDS if k in chosen]


def suggest_kinds(current: str) -> list[tuple[str, str]]:
    """Autocomplete for the comma-separated list: (name, value) pairs completing its last item."""
    *done, last = current.split(",") if current else [""]
    chosen = [_ALIASES[w] for w in map(_normalise, done) if w in _ALIASES]
    prefix = "".join(f"{k}, " for k in chosen)
    needle = _normalise(last)
    out: list[tuple[str, str]] = []
    if not chosen and "all".startswith(needle):
        out.append(("all (every kind of change)", "all"))
    for kind, label in EVENT_KINDS.items():
        if kind in chosen or (needle and needle not in kind and needle not in _normalise(label)):
            continue
        value = prefix + kind
        if len(value) <= 100:
            out.append((f"{value} ({label})"[:100], value))
    return out[:25]


def describe_kinds(kinds: Sequence[str] | None) -> str:
    if kinds is None:
        return "all changes"
    return ", ".join(EVENT_KINDS.get(k, k) for k in kinds)


class FeedCog(commands.Cog):
    feed = app_commands.Group(
        name="feed",
        description="Post this server's tracked changes to a channel",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        self.sender = FeedSender(bot)
        # Season-end summaries go to the feed channel.
        self.summaries = SeasonSummaries(bot)

    async def cog_load(self) -> None:
        self.sender.start()
        self.summaries.start()

    async def cog_unload(self) -> None:
        await self.summaries.stop()
        await self.sender.stop()

    @feed.command(name="set", description="Post this server's tracked changes to a channel")
    @app_commands.describe(
        channel="The channel to post in",
        events="Only these kinds of change, comma-separated (leave empty for all)",
    )
    @manage_guild()
    async def set_feed(
        self, interaction: discord.Interaction, channel: TextChannel, events: str | None = None
    ) -> None:
        assert interaction.guild is not None and interaction.guild_id is not None
        kinds = parse_kinds(events)
        missing = missing_permissions(
            await bot_permissions(self.bot, interaction.guild, channel), FEED_PERMISSIONS
        )
        if missing:
            raise NotAllowed(
                f"I cannot post in {channel.mention}: I am missing "
                f"{', '.join(missing)} there. Give me those permissions in that channel, "
                "or pick another one."
            )
        async with self.bot.pool.acquire() as con:
            await feeds.set_feed(con, interaction.guild_id, channel.id, kinds, interaction.user.id)
        await interaction.response.send_message(
            f"Feed on: posting {describe_kinds(kinds)} of this server's tracked players "
            f"to {channel.mention}.",
            ephemeral=True,
        )

    @set_feed.autocomplete("events")
    async def events_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=n, value=v) for n, v in suggest_kinds(current)]

    @feed.command(name="off", description="Stop posting this server's tracked changes")
    @manage_guild()
    async def off(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            stopped = await feeds.turn_off(
                con,
                interaction.guild_id,
                f"Turned off with /feed off by <@{interaction.user.id}>.",
                interaction.user.id,
            )
        if not stopped:
            raise NoData("This server's feed is already off. Start it with /feed set.")
        await interaction.response.send_message(
            "Feed off. Changes waiting to be posted were dropped.", ephemeral=True
        )

    @feed.command(name="show", description="Show where and what this server's feed posts")
    @manage_guild()
    async def show(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            feed = await feeds.get_feed(con, interaction.guild_id)
        if feed is None:
            raise NoData("This server has no feed. Start one with /feed set.")
        lines = [
            f"Channel: <#{feed.channel_id}>",
            f"Events: {describe_kinds(feed.kinds)}",
        ]
        if feed.enabled:
            lines.insert(0, "Feed: **on**")
            lines.append(f"Waiting to be posted: {feed.pending}")
        else:
            since = f" {timestamp(feed.disabled_at)}" if feed.disabled_at else ""
            lines.insert(0, f"Feed: **off**{since}")
            lines.append(f"Why: {feed.disabled_reason or 'turned off'}")
            lines.append("Start it again with /feed set.")
        lines.append(f"Last changed by <@{feed.updated_by}> {timestamp(feed.updated_at)}")
        await interaction.response.send_message("\n".join(lines), ephemeral=True)


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(FeedCog(bot))
