"""Command checks that hold even for a forged interaction."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from bot.errors import UserFacingError


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


class BoundedInt(app_commands.Transformer):
    """An integer option whose ``min_value``/``max_value`` also hold at invocation.

    Discord's client enforces the bounds and discord.py trusts it: ``Range``
    checks nothing at run time. A forged interaction, or one built from a stale
    command version, can carry any integer, and ``timedelta(days=10**20)``
    overflows into an unexpected error.
    """

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.integer

    @property
    def min_value(self) -> int:
        return self.low

    @property
    def max_value(self) -> int:
        return self.high

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> int:
        # bool is an int subclass; a huge number may arrive as a float (JSON has one
        # number type and the parser may choose); neither is a valid value.
        valid = isinstance(value, int) and not isinstance(value, bool)
        if not valid or not self.low <= value <= self.high:
            raise UserFacingError(f"Choose a whole number from {self.low} to {self.high}.")
        return value
