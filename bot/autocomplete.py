"""Autocomplete for every ``tag`` option: the user's links first, then the guild's players."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands

from bot.tags import normalise_tag
from db import guild_tracking

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)


async def tag_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    bot = cast("TrackerBot", interaction.client)
    # PostgreSQL text cannot hold NUL: the query would fail on every keystroke after one.
    text = current.replace("\x00", "").strip()[:50]
    tag_part = normalise_tag(text)[1:] if text else ""
    try:
        async with bot.pool.acquire(timeout=2.0) as con:
            rows = await guild_tracking.autocomplete_tags(
                con, interaction.user.id, interaction.guild_id, tag_part, text
            )
    except Exception as exc:  # autocomplete must answer within 3 s, whatever happened
        log.warning("tag autocomplete failed: %s", type(exc).__name__)
        return []
    choices = []
    for row in rows:
        label = f"{row['name']} ({row['tag']})" if row["name"] else row["tag"]
        choices.append(app_commands.Choice(name=label[:100], value=row["tag"]))
    return choices


async def clan_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    """The guild's tracked clans, matched on tag or name."""
    bot = cast("TrackerBot", interaction.client)
    if interaction.guild_id is None:
        return []
    text = current.replace("\x00", "").strip()[:50].casefold()
    try:
        async with bot.pool.acquire(timeout=2.0) as con:
            clans = await guild_tracking.guild_clans(con, interaction.guild_id)
    except Exception as exc:  # autocomplete must answer within 3 s, whatever happened
        log.warning("clan autocomplete failed: %s", type(exc).__name__)
        return []
    choices = []
    for clan in clans:
        label = f"{clan['name']} ({clan['clan_tag']})" if clan["name"] else clan["clan_tag"]
        if not text or text in label.casefold():
            choices.append(app_commands.Choice(name=label[:100], value=clan["clan_tag"]))
    return choices[:25]
