"""Ranked weeks: promotions and demotions from consecutive weeks, and the week-end event.

A week's ``leagueTierId`` is the tier it was played in; the tier of the week after it
(or, for the week just ended, the profile's tier now) says whether it ended in a
promotion or a demotion. Tier ids grow with the league (Skeleton League 1 is
105000001, Legend League 105000034), so comparing ids is comparing leagues.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from db.model import Event, LeagueWeek

# The tier of a player who is not in a ranked league (leagues_listleaguetiers.json).
UNRANKED_TIER = 105000000
WEEK = timedelta(days=7)


def tier_name(tier_id: int | None, names: Mapping[int, str]) -> str:
    if tier_id is None:
        return "unknown league"
    if tier_id == UNRANKED_TIER:
        return names.get(tier_id, "Unranked")
    return names.get(tier_id, f"league tier {tier_id}")


def outcome(tier_id: int, next_tier_id: int | None) -> str:
    """``promoted``, ``demoted``, ``stayed`` or ``unknown`` (no later tier known)."""
    if next_tier_id is None or next_tier_id == UNRANKED_TIER:
        return "unknown"
    if next_tier_id > tier_id:
        return "promoted"
    if next_tier_id < tier_id:
        return "demoted"
    return "stayed"


@dataclass(frozen=True, slots=True)
class WeekResult:
    week: LeagueWeek
    outcome: str
    next_tier_id: int | None


def results(weeks: Sequence[LeagueWeek], current_tier: int | None) -> list[WeekResult]:
    """Each week (oldest first) with its outcome: judged by the next week's tier, the last
    one's by ``current_tier`` (the profile's now). Newest first."""
    ordered = sorted(weeks, key=lambda w: w.season_id)
    out: list[WeekResult] = []
    for i, week in enumerate(ordered):
        nxt = ordered[i + 1].tier_id if i + 1 < len(ordered) else current_tier
        # Only the week straight after says what this one ended in.
        gap = ordered[i + 1].season_id - week.season_id if i + 1 < len(ordered) else 0
        if gap > WEEK.total_seconds():
            nxt = None
        out.append(WeekResult(week, outcome(week.tier_id, nxt), nxt))
    return list(reversed(out))


def week_start(season_id: int) -> datetime:
    return datetime.fromtimestamp(season_id, UTC)


def week_of(moment: datetime, season_id: int, phase: int) -> int:
    """The ranked week ``moment`` lies in, named as the API names weeks.

    Weeks turn at ``season_id + k * 604800`` for any week's id. ``phase`` is 0 if an id
    names its week's start, -1 if its end (``battle_logs.week_phase``, learnt from a
    profile read far from a turn: which it is is not assumed)."""
    span = int(WEEK.total_seconds())
    turns = int((moment.timestamp() - season_id) // span)
    return season_id + (turns - phase) * span


def week_event(
    tag: str,
    week: LeagueWeek,
    next_tier_id: int | None,
    names: Mapping[int, str],
    at: datetime,
) -> Event:
    """``ranked_week``: the week's tier, placement and what it ended in."""
    result = outcome(week.tier_id, next_tier_id)
    return Event(
        tag,
        at,
        "ranked_week",
        tier_name(week.tier_id, names),
        tier_name(next_tier_id, names) if next_tier_id is not None else None,
        week.placement,
        {
            "season_id": week.season_id,
            "tier_id": week.tier_id,
            "next_tier_id": next_tier_id,
            "placement": week.placement,
            "league_trophies": week.league_trophies,
            "attack_wins": week.attack_wins,
            "max_battles": week.max_battles,
            "outcome": result,
        },
    )
