"""/export: a CSV file of what the bot stored for this server (bot.exports)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.command_checks import BoundedInt, in_guild
from bot.errors import LimitReached, UserFacingError
from bot.exports.csv_file import human_size
from bot.exports.kinds import KIND_LABELS, Kind
from bot.exports.service import ExportRequest, build, make_request
from bot.timeutil import utcnow

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

REQUEST_TOO_LARGE = 40005  # Discord's code for an upload over the limit
KIND_CHOICES = [app_commands.Choice(name=KIND_LABELS[k], value=k.value) for k in Kind]
# Ten years: more than the bot can have stored, and far from timedelta's overflow.
Days = app_commands.Transform[int, BoundedInt(1, 3650)]


class ExportCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot
        # Servers with an export being made: one at a time each (a file can be 100 MiB,
        # and each holds a database connection while it streams).
        self._busy: set[int] = set()

    @app_commands.command(name="export", description="Download this server's data as a CSV file")
    @app_commands.describe(
        kind="What to export",
        tag="history: the player (required); wars, raids, clangames: only this player",
        days="How many days back (1 to 3650; default: everything stored)",
    )
    @app_commands.choices(kind=KIND_CHOICES)
    @app_commands.autocomplete(tag=tag_autocomplete)
    @app_commands.guild_only()
    @app_commands.check(in_guild)
    async def export(
        self,
        interaction: discord.Interaction,
        kind: app_commands.Choice[str],
        tag: str | None = None,
        days: Days | None = None,
    ) -> None:
        assert interaction.guild_id is not None  # in_guild
        # Options first: a wrong one is refused at once, before the command defers.
        request = make_request(kind.value, tag, days, interaction.guild_id, utcnow())
        if interaction.guild_id in self._busy:
            raise LimitReached(
                "An export for this server is being made right now; ask again when it is out."
            )
        self._busy.add(interaction.guild_id)
        try:
            await self._export(interaction, request)
        finally:
            self._busy.discard(interaction.guild_id)

    async def _export(self, interaction: discord.Interaction, request: ExportRequest) -> None:
        await interaction.response.defer(thinking=True)
        async with self.bot.pool.acquire() as con:
            # The limit comes with the interaction: it depends on the server's boosts.
            export = await build(con, request, interaction.filesize_limit)
        try:
            await interaction.followup.send(
                export.summary, file=discord.File(export.file, filename=export.filename)
            )
        except discord.HTTPException as exc:
            # Discord's own size check (its limit may have dropped since the command
            # began, with a boost gone): said as such, not as a bug.
            if exc.status == 413 or exc.code == REQUEST_TOO_LARGE:
                raise UserFacingError(
                    f"Discord refused the {human_size(export.size)} file as too large (the "
                    "server's upload limit may have changed since you asked), so nothing "
                    "was sent. Ask for fewer `days`, or one player with `tag`."
                ) from exc
            raise
        except (aiohttp.ClientError, OSError) as exc:
            raise UserFacingError(
                f"The upload of the {human_size(export.size)} file failed (a network "
                "error). If no file appears here, ask again."
            ) from exc
        finally:
            export.file.close()


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(ExportCog(bot))
