"""The command tree: one place where errors become replies."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord import InteractionResponseType, app_commands

from bot.errors import DatabaseUnavailable, UserFacingError
from db.errors import is_unavailable

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

UNEXPECTED = "Something went wrong on our side. It has been logged; please try again later."
RESTARTING = "The bot is restarting. Try again in a minute."


def describe_error(error: BaseException) -> str | None:
    """The reply for an expected error, or None for a bug."""
    if isinstance(error, app_commands.CommandInvokeError | app_commands.TransformerError):
        original = error.__cause__ if isinstance(error, app_commands.TransformerError) else None
        error = getattr(error, "original", None) or original or error
        if isinstance(error, app_commands.TransformerError):
            return "One of the options has a value this command cannot use."
    if isinstance(error, UserFacingError):
        return error.message
    if is_unavailable(error):
        return DatabaseUnavailable().message
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the Manage Server permission to do this."
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server."
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down: try again in {error.retry_after:.0f} s."
    if isinstance(error, app_commands.CheckFailure):
        return "You cannot use this command here."
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return "This command has changed; Discord will show the new version shortly."
    return None


async def _drop_public_thinking(interaction: discord.Interaction) -> None:
    """Delete a public "thinking..." the command deferred with and has not replaced yet.

    Discord makes the first follow-up after a deferral the deferred message itself, with
    the deferral's visibility: an error sent as an ephemeral follow-up would be public.
    Without the thinking message, the follow-up is a message of its own, ephemeral."""
    if interaction.response.type is not InteractionResponseType.deferred_channel_message:
        return
    with contextlib.suppress(discord.HTTPException):
        original = await interaction.original_response()
        if original.flags.loading and not original.flags.ephemeral:
            await interaction.delete_original_response()


async def reply_ephemeral(interaction: discord.Interaction, message: str) -> None:
    """Reply or follow up, whichever the interaction still allows; only the user sees it."""
    try:
        if interaction.response.is_done():
            await _drop_public_thinking(interaction)
            await interaction.followup.send(message, ephemeral=True)
        else:
            await interaction.response.send_message(message, ephemeral=True)
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
        # The interaction expired or Discord is down: nothing more to tell the user.
        # (A connection error escaped on_error before: "Task exception was never retrieved".)
        log.warning(
            "could not send the error reply for interaction %s: %s: %s",
            interaction.id,
            type(exc).__name__,
            exc,
        )


class TrackerTree(app_commands.CommandTree["TrackerBot"]):
    async def _call(self, interaction: discord.Interaction[TrackerBot]) -> None:
        # discord.py runs each command (and autocomplete) as one _call in a task of its
        # own: checks, callback, error handlers. 2.7 has no public hook where a command
        # ends whatever its outcome, so this is where the stop counts what is in flight.
        with self.client.command_in_flight():
            await super()._call(interaction)

    async def interaction_check(self, interaction: discord.Interaction[TrackerBot], /) -> bool:
        if not self.client.draining:
            return True
        # Stopping: commands in flight finish, new ones do not start.
        if interaction.type is discord.InteractionType.autocomplete:
            try:
                await interaction.response.autocomplete([])
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
                pass  # it expired, or Discord is going: no suggestions either way
        else:
            command = interaction.command.qualified_name if interaction.command else "?"
            log.info("command /%s refused: the bot is stopping", command)
            await reply_ephemeral(interaction, RESTARTING)
        return False

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        message = describe_error(error)
        command = interaction.command.qualified_name if interaction.command else "?"
        if interaction.client.is_closed():
            # Shutting down: discord.py's HTTP session is closed, so no reply can be
            # sent; trying raised RuntimeError out of this handler, with a traceback.
            original = getattr(error, "original", error)
            log.warning(
                "command /%s interrupted by shutdown (%s): no reply sent",
                command,
                type(original).__name__,
            )
            return
        if message is None:
            original = getattr(error, "original", error)
            log.error(
                "command /%s failed for user %s in guild %s",
                command,
                interaction.user.id,
                interaction.guild_id,
                exc_info=(type(original), original, original.__traceback__),
            )
            message = UNEXPECTED
        else:
            log.info("command /%s refused: %s", command, type(error).__name__)
        await reply_ephemeral(interaction, message)
