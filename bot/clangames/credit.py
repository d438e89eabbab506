"""What one full profile credits to the month's clan games. Pure: no I/O.

A month's points are the rise of the lifetime "Games Champion" achievement
between full profiles read in it (or read just before it began), capped at
the month's maximum for the player across clans. The rise is credited to
the clan the member was in at the full profile before it: what a member
earned before a move goes to the clan they left, what they earn once a full
profile has shown the new clan goes to the new one. Polling cannot split a
rise between two clans when points were earned in both between two full
profiles (members tracked through a clan are read in full every second
interval in the games week); it all goes to the earlier clan
(RELIABILITY.md, with its test). The first reading is the baseline: a
member who joins mid-games counts from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from db.model import GamesState

# A baseline read this long before the month began still carries into it (a player
# polled across midnight of the 1st); an older one starts the month afresh: its rise
# may hold an earlier month's games.
CARRY_OVER = timedelta(days=1)
DEFAULT_MAXIMUM = 4000


# The game's clan games run from the 22nd, 08:00 UTC, to the 28th, 08:00 UTC; the
# hour after lets the last full profiles show the final points.
GAMES_WINDOW = ((22, 8), (28, 9))


def in_games_week(at: datetime) -> bool:
    """Whether ``at`` falls in the game's clan games (when members are polled in full
    more often). Points are credited whenever they rise, in this window or not."""
    utc = at.astimezone(UTC)
    moment = (utc.day, utc.hour)
    return GAMES_WINDOW[0] <= moment < GAMES_WINDOW[1]


def month_of(at: datetime) -> date:
    """The month ``at`` falls in (UTC), as its first day."""
    utc = at.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class GamesCredit:
    """The outcome of one reading: its new baseline, and what it credits."""

    value: int  # the new baseline (never lower than the old one)
    read_at: datetime
    clan_tag: str | None
    month: date
    points: int  # credited to ``credited_clan`` in ``month`` (0: nothing)
    credited_clan: str | None
    rise: int  # the achievement's rise, before the cap
    reached_max: bool  # this reading took the month's points to the maximum


def credit(
    state: GamesState | None,
    value: int,
    clan_tag: str | None,
    at: datetime,
    maximum: int = DEFAULT_MAXIMUM,
) -> GamesCredit | None:
    """What a full profile showing ``value`` in clan ``clan_tag`` at ``at`` credits.

    None when the reading changes nothing: older than the baseline.
    """
    month = month_of(at)
    if state is None or state.value is None or state.read_at is None:
        return GamesCredit(value, at, clan_tag, month, 0, None, 0, False)
    if at <= state.read_at:
        return None
    if state.read_at < month_start(month) - CARRY_OVER:
        return GamesCredit(value, at, clan_tag, month, 0, None, 0, False)
    rise = value - state.value
    if rise < 0:
        return None  # the achievement never falls: an answer cached from before the baseline
    if rise == 0:
        return GamesCredit(value, at, clan_tag, month, 0, None, 0, False)
    clan = state.clan_tag or clan_tag
    room = max(maximum - state.month_points, 0)
    points = min(rise, room) if clan is not None else 0
    reached = points > 0 and not state.maxed and state.month_points + points >= maximum
    return GamesCredit(value, at, clan_tag, month, points, clan, rise, reached)
