"""Season boundaries (donation counters reset then), from coc.py's rule.

coc.utils computes the start for a given month (the last Monday, 05:00
UTC) as a naive datetime; these helpers accept any aware moment.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import coc.utils


@functools.lru_cache(maxsize=256)
def _start_of(month: int, year: int) -> datetime:
    # Cached: the tracker asks twice per observation, always for a few months.
    return coc.utils.get_season_start(month, year).replace(tzinfo=UTC)


def _previous(month: int, year: int) -> tuple[int, int]:
    return (12, year - 1) if month == 1 else (month - 1, year)


def _next(month: int, year: int) -> tuple[int, int]:
    return (1, year + 1) if month == 12 else (month + 1, year)


def season_start(moment: datetime) -> datetime:
    """The start of the season ``moment`` falls in."""
    moment = moment.astimezone(UTC)
    start = _start_of(moment.month, moment.year)
    if moment >= start:
        return start
    return _start_of(*_previous(moment.month, moment.year))


def season_end(moment: datetime) -> datetime:
    """The end of the season ``moment`` falls in (the next season's start)."""
    start = season_start(moment)
    return _start_of(*_next(start.month, start.year))


def previous_season_start(moment: datetime) -> datetime:
    """The start of the season before the one ``moment`` falls in."""
    start = season_start(moment)
    return _start_of(*_previous(start.month, start.year))


def season_starts_between(first: datetime, last: datetime) -> list[datetime]:
    """Season starts in ``(first, last]``, oldest first (chart markers)."""
    found: list[datetime] = []
    boundary = season_end(first)
    while boundary <= last:
        found.append(boundary)
        boundary = season_end(boundary)
    return found
