"""A guild's players ranked by a stat or by its gain over a period.

The periods and which column measures what are decided here; db.history
runs the queries with plain values. Two boards are not stats of a profile
and have their own period: capital gold looted in the latest raid weekend
of the guild's clans (running, or the last one), and clan games points this
month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bot.clangames.credit import month_of, month_start
from bot.periods import (
    Period,
    Standing,
    gain,
    gain_column,
    period_start,
    uses_season_totals,
)
from bot.tracker.seasons import season_start
from db import clan_games, history, raids
from db.history import BoardRow

# Boards beyond the profile's stats, with their labels; each has a period of its own.
ACTIVITY_BOARDS: dict[str, str] = {
    "capital_looted": "Capital gold looted (latest raid weekend)",
    "clan_games": "Clan games points (this month)",
}


@dataclass(frozen=True, slots=True)
class Board:
    standings: list[Standing]
    pending: int  # tracked players not fetched yet, or without history for a gain
    tracked: int  # every tracked player of the guild
    since: datetime | None  # where gains are measured from


async def board(
    con: asyncpg.Connection,
    guild_id: int,
    stat: str,
    period: Period,
    now: datetime,
    user_id: int,
) -> Board:
    """The guild's tracked players with the value ``period`` ranks them by (unranked)."""
    if stat == "capital_looted":
        rows = await raids.board_looted(con, guild_id, user_id)
        weekend = rows[0]["start_time"] if rows else None
        if weekend is None:
            return Board([], len(rows), len(rows), None)  # no weekend recorded yet
        return _collect([_row(r) for r in rows], weekend)
    if stat == "clan_games":
        month = month_of(now)
        rows = await clan_games.board(con, guild_id, month, user_id)
        return _collect([_row(r) for r in rows], month_start(month))
    start = period_start(period, now)
    if uses_season_totals(stat, period):
        season = season_start(now)
        rows = await history.board_season_counter(con, guild_id, stat, season, user_id)
        return _collect(rows, season if period is Period.SEASON else None)
    if start is None:
        return _collect(await history.board_current(con, guild_id, stat, user_id), None)
    rows = await history.board_gains(con, guild_id, gain_column(stat), start, user_id)
    standings: list[Standing] = []
    for r in rows:
        if r.name is None or r.base_at is None or r.base_value is None or r.value is None:
            continue
        g = gain(r.value, r.base_value, r.base_at, start)
        standings.append(Standing(r.tag, r.name, g.value, r.mine, g.partial))
    return Board(standings, len(rows) - len(standings), len(rows), start)


def _row(r: asyncpg.Record) -> BoardRow:
    return BoardRow(r["tag"], r["name"], r["value"], r["mine"])


def _collect(rows: list[BoardRow], since: datetime | None) -> Board:
    standings = [Standing(r.tag, r.name, r.value or 0, r.mine) for r in rows if r.name is not None]
    return Board(standings, len(rows) - len(standings), len(rows), since)
