"""What a season-end summary says: the season's leaders of a guild, as an embed payload."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
# raid weekend of the season's last Monday ends at 07:00 UTC, two hours after it.
SUMMARY_DELAY = timedelta(hours=3)


def season_due(now: datetime, delay: timedelta = SUMMARY_DELAY) -> tuple[datetime, datetime]:
    """The latest season whose summary is due at ``now``: its ``(start, end)``."""
    moment = now - delay
    return previous_season_start(moment), season_start(moment)


def next_due_at(now: datetime, delay: timedelta = SUMMARY_DELAY) -> datetime:
    """When the next season's summary falls due."""
    return season_end(now - delay) + delay


def games_end(end: datetime) -> datetime:
    """When the clan games of the season's last month end."""
    month = month_of(end)
    day, hour = GAMES_WINDOW[1]
    return datetime(month.year, month.month, day, hour, tzinfo=UTC)


def _field(leaders: list[Leader]) -> str:
    if not leaders:
        return "Nobody this season."
    return "\n".join(
        f"`{n}.` {literal(r.name)} ({r.tag}) — {r.value:,}" for n, r in enumerate(leaders, 1)
    )


def summary_payload(
    start: datetime, end: datetime, leaders: dict[str, list[Leader]], now: datetime
) -> dict[str, Any]:
    embed = discord.Embed(
        title=f"🏁 Season summary: {end.astimezone(UTC):%B %Y}",
        description=(
            f"The season from {timestamp(start, 'f')} to {timestamp(end, 'f')}: "
            "this server's tracked players who did best."
        ),
        colour=discord.Colour.gold(),
    )
    for key, title in CATEGORIES.items():
        name = title
        if key == "clan_games" and now < games_end(end):
            name = f"{title} (so far: the games end {timestamp(games_end(end))})"
        embed.add_field(name=name, value=_field(leaders.get(key, [])), inline=False)
    embed.set_footer(text="Counted from what the tracker saw during the season")
    return {"embeds": [embed.to_dict()], "allowed_mentions": {"parse": []}}
