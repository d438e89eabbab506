"""Command checks that hold even for a forged interaction."""

from __future__ import annotations

import discord
from discord import app_commands


def in_guild(interaction: discord.Interaction) -> bool:
    """``guild_only`` is only enforced by Discord's client; refuse a DM here too."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()
    return True


def manage_guild() -> app_commands.Check:  # type: ignore[type-arg]
    """Manage Server, checked at invocation (the default permission only hides the command)."""

    def predicate(interaction: discord.Interaction) -> bool:
        in_guild(interaction)
        perms = interaction.permissions
        if perms.manage_guild or perms.administrator:
            return True
        raise app_commands.MissingPermissions(["manage_guild"])

    return app_commands.check(predicate)
