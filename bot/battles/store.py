"""Writing a battle log read: aligned against the stored read, each battle stored once.

One transaction per read holds the player's ``battle_logs`` row, so a second tracker
process reading the same log at the same time aligns against this read's result, and
a read that failed half-way (an API fault, a restart) stored nothing and is simply
read again. Battles are stamped with the window they appeared in: after the stored
read, up to this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.battles.align import advance
from bot.battles.parse import parse_league_history
from bot.battles.weeks import WEEK, week_event, week_of
from bot.tracker.observe import record_events
from db import battles, league_weeks
from db.model import Battle


@dataclass(frozen=True, slots=True)
class LogWrite:
    """What one read did: ``new`` battles stored, a ``gap`` recorded, or nothing
    (``skipped``: untracked meanwhile, older than the stored read, or a stale answer)."""

    new: int = 0
    gap: bool = False
    skipped: bool = False


def _week(state: battles.LogState, start: datetime | None, end: datetime) -> int | None:
    """The ranked week a window lies in; None if it spans a week's end or is unknown."""
    if start is None or state.season_id is None or state.week_phase is None:
        return None
    first = week_of(start, state.season_id, state.week_phase)
    return first if first == week_of(end, state.season_id, state.week_phase) else None


async def write_log(
    con: asyncpg.Connection,
    tag: str,
    log: list[Battle],
    at: datetime,
    *,
    answer_age: timedelta = timedelta(0),
) -> LogWrite:
    """Store what ``log`` (newest first, read at ``at``) adds to the player's battles.

    ``answer_age``: how old the API's answers may be (its cache). A battle new in this
    read may have been played that long before the last read: its window starts there."""
    async with con.transaction():
        state = await battles.lock_log(con, tag)
        if state is None or (state.read_at is not None and at <= state.read_at):
            return LogWrite(skipped=True)
        result, keep = advance(state.tail, [b.fingerprint for b in log])
        if result.stale or keep is None:
            return LogWrite(skipped=True)
        fresh = list(reversed(log[: result.new]))
        # Undated: the first read, or the first after an untracked gap (read_at cleared).
        undated = result.baseline or state.read_at is None
        start = None if undated else state.read_at - answer_age
        week = _week(state, start, at)
        await battles.insert_battles(con, tag, fresh, start, at, week)
        if result.gap and start is not None:
            await battles.insert_gap(con, tag, start, at)
        await battles.save_tail(con, tag, keep, at)
        return LogWrite(new=len(fresh), gap=result.gap)


async def write_history(con: asyncpg.Connection, tag: str, body: Any, at: datetime) -> bool:
    """Store the league history; queue ``ranked_week`` for the week that ended, once.
    Returns whether the history showed that week (else it is asked again later)."""
    weeks = parse_league_history(body)
    async with con.transaction():
        state = await battles.lock_log(con, tag)
        if state is None:
            return True
        await league_weeks.save_weeks(con, tag, weeks)
        ended = state.week_ended
        if ended is None:
            return True
        week = next((w for w in weeks if w.season_id == ended), None)
        if week is None:
            return False
        # What the week ended in shows in the tier of the week straight after it.
        following = state.season_id == ended + int(WEEK.total_seconds())
        next_tier = state.tier_id if following else None
        names = await league_weeks.tier_names(
            con, [week.tier_id] + ([next_tier] if next_tier is not None else [])
        )
        await record_events(con, [week_event(tag, week, next_tier, names, at)])
        await battles.week_posted(con, tag, ended)
        return True
