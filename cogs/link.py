"""/link, /unlink, /accounts and /link-settings: who owns which account."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.clash import fetched_at
from bot.command_checks import manage_guild
from bot.embeds import literal
from bot.errors import LimitReached, NoData, NotAllowed
from bot.limits import MAX_LINKS_PER_USER, MAX_TRACKED_PLAYERS
from bot.profile import parse_player
from bot.tags import parse_tag
from bot.tracker.observe import record_lookup
from db import guild_tracking, links, roles
from db.guild_tracking import Tracked
from db.links import LinkSaved

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

VERIFIED = "✅"


class LinkCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    def _roles_changed(self) -> None:
        """A link changed (the database queued its owner's role sync): sync now."""
        if self.bot.role_sync is not None:
            self.bot.role_sync.wake()

    @app_commands.command(name="link", description="Link a Clash of Clans account to yourself")
    @app_commands.describe(
        tag="Your player tag, like #2PP0JCCL",
        token="Your in-game API token (Settings > More Settings > API token), to verify",
    )
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def link(
        self, interaction: discord.Interaction, tag: str, token: str | None = None
    ) -> None:
        canonical = parse_tag(tag)
        token = token.strip() if token else None
        if token is not None and not (1 <= len(token) <= 64 and token.isprintable()):
            raise NotAllowed("That API token is not valid. Copy it again from the game.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        user_id = interaction.user.id
        async with self.bot.pool.acquire() as con:
            existing = await links.get_link(con, canonical)
            required = (
                await links.require_verified(con, interaction.guild_id)
                if interaction.guild_id
                else False
            )
            count = await links.count_user_links(con, user_id)
        if (
            existing is not None
            and existing["user_id"] == user_id
            and (existing["verified"] or token is None)
        ):
            raise NotAllowed(f"`{canonical}` is already linked to you.")
        if existing is not None and existing["user_id"] != user_id and token is None:
            raise NotAllowed(
                f"`{canonical}` is linked to another user. To take it over, prove it is "
                "yours: `/link` it again with its in-game API token."
            )
        if required and token is None:
            raise NotAllowed(
                "This server only accepts verified links: add your in-game API token "
                "(Settings > More Settings > API token)."
            )
        if existing is None and count >= MAX_LINKS_PER_USER:
            raise LimitReached(f"You already have {count} linked accounts, the most allowed.")

        raw = await self.bot.clash.get_player(canonical)
        profile = parse_player(raw)
        verified = False
        if token is not None:
            verified = await self.bot.clash.verify_token(canonical, token)
            if not verified:
                raise NotAllowed(
                    f"That API token does not belong to `{canonical}` (tokens are single use: "
                    "get a fresh one in the game). Nothing was linked."
                )
        tracked_note = ""
        async with self.bot.pool.acquire() as con:
            async with con.transaction():
                saved = await links.save_link(
                    con, canonical, user_id, verified, limit=MAX_LINKS_PER_USER
                )
                if saved is LinkSaved.FULL:
                    raise LimitReached(
                        f"You already have {MAX_LINKS_PER_USER} linked accounts, the most allowed."
                    )
                if saved is LinkSaved.TAKEN:
                    raise NotAllowed(
                        f"`{canonical}` was just linked to another user. To take it over, "
                        "`/link` it again with its in-game API token."
                    )
                await record_lookup(
                    con, profile, fetched_at(raw), games_max=self.bot.settings.clan_games_max
                )
            if interaction.guild_id is not None:
                result = await guild_tracking.track_player(
                    con, interaction.guild_id, canonical, user_id, limit=MAX_TRACKED_PLAYERS
                )
                if result is Tracked.FULL:
                    tracked_note = " This server tracks the most players allowed, so it is not."
                else:
                    tracked_note = " It is now tracked in this server."
        self._roles_changed()
        mark = f" {VERIFIED} verified" if verified else " (not verified)"
        await interaction.followup.send(
            f"Linked **{literal(profile.name)}** (`{canonical}`) to you{mark}.{tracked_note}",
            ephemeral=True,
        )

    @app_commands.command(name="unlink", description="Remove one of your linked accounts")
    @app_commands.describe(tag="The player tag to unlink")
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def unlink(self, interaction: discord.Interaction, tag: str) -> None:
        canonical = parse_tag(tag)
        async with self.bot.pool.acquire() as con:
            if await links.delete_link(con, canonical, interaction.user.id):
                self._roles_changed()
                await interaction.response.send_message(f"Unlinked `{canonical}`.", ephemeral=True)
                return
            existing = await links.get_link(con, canonical)
        if existing is None:
            raise NoData(f"`{canonical}` is not linked to anyone.")
        raise NotAllowed(f"`{canonical}` is linked to another user; only they can unlink it.")

    @app_commands.command(name="accounts", description="Show the accounts linked to a user")
    @app_commands.describe(user="Whose accounts (default: yours)")
    async def accounts(
        self, interaction: discord.Interaction, user: discord.User | None = None
    ) -> None:
        target = user or interaction.user
        async with self.bot.pool.acquire() as con:
            rows = await links.user_links(con, target.id)
        if not rows:
            whose = "You have" if target.id == interaction.user.id else "That user has"
            raise NoData(f"{whose} no linked accounts. Link one with `/link`.")
        lines = []
        for row in rows:
            name = literal(row["name"]) if row["name"] else "?"
            th = f" TH{row['town_hall']}" if row["town_hall"] else ""
            mark = f" {VERIFIED}" if row["verified"] else ""
            lines.append(f"**{name}** `{row['tag']}`{th}{mark}")
        embed = discord.Embed(
            title=f"Accounts of {literal(getattr(target, 'display_name', None) or str(target.id))}",
            description="\n".join(lines),
            colour=discord.Colour.blue(),
        )
        embed.set_footer(text=f"{VERIFIED} verified with the in-game API token")
        await interaction.response.send_message(embed=embed)

    @app_commands.command(
        name="link-settings", description="Choose whether this server accepts unverified links"
    )
    @app_commands.describe(require_verified="Accept only links verified with the API token")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    @manage_guild()
    async def link_settings(self, interaction: discord.Interaction, require_verified: bool) -> None:
        assert interaction.guild_id is not None
        async with self.bot.pool.acquire() as con:
            await links.set_require_verified(con, interaction.guild_id, require_verified)
            await roles.pass_now(con, interaction.guild_id)
        self._roles_changed()
        state = "only verified links" if require_verified else "verified and unverified links"
        await interaction.response.send_message(f"This server now accepts {state}.", ephemeral=True)


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(LinkCog(bot))
