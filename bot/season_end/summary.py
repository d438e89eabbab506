"""What a season-end summary says: the season's leaders of a guild, as an embed payload."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import discord

from bot.clangames.credit import GAMES_WINDOW, month_of
from bot.embeds import literal, timestamp
from bot.tracker.seasons import previous_season_start, season_end, season_start
from db.season_summaries import Leader

TOP = 5  # players per category

# Categories in the order they are shown, with their headings.
CATEGORIES: dict[str, str] = {
    "donations": "Top donors",
    "received": "Top receivers",
    "trophies": "Trophy gains",
    "war_stars": "War stars won",
    "capital_looted": "Capital gold looted",
    "clan_games": "Clan games points",
}

# After a season ends, its summary waits this long: the game's donation counters can
# lag the reset by up to two hours (the tracker holds such readings that long), and the
# raid weekend of the season's last Monday ends at 07:00 UTC, two hours after it (its
# last reading comes up to one raid interval later: see ``summary_delay``).
SUMMARY_DELAY = timedelta(hours=3)
RAID_END_AFTER_SEASON = timedelta(hours=2)
# A summary is not started more than this late (a bot down for longer posts nothing
# for that season: it would be old news).
SUMMARY_GRACE = timedelta(days=7)


def summary_delay(raid_interval_seconds: float) -> timedelta:
    """How long after a season end its summary waits: past the last raid reading too."""
    last_raid_read = RAID_END_AFTER_SEASON + timedelta(seconds=raid_interval_seconds + 600)
    return max(SUMMARY_DELAY, last_raid_read)


def season_due(now: datetime, delay: timedelta = SUMMARY_DELAY) -> tuple[datetime, datetime]:
    """The latest season whose summary is due at ``now``: its ``(start, end)``."""
    moment = now - delay
    return previous_season_start(moment), season_start(moment)


def next_due_at(now: datetime, delay: timedelta = SUMMARY_DELAY) -> datetime:
    """When the next season's summary falls due."""
    return season_end(now - delay) + delay


def games_end(month: date) -> datetime:
    """When a month's clan games end (and the hour after, for the final readings)."""
    day, hour = GAMES_WINDOW[1]
    return datetime(month.year, month.month, day, hour, tzinfo=UTC)


def season_games(start: datetime, end: datetime) -> list[date]:
    """The months whose clan games ended in the season ``[start, end)``, oldest first.

    Seasons end on the last Monday (the 22nd to the 31st) and the games run from the
    22nd to the 28th, so a season holds the end of none, one or two months' games; each
    month's games end in exactly one season, and are over when its summary is posted.
    """
    months = {month_of(start), month_of(end)}
    return sorted(m for m in months if start <= games_end(m) < end)


def _field(leaders: list[Leader]) -> str:
    if not leaders:
        return "Nobody this season."
    return "\n".join(
        f"`{n}.` {literal(r.name)} ({r.tag}) — {r.value:,}" for n, r in enumerate(leaders, 1)
    )


def summary_title(end: datetime) -> str:
    return f"🏁 Season summary: {end.astimezone(UTC):%B %Y}"


def summary_payload(
    start: datetime,
    end: datetime,
    leaders: dict[str, list[Leader]],
    games: list[date],
) -> dict[str, Any]:
    embed = discord.Embed(
        title=summary_title(end),
        description=(
            f"The season from {timestamp(start, 'f')} to {timestamp(end, 'f')}: "
            "this server's tracked players who did best."
        ),
        colour=discord.Colour.gold(),
    )
    for key, title in CATEGORIES.items():
        name, value = title, _field(leaders.get(key, []))
        if key == "clan_games":
            if games:
                name = f"{title} ({' and '.join(f'{m:%B}' for m in games)})"
            else:
                value = "No clan games ended this season."
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text="Counted from what the tracker saw during the season")
    return {"embeds": [embed.to_dict()], "allowed_mentions": {"parse": []}}
