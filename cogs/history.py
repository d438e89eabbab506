"""/history (a chart of one stat over time) and /progress (what changed, stat by stat)."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.autocomplete import tag_autocomplete
from bot.battles.report import load_loot, loot_field
from bot.charts import render_history
from bot.command_checks import BoundedInt
from bot.embeds import literal, timestamp
from bot.errors import NoData
from bot.periods import Series, build_series, gain_column, is_counter
from bot.profile import STAT_LABELS
from bot.tags import parse_tag
from bot.timeutil import utcnow
from bot.tracker.seasons import season_start, season_starts_between
from db import history
from db.model import STATS, HistoryPoint

if TYPE_CHECKING:
    from bot.discord_bot import TrackerBot

log = logging.getLogger(__name__)

STAT_CHOICES = [app_commands.Choice(name=STAT_LABELS[s], value=s) for s in STATS]
CHART_NAME = "history.png"
COUNTER_NOTE = (
    "Donation counters reset at each season end and when a player leaves a clan; "
    "changes here add up across the resets."
)
POLLING_NOTE = "Ups and downs between two polls that cancel out are not seen."


def signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _who(name: str | None, tag: str) -> str:
    return f"{literal(name)} ({tag})" if name else tag


def history_embed(
    name: str | None, tag: str, stat: str, days: int, series: Series, season_marks: int
) -> discord.Embed:
    label = STAT_LABELS[stat]
    if series.partial:
        span = f"since tracking began {timestamp(series.start, 'D')} (less than {days} days)"
    else:
        span = f"over the last {days} day{'s' if days != 1 else ''}"
    embed = discord.Embed(
        title=f"{label}: {_who(name, tag)}",
        description=f"{label} {span}.",
        colour=discord.Colour.blue(),
    )
    so_far = " (season so far)" if is_counter(stat) else ""
    embed.add_field(name=f"Start{so_far}", value=f"{series.start_value:,}")
    embed.add_field(name=f"Now{so_far}", value=f"{series.end_value:,}")
    if is_counter(stat):
        change = "Given in period" if stat == "donations" else "Received in period"
        embed.add_field(name=change, value=f"{series.change:,}")
    else:
        embed.add_field(name="Change", value=signed(series.change))
    embed.add_field(name=f"Best{so_far}", value=f"{series.best:,}")
    embed.set_image(url=f"attachment://{CHART_NAME}")
    notes = [COUNTER_NOTE] if is_counter(stat) else []
    if season_marks:
        notes.append("Dashed lines mark season starts.")
    notes.append(POLLING_NOTE)
    embed.set_footer(text=" ".join(notes))
    return embed


def progress_embed(
    name: str,
    tag: str,
    days: int,
    start: datetime,
    now: history.Snapshot,
    base: history.Snapshot,
) -> discord.Embed:
    partial = base.at > start
    if partial:
        span = f"Since tracking began {timestamp(base.at, 'f')} (less than {days} days ago)"
    else:
        span = f"Last {days} day{'s' if days != 1 else ''}, since {timestamp(start, 'f')}"
    embed = discord.Embed(
        title=f"Progress: {_who(name, tag)}", description=span, colour=discord.Colour.green()
    )
    unchanged: list[str] = []
    across_resets = False
    for stat in STATS:
        before, after = base.values[stat], now.values[stat]
        if is_counter(stat):
            total = gain_column(stat)
            change = now.values[total] - base.values[total]
            shown = f"{signed(change)} †" if change else "0"
            across_resets = across_resets or before != after
        else:
            change = after - before
            shown = signed(change)
        if not change and before == after:
            unchanged.append(f"{STAT_LABELS[stat]} {after:,}")
            continue
        embed.add_field(name=STAT_LABELS[stat], value=f"{before:,} → {after:,}\n**{shown}**")
    if unchanged:
        embed.add_field(name="No change", value="\n".join(unchanged)[:1024], inline=False)
    notes = [POLLING_NOTE]
    if across_resets:
        notes.insert(0, "† " + COUNTER_NOTE)
    embed.set_footer(text=" ".join(notes))
    return embed


class HistoryCog(commands.Cog):
    def __init__(self, bot: TrackerBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description="Chart a player's stat over time")
    @app_commands.describe(
        tag="The player's tag, like #2PP0JCCL",
        stat="The stat to chart",
        days="How many days back (1 to 365, default 30)",
    )
    @app_commands.choices(stat=STAT_CHOICES)
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def history(
        self,
        interaction: discord.Interaction,
        tag: str,
        stat: app_commands.Choice[str],
        days: app_commands.Transform[int, BoundedInt(1, 365)] = 30,
    ) -> None:
        canonical = parse_tag(tag)
        now = utcnow()
        window_start = now - timedelta(days=days)
        # The donation counters need the start of the window's season too, to
        # know how much had been given in that season before the window.
        since = season_start(window_start) if is_counter(stat.value) else window_start
        async with self.bot.pool.acquire() as con:
            name = await history.player_name(con, canonical)
            total = gain_column(stat.value) if is_counter(stat.value) else None
            rows = await history.series(con, canonical, stat.value, total, since)
        series = build_series(stat.value, rows, window_start, now)
        if series is None:
            raise _not_enough(canonical, name, stat.value, rows, window_start)
        await interaction.response.defer(thinking=True)
        marks = season_starts_between(series.start, now)
        label = STAT_LABELS[stat.value]
        png = await asyncio.to_thread(
            render_history,
            series.points,
            end=now,
            title=f"{label}: {name} ({canonical})" if name else f"{label}: {canonical}",
            ylabel=label + (" this season" if is_counter(stat.value) else ""),
            season_starts=marks,
        )
        log.debug("chart of %s %s: %d points, %d bytes", canonical, stat.value, len(rows), len(png))
        embed = history_embed(name, canonical, stat.value, days, series, len(marks))
        await interaction.followup.send(
            embed=embed, file=discord.File(io.BytesIO(png), filename=CHART_NAME)
        )

    @app_commands.command(name="progress", description="What changed for a player, stat by stat")
    @app_commands.describe(
        tag="The player's tag, like #2PP0JCCL", days="How many days back (1 to 365, default 7)"
    )
    @app_commands.autocomplete(tag=tag_autocomplete)
    async def progress(
        self,
        interaction: discord.Interaction,
        tag: str,
        days: app_commands.Transform[int, BoundedInt(1, 365)] = 7,
    ) -> None:
        canonical = parse_tag(tag)
        start = utcnow() - timedelta(days=days)
        async with self.bot.pool.acquire() as con:
            current = await history.current_stats(con, canonical)
            base = await history.baseline(con, canonical, start)
            loot = await load_loot(con, canonical, utcnow(), start)
        if current is None or base is None:
            raise NoData(
                f"No history for `{canonical}` yet. History is recorded once a server tracks "
                "the player (`/track add`)."
            )
        name, now = current
        embed = progress_embed(name, canonical, days, start, now, base)
        field_name, value = loot_field(loot, days)
        embed.add_field(name=field_name, value=value[:1024], inline=False)
        await interaction.response.send_message(embed=embed)


def _not_enough(
    tag: str,
    name: str | None,
    stat: str,
    rows: list[HistoryPoint],
    window_start: datetime,
) -> NoData:
    who = _who(name, tag)
    if not rows:
        return NoData(
            f"No history for {who} yet. History is recorded once a server tracks the player "
            "(`/track add`)."
        )
    last = rows[-1]
    if last.at <= window_start:
        return NoData(
            f"{STAT_LABELS[stat]} of {who} has not changed in this period: nothing to chart "
            f"yet (last change {timestamp(last.at, 'D')}). Try more days."
        )
    return NoData(
        f"Only one data point for {who} so far ({timestamp(last.at, 'f')}): a chart needs "
        "two. History grows each time the player's stats change."
    )


async def setup(bot: TrackerBot) -> None:
    await bot.add_cog(HistoryCog(bot))
