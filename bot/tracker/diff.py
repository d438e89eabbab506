"""From the stored state and a new observation to history, events and season gains.

Pure functions, no I/O: the tracker's write path calls ``diff`` inside the
transaction that holds the stored rows locked.

Donation counters reset in the game at each season end and when a player
leaves a clan. The running totals (``donations_total``, ``received_total``)
add up what was gained between polls: the whole counter after a reset, the
difference otherwise. What happens between two polls that cancel out cannot
be seen by polling.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.profile import STATS, PlayerProfile
from bot.tracker.events import NUMERIC_EVENTS
from bot.tracker.seasons import season_start


@dataclass(frozen=True, slots=True)
class Stored:
    """A player's stored state: the last profile and the running totals."""

    profile: PlayerProfile
    fetched_at: datetime
    donations_total: int
    received_total: int


@dataclass(frozen=True, slots=True)
class Event:
    tag: str
    occurred_at: datetime
    kind: str
    old_value: str | None = None
    new_value: str | None = None
    delta: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Change:
    """What one observation changes."""

    stored: Stored  # the new stored state
    history: bool  # write a history row (a stat changed, or the first sighting)
    events: list[Event]
    season: datetime
    season_donations: int
    season_received: int


def _counter_gain(old: int, new: int, reset: bool) -> int:
    if reset or new < old:
        return new
    return new - old


def diff(previous: Stored | None, profile: PlayerProfile, at: datetime) -> Change:
    season = season_start(at)
    if previous is None:
        stored = Stored(profile, at, profile.donations, profile.donations_received)
        return Change(stored, True, [], season, profile.donations, profile.donations_received)

    old = previous.profile
    # Counters restart at a season boundary and on leaving the clan.
    reset = season_start(previous.fetched_at) != season or old.clan_tag != profile.clan_tag
    gained = _counter_gain(old.donations, profile.donations, reset)
    got = _counter_gain(old.donations_received, profile.donations_received, reset)
    stored = Stored(profile, at, previous.donations_total + gained, previous.received_total + got)
    changed = any(old.stat(s) != profile.stat(s) for s in STATS)
    return Change(stored, changed, _events(old, profile, at, gained, got), season, gained, got)


def _events(
    old: PlayerProfile, new: PlayerProfile, at: datetime, gained: int, got: int
) -> list[Event]:
    tag = new.tag
    events: list[Event] = []
    for stat, kind in NUMERIC_EVENTS.items():
        before, after = old.stat(stat), new.stat(stat)
        if before != after:
            events.append(Event(tag, at, kind, str(before), str(after), after - before))
    if gained > 0:
        events.append(Event(tag, at, "donations", None, None, gained))
    if got > 0:
        events.append(Event(tag, at, "received", None, None, got))
    for hero, level in new.heroes.items():
        before = old.heroes.get(hero, 0)
        if level > before:
            events.append(
                Event(tag, at, "hero", str(before), str(level), level - before, {"hero": hero})
            )
    if old.clan_tag != new.clan_tag:
        if old.clan_tag:
            events.append(
                Event(tag, at, "clan_leave", old.clan_tag, None, None, {"clan_name": old.clan_name})
            )
        if new.clan_tag:
            events.append(
                Event(tag, at, "clan_join", None, new.clan_tag, None, {"clan_name": new.clan_name})
            )
    elif new.clan_tag and old.role != new.role and old.role and new.role:
        events.append(Event(tag, at, "role", old.role, new.role))
    if old.name != new.name:
        events.append(Event(tag, at, "name", old.name, new.name))
    if old.league != new.league:
        events.append(Event(tag, at, "league", old.league, new.league))
    return events


# -- partial observations from a clan's member list ------------------------------------

MEMBER_FIELDS = {
    "name": "name",
    "role": "role",
    "expLevel": "exp_level",
    "trophies": "trophies",
    "builderBaseTrophies": "builder_trophies",
    "donations": "donations",
    "donationsReceived": "donations_received",
    "townHallLevel": "town_hall",
}


def merge_member(
    previous: PlayerProfile, member: dict[str, Any], clan_tag: str, clan_name: str | None
) -> PlayerProfile:
    """The stored profile updated with what a clan's member list says of the player."""
    from bot.profile import _league_name  # shared parser for league/leagueTier

    values: dict[str, Any] = {}
    for key, attr in MEMBER_FIELDS.items():
        value = member.get(key)
        if (isinstance(value, int) and not isinstance(value, bool)) or (
            attr in {"name", "role"} and isinstance(value, str)
        ):
            values[attr] = value
    league = _league_name(member)
    if league is not None:
        values["league"] = league
    return replace(previous, clan_tag=clan_tag, clan_name=clan_name, **values)


def left_clan(previous: PlayerProfile) -> PlayerProfile:
    return replace(previous, clan_tag=None, clan_name=None, role=None)
