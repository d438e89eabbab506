"""/battles (one UTC day of a player's stored battles) and the loot shown in /progress.

The API gives battles no time: a battle is shown on the day its read window ended (the
read that first listed it). Battles of the first read of a log (before tracking, or
before the player's first battle while tracked) have no known day and are not shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import discord

from bot.embeds import literal, timestamp
from bot.errors import NoData
from bot.periods import pages
from bot.tags import shown_tag
from bot.tracker.seasons import season_start
from db import battles

PAGE_SIZE = 15
# Gap windows named in one field.
GAPS_SHOWN = 8
WINDOW_NOTE = (
    "The API gives battles no time: each is dated by the read that first listed it (UTC days)."
)
TYPE_NAMES = {"ranked": "ranked", "homeVillage": "regular"}


@dataclass(frozen=True, slots=True)
class DayReport:
    tag: str
    name: str | None
    day: datetime
    battles: list[Any]  # DAY_BATTLES rows, newest first
    gaps: list[Any]
    baseline: int  # battles of the first read, not dated

    @property
    def pages(self) -> list[Sequence[Any]]:
        return pages(self.battles, PAGE_SIZE) or [[]]


async def load_day(con: asyncpg.Connection, tag: str, name: str | None, day: datetime) -> DayReport:
    state = await battles.log_state(con, tag)
    if state is None:
        raise NoData(
            f"No battles are recorded for {_who(name, tag)}: battle logs are read for "
            "players a server tracks (`/track add`), from their first battle on."
        )
    if not state["read"]:
        raise NoData(
            f"No battle of {_who(name, tag)} is recorded yet: the battle log is read once "
            "the tracker sees the player battle."
        )
    end = day + timedelta(days=1)
    baseline = await battles.baseline(con, tag)
    return DayReport(
        tag,
        name,
        day,
        await battles.day_battles(con, tag, day, end),
        await battles.gaps_between(con, tag, day, end),
        int(baseline["battles"]),
    )


def _stars(n: int) -> str:
    return "★" * n + "☆" * (3 - n)


def _loot(gold: int, elixir: int, dark: int) -> str:
    return f"{gold:,} gold, {elixir:,} elixir, {dark:,} dark elixir"


def battle_line(row: Any) -> str:
    kind = TYPE_NAMES.get(row["battle_type"]) or literal(row["battle_type"])
    loot = _loot(row["gold"], row["elixir"], row["dark_elixir"])
    if row["attack"]:
        head = f"⚔️ Attack ({kind}) on {shown_tag(row['opponent_tag'])}"
        tail = f"looted {loot}"
    else:
        head = f"🛡️ Defense ({kind}) against {shown_tag(row['opponent_tag'])}"
        tail = f"lost {loot}"
    return (
        f"{head}: {_stars(row['stars'])} {row['destruction']}% · {tail} "
        f"(read {timestamp(row['window_end'], 't')})"
    )


def day_totals(rows: Sequence[Any]) -> str:
    attacks = [r for r in rows if r["attack"]]
    defenses = [r for r in rows if not r["attack"]]
    lines = [
        f"**{len(attacks)}** attack(s), {sum(r['stars'] for r in attacks)} stars, "
        f"{sum(1 for r in attacks if r['stars'] > 0)} won; looted "
        + _loot(*(sum(r[k] for r in attacks) for k in ("gold", "elixir", "dark_elixir"))),
        f"**{len(defenses)}** defense(s), {sum(r['stars'] for r in defenses)} stars "
        "conceded; lost "
        + _loot(*(sum(r[k] for r in defenses) for k in ("gold", "elixir", "dark_elixir"))),
    ]
    return "\n".join(lines)


def day_embed(report: DayReport, index: int) -> discord.Embed:
    # The battles go in the description (4,096 characters: a page of 15 lines of about
    # 130), the totals and gaps in fields (1,024 each).
    head = f"{report.day:%A %d %B %Y} (UTC)"
    if report.battles:
        lines = [battle_line(r) for r in report.pages[index]]
        description = head + ", newest first:\n" + "\n".join(lines)
    else:
        description = head + "\nNo battle recorded on this day."
    embed = discord.Embed(
        title=f"Battles: {_who(report.name, report.tag)}",
        description=description[:4096],
        colour=discord.Colour.dark_red(),
    )
    if report.battles:
        embed.add_field(name="The day's totals", value=day_totals(report.battles), inline=False)
    if report.gaps:
        shown = [
            f"{timestamp(g['window_start'], 't')} to {timestamp(g['window_end'], 't')}"
            for g in report.gaps[:GAPS_SHOWN]
        ]
        more = len(report.gaps) - GAPS_SHOWN
        embed.add_field(
            name="Gaps",
            value=(
                "Between "
                + ", ".join(shown)
                + (f" and {more} more" if more > 0 else "")
                + ": the log held 50 or more new battles, so an unknown number before the "
                "50 shown (maybe none) was never seen."
            ),
            inline=False,
        )
    notes = [WINDOW_NOTE]
    if report.baseline:
        notes.append(
            f"{report.baseline} battle(s) of the log's first read are from before and have "
            "no known day."
        )
    if len(report.pages) > 1:
        notes.append(f"Page {index + 1} of {len(report.pages)}.")
    embed.set_footer(text=" ".join(notes))
    return embed


@dataclass(frozen=True, slots=True)
class Loot:
    gold: int
    elixir: int
    dark_elixir: int
    attacks: int

    def text(self) -> str:
        return f"{_loot(self.gold, self.elixir, self.dark_elixir)} ({self.attacks} attacks)"


@dataclass(frozen=True, slots=True)
class LootSummary:
    read: bool  # the battle log has been read at least once
    today: Loot
    period: Loot
    season: Loot
    season_start: datetime


async def load_loot(
    con: asyncpg.Connection, tag: str, now: datetime, period_start: datetime
) -> LootSummary:
    """Loot of the player's attacks today, since ``period_start`` and this season."""
    season = season_start(now)
    row = await battles.loot(
        con, tag, now.replace(hour=0, minute=0, second=0, microsecond=0), period_start, season
    )

    def part(prefix: str) -> Loot:
        return Loot(
            row[f"{prefix}_gold"],
            row[f"{prefix}_elixir"],
            row[f"{prefix}_dark"],
            row[f"{prefix}_attacks"],
        )

    return LootSummary(
        read=bool(row["read"]),
        today=part("today"),
        period=part("period"),
        season=part("season"),
        season_start=season,
    )


def loot_field(loot: LootSummary, days: int) -> tuple[str, str]:
    """/progress' loot field: (name, value)."""
    if not loot.read:
        return (
            "Loot",
            "Not counted yet: the battle log is read once the tracker sees the player battle.",
        )
    span = f"{days} day{'s' if days != 1 else ''}"
    return (
        "Loot from attacks (battle log)",
        f"Today (UTC): {loot.today.text()}\nLast {span}: {loot.period.text()}\n"
        f"This season (since {timestamp(loot.season_start, 'D')}): {loot.season.text()}",
    )


def _who(name: str | None, tag: str) -> str:
    return f"{literal(name)} ({tag})" if name else tag
