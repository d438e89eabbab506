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
