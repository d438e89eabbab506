"""/track: the guild's tracked players and clans."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.clash import fetched_at
from bot.command_checks import in_guild, manage_guild
from bot.embeds import literal
from bot.errors import LimitReached, NoData
from bot.limits import MAX_TRACKED_CLANS, MAX_TRACKED_PLAYERS
from bot.paginator import send_pages
from bot.profile import parse_player
from bot.tags import parse_tag
from bot.tracker.observe import record_clan, record_lookup
from db import guild_tracking
from db.guild_tracking import Tracked

if TYPE_CHECKING:
    import asyncpg

    from bot.discord_bot import TrackerBot

PAGE_SIZE = 20


def _players_full() -> LimitReached:
    return LimitReached(
        f"This server already tracks {MAX_TRACKED_PLAYERS} players, the most allowed. "
        "Remove some with `/track remove` first."
    )


def _clans_full() -> LimitReached:
    return LimitReached(
        f"This server already tracks {MAX_TRACKED_CLANS} clans, the most allowed. "
        "Remove one with `/track clan-remove` first."
    )


def _player_line(row: asyncpg.Record) -> str:
    name = literal(row["name"]) if row["name"] else "(not polled yet)"
    how = []
    if row["via_clan"]:
        how.append(f"via {row['via_clan']}")
    if row["gone_at"]:
        how.append("account gone")
    extra = f" ({', '.join(how)})" if how else ""
    th = f" TH{row['town_hall']}" if row["town_hall"] else ""
    return f"**{name}** `{row['tag']}`{th}{extra}"


async def send_tracked_list(bot: TrackerBot, interaction: discord.Interaction) -> None:
    """The guild's tracked players and clans, paged (``/track list`` and ``/tracked``)."""
    assert interaction.guild_id is not None
    await interaction.response.defer(thinking=True)
    async with bot.pool.acquire() as con:
        rows = await guild_tracking.guild_players(con, interaction.guild_id)
        clans = await guild_tracking.guild_clans(con, interaction.guild_id)
    if not rows and not clans:
        raise NoData("This server tracks nobody yet. Start with `/track add` or `/track clan`.")
    lines = [_player_line(r) for r in rows]
    clan_text = ", ".join(
        f"{literal(c['name']) if c['name'] else '?'} `{c['clan_tag']}`" for c in clans
    )
    pages = max(1, -(-len(lines) // PAGE_SIZE))

    def render(index: int) -> discord.Embed:
        chunk = lines[index * PAGE_SIZE : (index + 1) * PAGE_SIZE]
        embed = discord.Embed(
            title=f"Tracked players ({len(lines)})",
            description="\n".join(chunk) or "No players yet.",
            colour=discord.Colour.green(),
        )
        if clan_text:
            embed.add_field(name=f"Tracked clans ({len(clans)})", value=clan_text[:1024])
        embed.set_footer(text=f"Page {index + 1}/{pages}")
        return embed

    await send_pages(interaction, render, pages)


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class TrackGroup(app_commands.Group, name="track", description="This server's tracked players"):
    def __init__(self, bot: TrackerBot) -> None:
        super().__init__()
        self.bot = bot

    @app_commands.command(name="add", description="Track a player in this server")
    @app_commands.describe(tag="The player's tag, like #2PP0JCCL")
    @app_commands.autocomplete(tag=tag_autocomplete)
    @manage_guild()
    async def add(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)
        guild_id = interaction.guild_id
        assert guild_id is not None
        # A quick check first, so a full server costs no API request; the one that
        # counts runs under the server's lock below.
        async with self.bot.pool.acquire() as con:
            count = await guild_tracking.count_guild_players(con, guild_id)
        if count >= MAX_TRACKED_PLAYERS:
            raise _players_full()
        await interaction.response.defer(thinking=True)
        raw = await self.bot.clash.get_player(canonical)
        profile = parse_player(raw)
        async with self.bot.pool.acquire() as con, con.transaction():
            # One transaction: a database outage here leaves nothing half done, and
            # the limit is checked under the guild's lock.
            result = await guild_tracking.track_player(
                con, guild_id, canonical, interaction.user.id, limit=MAX_TRACKED_PLAYERS
            )
            if result is Tracked.FULL:
                raise _players_full()
            await record_lookup(
                con, profile, fetched_at(raw), games_max=self.bot.settings.clan_games_max
            )
        name = literal(profile.name)
        if result is Tracked.NEW:
            message = f"Now tracking **{name}** (`{canonical}`)."
        else:
            message = f"**{name}** (`{canonical}`) was already tracked here."
        await interaction.followup.send(message)

    @app_commands.command(name="remove", description="Stop tracking a player in this server")
    @app_commands.describe(tag="The player's tag")
    @app_commands.autocomplete(tag=tag_autocomplete)
    @manage_guild()
    async def remove(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            result = await guild_tracking.untrack_player(con, interaction.guild_id, canonical)
        if result is None:
            raise NoData(f"`{canonical}` is not tracked directly in this server.")
        if result == "clan":
            message = (
                f"`{canonical}` is no longer tracked on its own, but stays tracked as a "
                "member of a tracked clan."
            )
        else:
            message = f"Stopped tracking `{canonical}`. Its history is kept."
        await interaction.response.send_message(message)

    @app_commands.command(name="list", description="List the players and clans tracked here")
    @app_commands.check(in_guild)
    async def list_(self, interaction: discord.Interaction) -> None:
        await send_tracked_list(self.bot, interaction)

    @app_commands.command(
        name="clan", description="Track every member of a clan, following joins and leaves"
    )
    @app_commands.describe(tag="The clan's tag")
    @manage_guild()
    async def clan(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)
        guild_id = interaction.guild_id
        assert guild_id is not None
        async with self.bot.pool.acquire() as con:
            clans = await guild_tracking.count_guild_clans(con, guild_id)
        if clans >= MAX_TRACKED_CLANS:
            raise _clans_full()
        await interaction.response.defer(thinking=True)
        data = await self.bot.clash.get_clan(canonical)
        members = [m for m in data.get("memberList") or () if isinstance(m, dict)]
        name = data.get("name") if isinstance(data.get("name"), str) else None
        async with self.bot.pool.acquire() as con, con.transaction():
            result = await guild_tracking.track_clan(
                con, guild_id, canonical, name, interaction.user.id, limit=MAX_TRACKED_CLANS
            )
            if result is Tracked.FULL:
                raise _clans_full()
            players = await guild_tracking.count_guild_players(con, guild_id)
            if result is Tracked.NEW and players + len(members) > MAX_TRACKED_PLAYERS:
                raise LimitReached(
                    f"Tracking this clan's {len(members)} members would take this server past "
                    f"{MAX_TRACKED_PLAYERS} tracked players."
                )
            # Record the membership now, so members show up at once.
            await record_clan(con, canonical, data, fetched_at(data))
        new = result is Tracked.NEW
        shown = literal(name) if name else canonical
        if new:
            message = (
                f"Now tracking **{shown}** (`{canonical}`) and its {len(members)} members; "
                "joins and leaves are followed."
            )
        else:
            message = f"**{shown}** (`{canonical}`) was already tracked here."
        await interaction.followup.send(message)

    @app_commands.command(name="clan-remove", description="Stop tracking a clan in this server")
    @app_commands.describe(tag="The clan's tag")
    @manage_guild()
    async def clan_remove(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            removed = await guild_tracking.untrack_clan(con, interaction.guild_id, canonical)
        if not removed:
            raise NoData(f"The clan `{canonical}` is not tracked in this server.")
        await interaction.response.send_message(
            f"Stopped tracking the clan `{canonical}`. Members tracked on their own stay tracked."
        )


class TrackCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        self.group = TrackGroup(bot)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.group)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.group.name)

    # Discord's default permission covers a whole top-level command, so /track (for
    # Manage Server) hides /track list from members; /tracked shows them the list.
    @app_commands.command(name="tracked", description="List the players and clans tracked here")
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def tracked(self, interaction: discord.Interaction) -> None:
        await send_tracked_list(self.bot, interaction)


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(TrackCog(bot))
