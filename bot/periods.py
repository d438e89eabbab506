"""Period arithmetic shared by /history, /progress and /leaderboard.

History is change-only: the value of a stat at moment T is the last history
row observed at or before T. A gain over a period is the value now minus the
value at the period's start; when a player's first row is after the start,
the first row stands in for it and the gain is "since tracking began".

Donations and donations received are game counters that reset at each season
end and when a player leaves a clan, so their gains come from the running
totals (``donations_total``, ``received_total``) that the tracker adds up
across resets; "this season" comes from the ``player_seasons`` totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from bot.tracker.seasons import season_start
from db.model import HistoryPoint

T = TypeVar("T")

# The game counters that reset, and the running total that survives the resets.
COUNTER_TOTALS: dict[str, str] = {
    "donations": "donations_total",
    "donations_received": "received_total",
}


class Period(StrEnum):
    CURRENT = "current"
    WEEK = "7d"
    MONTH = "30d"
    SEASON = "season"


PERIOD_LABELS: dict[Period, str] = {
    Period.CURRENT: "Current value",
    Period.WEEK: "Gain over 7 days",
    Period.MONTH: "Gain over 30 days",
    Period.SEASON: "Gain this season",
}

_PERIOD_DAYS = {Period.WEEK: 7, Period.MONTH: 30}


def is_counter(stat: str) -> bool:
    return stat in COUNTER_TOTALS


def gain_column(stat: str) -> str:
    """The column whose difference is the gain of ``stat`` over a period."""
    return COUNTER_TOTALS.get(stat, stat)


def period_start(period: Period, now: datetime) -> datetime | None:
    """Where a period's gain is measured from; None for the current value."""
    if period is Period.CURRENT:
        return None
    if period is Period.SEASON:
        return season_start(now)
    return now - timedelta(days=_PERIOD_DAYS[period])


def uses_season_totals(stat: str, period: Period) -> bool:
    """Donation counters this season (and their current value) come from ``player_seasons``.

    The game's own counter is the season so far, but a leave and rejoin resets
    it mid-season; the stored season total does not forget.
    """
    return is_counter(stat) and period in (Period.CURRENT, Period.SEASON)


@dataclass(frozen=True, slots=True)
class Gain:
    value: int
    since: datetime  # the moment the gain is measured from
    partial: bool  # the player's history starts after the period's start


def gain(now_value: int, base_value: int, base_at: datetime, start: datetime) -> Gain:
    """The gain from the baseline row (last row at or before ``start``, or the first row)."""
    partial = base_at > start
    return Gain(now_value - base_value, base_at if partial else start, partial)


# -- ranking ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Standing:
    tag: str
    name: str
    value: float  # a count, or an average (war destruction)
    mine: bool = False  # one of the invoking user's linked accounts
    partial: bool = False  # tracked for less than the period


@dataclass(frozen=True, slots=True)
class Ranked:
    rank: int
    standing: Standing


def rank(standings: Iterable[Standing]) -> list[Ranked]:
    """Highest value first; equal values share a rank ("1, 2, 2, 4").

    Ties are listed by name (case-insensitively), then tag, so every page
    shows the same order each time.
    """
    ordered = sorted(standings, key=lambda s: (-s.value, s.name.casefold(), s.name, s.tag))
    ranked: list[Ranked] = []
    for position, standing in enumerate(ordered, start=1):
        if ranked and ranked[-1].standing.value == standing.value:
            ranked.append(Ranked(ranked[-1].rank, standing))
        else:
            ranked.append(Ranked(position, standing))
    return ranked


def pages(items: Sequence[T], size: int = 10) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)] or [items[:0]]


# -- a stat over time ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    """A stat over a window, ready to chart and summarise."""

    points: list[tuple[datetime, int]]  # steps: each value holds until the next point
    start: datetime  # the first charted moment (the window's start, or tracking's)
    end: datetime
    start_value: int
    end_value: int
    change: int
    best: int
    partial: bool  # tracking began inside the window
    observations: int  # history rows that fall in the window (the carried-in one included)


def season_to_date(rows: Sequence[HistoryPoint]) -> list[tuple[datetime, int]]:
    """A donation counter as "so far this season", immune to the leave-and-rejoin reset.

    Within a season the value is the running total minus the total at the
    season's start (the last row before it). For the first season seen the
    game's own counter at the first row tells how much came before tracking.
    A point at each season start marks the reset to zero.
    """
    points: list[tuple[datetime, int]] = []
    base = 0
    previous: HistoryPoint | None = None
    for row in rows:
        total = row.total if row.total is not None else row.value
        season = season_start(row.at)
        if previous is None:
            base = total - row.value
        elif season_start(previous.at) != season:
            base = previous.total if previous.total is not None else previous.value
            points.append((season, 0))
        points.append((row.at, total - base))
        previous = row
    return points


def _value_at(points: Sequence[tuple[datetime, int]], moment: datetime) -> int | None:
    found = None
    for at, value in points:
        if at > moment:
            break
        found = value
    return found


def build_series(
    stat: str, rows: Sequence[HistoryPoint], window_start: datetime, now: datetime
) -> Series | None:
    """The stat from ``window_start`` to ``now``; None when fewer than two rows fall in it.

    ``rows`` are oldest first and include the last row at or before the
    window's start (for the donation counters: at or before the start of the
    season the window starts in, to know the season's baseline).
    """
    carried = [r for r in rows if r.at <= window_start][-1:]
    inside = [r for r in rows if r.at > window_start]
    observations = len(carried) + len(inside)
    if observations < 2:
        return None
    if is_counter(stat):
        every = season_to_date(rows)
    else:
        every = [(r.at, r.value) for r in rows]
    start = window_start if carried else inside[0].at
    start_value = _value_at(every, start)
    assert start_value is not None  # a row at or before ``start`` exists by construction
    points = [(start, start_value), *((at, v) for at, v in every if at > start)]
    end_value = points[-1][1]
    if is_counter(stat):
        # The counter itself drops at every reset; the total tells what was given.
        first, last = (carried or inside)[0], rows[-1]
        change = _total(last) - _total(first)
    else:
        change = end_value - start_value
    return Series(
        points=points,
        start=start,
        end=now,
        start_value=start_value,
        end_value=end_value,
        change=change,
        best=max(v for _, v in points),
        partial=not carried,
        observations=observations,
    )


def _total(row: HistoryPoint) -> int:
    return row.total if row.total is not None else row.value
