"""From the stored state and a new reading to history, events and credits.

Pure functions, no I/O: the tracker's write path calls ``observe`` inside
the transaction that holds the player locked. The donation counters follow
the model in ``bot.tracker.counters``; every other stat is shown as the
game reports it, and a change of one is an event.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.battles.watch import battled
from bot.profile import league_name
from bot.tracker.activity import signs_of_play
from bot.tracker.counters import (
    PROFILE,
    CounterReading,
    Hold,
    Outcome,
    apply,
    first_reading,
    is_ordered,
)
from bot.tracker.events import NUMERIC_EVENTS
from db.model import STATS, Change, Event, PlayerProfile, Stored


def observe(
    previous: Stored | None,
    profile: PlayerProfile,
    at: datetime,
    *,
    source: str = PROFILE,
    list_of: str | None = None,
    left: bool = False,
) -> Change:
    """What reading ``profile`` at ``at`` changes.

    ``source`` is the kind of endpoint the counters come from (``LIST`` for a
    clan's member list, ``list_of`` naming the clan); ``left`` marks a member
    that list no longer shows.
    """
    reading = CounterReading(
        source=source,
        at=at,
        clan_tag=profile.clan_tag,
        donations=profile.donations,
        received=profile.donations_received,
        lifetime=profile.lifetime_donations,
        left=left,
        list_of=list_of,
    )
    if previous is None:
        first = first_reading(reading)
        # A baseline: nothing to compare with, so no sign of play either.
        stored = Stored(
            replace(profile, lifetime_donations=None, games_champion=None), at, first.state
        )
        return Change(stored, True, [], first.credits)
    ordered = is_ordered(previous.counters, reading)
    outcome = apply(previous.counters, reading)
    old = previous.profile
    if outcome.hold is Hold.STALE:
        if left and old.clan_tag == list_of:
            # The clan's list no longer shows the player: the membership follows it (the
            # guild stops tracking a clan-only member now, and a leave it never posted
            # would be lost). The counters wait for a reading that can place the reset;
            # a list answer from before a rejoin shows the rejoin next, as a join.
            shown = replace(old, clan_tag=None, clan_name=None, role=None)
            stored = Stored(shown, previous.fetched_at, outcome.state)
            return Change(stored, False, _events(old, shown, at, outcome), [])
        # Maybe older than what is stored: none of it is kept (its clan, its trophies),
        # only what the counter model learned of its endpoint.
        return Change(replace(previous, counters=outcome.state), False, [], [])
    if not ordered:
        # Maybe older than the last reading of another endpoint: the stats that endpoint
        # also shows would undo fresher ones (trophies back and forth), so they are kept.
        # Its clan, which the counter model placed (a real move), is taken; so are the
        # stats only a full profile shows: they were last stored from a full profile,
        # and one endpoint's answers come in order.
        moved = profile.clan_tag != old.clan_tag
        base = old
        if source == PROFILE:
            base = replace(old, **{f: getattr(profile, f) for f in PROFILE_ONLY_FIELDS})
        profile = replace(
            base,
            clan_tag=profile.clan_tag,
            clan_name=profile.clan_name,
            role=profile.role if moved else old.role,
        )
    new = replace(
        profile,
        # The stored counters are the model's baseline: an undecided reading keeps it.
        donations=outcome.state.donations,
        donations_received=outcome.state.received,
        lifetime_donations=None,
        games_champion=None,
    )
    changed = bool(outcome.credits) or any(old.stat(s) != new.stat(s) for s in STATS)
    stored = Stored(new, at, outcome.state)
    active = signs_of_play(old, new, outcome.donations, outcome.received, full=source == PROFILE)
    return Change(
        stored, changed, _events(old, new, at, outcome), outcome.credits, active, battled(old, new)
    )


def _events(old: PlayerProfile, new: PlayerProfile, at: datetime, outcome: Outcome) -> list[Event]:
    tag = new.tag
    events: list[Event] = []
    for stat, kind in NUMERIC_EVENTS.items():
        before, after = old.stat(stat), new.stat(stat)
        if before != after:
            events.append(Event(tag, at, kind, str(before), str(after), after - before))
    if outcome.donations > 0:
        events.append(Event(tag, at, "donations", None, None, outcome.donations))
    if outcome.received > 0:
        events.append(Event(tag, at, "received", None, None, outcome.received))
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


# -- partial readings from a clan's member list ----------------------------------------

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


# What a full profile shows and a clan's member list does not (MEMBER_FIELDS).
PROFILE_ONLY_FIELDS = (
    "best_trophies",
    "war_stars",
    "attack_wins",
    "defense_wins",
    "best_builder_trophies",
    "builder_hall",
    "capital_contributions",
    "heroes",
)


def merge_member(
    previous: PlayerProfile, member: dict[str, Any], clan_tag: str, clan_name: str | None
) -> PlayerProfile:
    """The stored profile updated with what a clan's member list says of the player."""
    values: dict[str, Any] = {}
    for key, attr in MEMBER_FIELDS.items():
        value = member.get(key)
        if (isinstance(value, int) and not isinstance(value, bool)) or (
            attr in {"name", "role"} and isinstance(value, str)
        ):
            values[attr] = value
    league = league_name(member)
    if league is not None:
        values["league"] = league
    return replace(
        previous,
        clan_tag=clan_tag,
        clan_name=clan_name,
        lifetime_donations=None,
        games_champion=None,
        **values,
    )


def left_clan(previous: PlayerProfile) -> PlayerProfile:
    """The stored profile of a member the clan's list no longer shows."""
    return replace(
        previous,
        clan_tag=None,
        clan_name=None,
        role=None,
        lifetime_donations=None,
        games_champion=None,
    )
