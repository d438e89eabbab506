"""Channel options, and whether the bot may post in a channel (the feed, reminders, boards)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord
from discord import app_commands

# What posting an embed needs; a plain message needs the first two.
FEED_PERMISSIONS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
}
MESSAGE_PERMISSIONS = {"view_channel": "View Channel", "send_messages": "Send Messages"}


def missing_permissions(
    permissions: discord.Permissions, required: Mapping[str, str] = FEED_PERMISSIONS
) -> list[str]:
    return [name for attr, name in required.items() if not getattr(permissions, attr)]


class TextChannelOption(app_commands.Transformer):
    """A text or announcement channel, as Discord resolved it (no cache needed)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        return [discord.ChannelType.text, discord.ChannelType.news]

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> Any:
        if not isinstance(value, app_commands.AppCommandChannel):
            raise app_commands.TransformerError(value, self.type, self)
        return value


TextChannel = app_commands.Transform[app_commands.AppCommandChannel, TextChannelOption]


async def bot_permissions(
    client: discord.Client, guild: discord.Guild, channel: app_commands.AppCommandChannel
) -> discord.Permissions:
    """The bot's own permissions in ``channel`` (none for a channel of another guild or
    of another kind)."""
    # The option's own "permissions" are the invoking user's, not the bot's.
    target = channel.resolve()
    if target is None:
        try:
            target = await channel.fetch()
        except (discord.NotFound, discord.Forbidden):
            return discord.Permissions.none()
    # Discord offers only this server's text and news channels here; a forged
    # interaction can name any channel (a voice channel, another server's), and the
    # bot must not post there.
    if not isinstance(target, discord.TextChannel) or target.guild.id != guild.id:
        return discord.Permissions.none()
    me = guild.me
    if me is None:
        assert client.user is not None
        me = await guild.fetch_member(client.user.id)
    return target.permissions_for(me)
