"""/clangames: a clan's points this month, as pages of embeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg
import discord

from bot.clangames.credit import month_of
from bot.clans import TrackedClan
from bot.embeds import literal, name_list, timestamp
from bot.errors import NoData
from bot.periods import pages
from db import clan_games
from db.clan_games import GamesPoints

PAGE_SIZE = 20
FIELD_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class GamesReport:
    clan: TrackedClan
    month: date
    maximum: int
    points: list[GamesPoints]  # most first
    idle: list[tuple[str, str]]  # current members with no points

    @property
    def total(self) -> int:
        return sum(p.points for p in self.points)

    @property
    def first_max(self) -> GamesPoints | None:
        maxed = [p for p in self.points if p.maxed_at is not None]
        return min(maxed, key=lambda p: p.maxed_at or p.updated_at) if maxed else None

    @property
    def pages(self) -> list[Sequence[GamesPoints]]:
        return pages(self.points, PAGE_SIZE) or [[]]


def month_label(month: date) -> str:
    return month.strftime("%B %Y")


async def load_report(
    con: asyncpg.Connection, clan: TrackedClan, now: datetime, maximum: int
) -> GamesReport:
    month = month_of(now)
    points = await clan_games.clan_month(con, month, clan.tag)
    if not points:
        raise NoData(
            f"No clan games points are recorded for {clan.shown} in {month_label(month)}: "
            "no tracked member's Games Champion achievement has risen this month. Points "
            "count from each member's first full profile of the month."
        )
    idle = await clan_games.without_points(con, month, clan.tag)
    return GamesReport(clan, month, maximum, points, idle)


def _idle_text(idle: list[tuple[str, str]]) -> str:
    if not idle:
        return "Every member has points."
    return name_list([name for _, name in idle], FIELD_LIMIT)


def report_embed(report: GamesReport, index: int) -> discord.Embed:
    lines = [f"Clan total: **{report.total:,}** points (maximum {report.maximum:,} per member)"]
    first = report.first_max
    if first is not None and first.maxed_at is not None:
        lines.append(
            f"First to the maximum: {literal(first.name)} {timestamp(first.maxed_at, 'f')}"
        )
    lines.append("")
    start = index * PAGE_SIZE
    for n, p in enumerate(report.pages[index], start=start + 1):
        done = " ✓" if p.maxed_at is not None else ""
        lines.append(f"`{n:>3}.` {literal(p.name)} — {p.points:,}{done}")
    embed = discord.Embed(
        title=f"Clan games of {report.clan.shown}, {month_label(report.month)}",
        description="\n".join(lines)[:4096],
        colour=discord.Colour.gold(),
    )
    if index == len(report.pages) - 1:
        embed.add_field(
            name=f"No points yet ({len(report.idle)})",
            value=_idle_text(report.idle),
            inline=False,
        )
    embed.set_footer(text=f"Page {index + 1}/{len(report.pages)} · ✓ reached the maximum")
    return embed
