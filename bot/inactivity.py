"""/inactive: the guild's tracked players with no sign of play for a number of days.

A sign of play is what bot.tracker.activity (profiles), the war poller (war
attacks), the raid poller (raid attacks) and clan games credits record in
``players.last_active_at``; this reads that column, one row per player.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import discord

from bot.clans import TrackedClan
from bot.embeds import literal, timestamp
from bot.periods import pages
from bot.tracker.activity import label
from db import activity
from db.activity import Inactive

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class InactiveReport:
    days: int
    clan: TrackedClan | None
    players: list[Inactive]  # longest inactive first, then those never seen active
    tracked: int  # tracked players considered (in the clan, if one is chosen)

    @property
    def pages(self) -> list[Sequence[Inactive]]:
        return pages(self.players, PAGE_SIZE) or [[]]


async def load_report(
    con: asyncpg.Connection, guild_id: int, days: int, clan: TrackedClan | None, now: datetime
) -> InactiveReport:
    clan_tag = clan.tag if clan else None
    players = await activity.inactive(con, guild_id, now - timedelta(days=days), clan_tag)
    return InactiveReport(
        days, clan, players, await activity.tracked_count(con, guild_id, clan_tag)
    )


def line(n: int, p: Inactive) -> str:
    who = f"`{n:>3}.` {literal(p.name)} ({p.tag})"
    if p.last_active_at is None:
        return f"{who} — not seen active since tracking began ({timestamp(p.tracked_since, 'D')})"
    return (
        f"{who} — last active {timestamp(p.last_active_at)} "
        f"({timestamp(p.last_active_at, 'D')}): {literal(label(p.last_active_by))}"
    )


def report_embed(report: InactiveReport, index: int) -> discord.Embed:
    where = f" in {report.clan.shown}" if report.clan else ""
    start = index * PAGE_SIZE
    body = "\n".join(line(n, p) for n, p in enumerate(report.pages[index], start=start + 1))
    if not report.players:
        body = (
            f"Every tracked player{where} showed a sign of play in the last {report.days} day(s)."
        )
    embed = discord.Embed(
        title=f"Inactive for {report.days}+ day(s){where}",
        description=body[:4096],
        colour=discord.Colour.dark_grey(),
    )
    embed.set_footer(
        text=f"Page {index + 1}/{len(report.pages)} · {len(report.players)} of "
        f"{report.tracked} tracked players · signs of play: donations, attacks, war and "
        "raid attacks, clan games, upgrades, experience, builder base, capital, renames"
    )
    return embed
