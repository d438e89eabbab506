"""/raids: one stored raid weekend of a clan, as pages of embeds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import discord

from bot.clans import TrackedClan
from bot.embeds import literal, name_list, timestamp
from bot.errors import NoData
from bot.periods import pages
from db import raids

PAGE_SIZE = 20
# Characters of names in the "did not raid" field (Discord allows 1,024).
FIELD_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class RaidReport:
    clan: TrackedClan
    weekend: Any  # a raid_weekends row
    members: list[Any]  # raid_members rows, most loot first
    idle: list[tuple[str, str]]  # (tag, name) of roster members who made no attack
    roster: int  # members seen in the clan's lists during the weekend

    @property
    def pages(self) -> list[Sequence[Any]]:
        raided = [m for m in self.members if m["attacks"] > 0]
        return pages(raided, PAGE_SIZE) or [[]]


async def load_report(con: asyncpg.Connection, clan: TrackedClan, weeks_ago: int) -> RaidReport:
    weekend = await raids.nth_weekend(con, clan.tag, weeks_ago)
    if weekend is None:
        if weeks_ago:
            raise NoData(
                f"No raid weekend {weeks_ago} week(s) back is recorded for {clan.shown}. "
                "Weekends are recorded from when the clan is tracked."
            )
        raise NoData(
            f"No raid weekend is recorded for {clan.shown} yet. Weekends are read while "
            "they run (Friday to Monday) once the clan is tracked."
        )
    start = weekend["start_time"]
    return RaidReport(
        clan,
        weekend,
        await raids.members(con, clan.tag, start),
        await raids.non_raiders(con, clan.tag, start),
        await raids.roster_size(con, clan.tag, start),
    )


def _idle_text(report: RaidReport) -> str:
    if not report.roster:
        return "Not known: no member list of the clan was read during this weekend."
    if not report.idle:
        return "Everyone in the clan during the weekend raided."
    return name_list([name for _, name in report.idle], FIELD_LIMIT)


def report_embed(report: RaidReport, index: int) -> discord.Embed:
    w = report.weekend
    ongoing = w["state"] == "ongoing"
    state = f"running, ends {timestamp(w['end_time'])}" if ongoing else "ended"
    page = report.pages[index]
    raided = sum(1 for m in report.members if m["attacks"] > 0)
    lines = [
        f"{timestamp(w['start_time'], 'D')} to {timestamp(w['end_time'], 'D')} ({state})",
        f"**{w['capital_total_loot']:,}** capital gold looted in {w['total_attacks']} "
        f"attacks by {raided} members; {w['raids_completed']} raids completed, "
        f"{w['districts_destroyed']} districts destroyed",
    ]
    if not ongoing:
        lines.append(
            f"Raid medals: {w['offensive_reward']} offensive, {w['defensive_reward']} defensive"
        )
    lines.append("")
    first = index * PAGE_SIZE
    for n, m in enumerate(page, start=first + 1):
        limit = m["attack_limit"] + m["bonus_attack_limit"]
        lines.append(
            f"`{n:>3}.` {literal(m['name'])} — {m['attacks']}/{limit} attacks — "
            f"{m['looted']:,} gold"
        )
    if not page:
        lines.append("Nobody has attacked yet.")
    embed = discord.Embed(
        title=f"Raid weekend of {report.clan.shown}",
        description="\n".join(lines)[:4096],
        colour=discord.Colour.dark_gold(),
    )
    if index == len(report.pages) - 1:
        embed.add_field(
            name=f"Did not raid ({len(report.idle)})" if report.roster else "Did not raid",
            value=_idle_text(report),
            inline=False,
        )
    embed.set_footer(text=f"Page {index + 1}/{len(report.pages)}")
    return embed
