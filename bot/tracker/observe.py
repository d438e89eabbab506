"""Turning readings into stored history, one transaction at a time.

The tracker's polls and the commands' lookups (``/player``, ``/track``,
``/link`` of a tracked player) all come through here, so a change is
recorded once whoever saw it first, and two readers of the same player at
the same moment are serialised by the player's write lock.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.battles.watch import note_play, note_profiles
from bot.clangames.credit import DEFAULT_MAXIMUM
from bot.clangames.record import record_games
from bot.limits import MAX_TRACKED_PLAYERS
from bot.tracker.counters import LIST, PROFILE
from bot.tracker.diff import left_clan, merge_member, observe
from bot.tracker.seasons import season_start
from db import clan_membership, feeds, player_state, players, raids, schedule
from db.model import Change, Event, PlayerProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProfileReading:
    """A full profile as the API answered it at ``at``."""

    profile: PlayerProfile
    at: datetime


async def record_players(
    con: asyncpg.Connection,
    readings: Sequence[ProfileReading],
    *,
    games_max: int = DEFAULT_MAXIMUM,
    games: bool = True,
) -> int:
    """Diff full profiles against the stored state and write the result.

    The caller holds a transaction. A reading older than the stored one
    is dropped (a cached lookup must not rewrite history). Unless ``games``
    is False (a player nobody tracks), the clan games achievement is
    credited in the same transaction (``games_max``: the month's maximum), in
    the clan the tracker now holds the player to be in. Returns the number
    of events written.
    """
    if not readings:
        return 0
    latest: dict[str, ProfileReading] = {}
    for reading in readings:
        seen = latest.get(reading.profile.tag)
        if seen is None or reading.at > seen.at:
            latest[reading.profile.tag] = reading
    tags = sorted(latest)
    await player_state.lock_players(con, tags)
    states = await player_state.load_states(
        con, tags, season_start, max(r.at for r in latest.values())
    )
    changes: list[Change] = []
    shown: list[tuple[PlayerProfile, datetime]] = []
    watched: list[tuple[PlayerProfile, bool, datetime]] = []
    for tag in tags:
        reading = latest[tag]
        state, fetched_at = states.get(tag, (None, None))
        if fetched_at is not None and reading.at < fetched_at:
            continue
        at = _later(reading.at, fetched_at)
        change = observe(state, reading.profile, at, source=PROFILE)
        changes.append(change)
        watched.append((reading.profile, change.battled, at))
        # The clan as the tracker decided it (a reading maybe older than another
        # endpoint's does not move the player back to a clan they left).
        held = change.stored.profile
        shown.append(
            (replace(reading.profile, clan_tag=held.clan_tag, clan_name=held.clan_name), at)
        )
    event_ids = await player_state.save_changes(con, changes)
    await feeds.enqueue_events(con, event_ids)
    if not games:
        return len(event_ids)
    # Only tracked players' battle logs are read (``games``: the readings are of them).
    await note_profiles(con, watched)
    return len(event_ids) + await record_games(con, shown, games_max)


async def record_clan(
    con: asyncpg.Connection, clan_tag: str, data: dict[str, Any], at: datetime
) -> int:
    """Apply one reading of a clan: members' stats, joins and leaves, who is tracked.

    The caller holds a transaction. A reading older than the stored member
    list changes nothing. Returns the number of events written.
    """
    members = {
        m["tag"]: m
        for m in data.get("memberList") or ()
        if isinstance(m, dict) and isinstance(m.get("tag"), str)
    }
    name = data.get("name") if isinstance(data.get("name"), str) else None
    # Lock order: guilds, then players (commands take them in the same order).
    await clan_membership.lock_clan_guilds(con, clan_tag)
    before, read_at = await clan_membership.clan_state(con, clan_tag)
    if read_at is not None and at <= read_at:
        return 0
    current = sorted(members)
    leavers = sorted(set(before) - set(current))
    await player_state.lock_players(con, [*current, *leavers])
    states = await player_state.load_states(con, [*current, *leavers], season_start, at)

    await clan_membership.record_read(con, clan_tag, current, name, at)
    # Who was in the clan while a raid weekend ran: those who did not raid are named.
    await raids.note_roster(con, clan_tag, current, at)

    # Leavers first: their clan_leave is queued while they are still tracked (so
    # their guilds get it), then the clan lets go of them, freeing room for joiners.
    leaves: list[Change] = []
    for tag in leavers:
        state, fetched_at = states.get(tag, (None, None))
        if state is None or state.profile.clan_tag != clan_tag:
            continue  # already seen elsewhere
        if fetched_at is not None and at < fetched_at:
            continue
        left = left_clan(state.profile)
        when = _later(at, fetched_at)
        leaves.append(observe(state, left, when, source=LIST, list_of=clan_tag, left=True))
    events = await player_state.save_changes(con, leaves)
    await feeds.enqueue_events(con, events)
    await clan_membership.release_leavers(con, clan_tag, current)

    untracked = set(
        await clan_membership.follow_members(con, clan_tag, current, MAX_TRACKED_PLAYERS)
    )
    tracked = [t for t in current if t not in untracked]
    await schedule.schedule_players(con, tracked, at)
    changes: list[Change] = []
    joins: list[Event] = []
    first_seen: list[str] = []
    upgraded: list[str] = []
    for tag in tracked:
        state, fetched_at = states.get(tag, (None, None))
        if state is None:
            first_seen.append(tag)
            # The first reading of a clan is its baseline; later arrivals are joins.
            if before and tag not in before:
                joins.append(Event(tag, at, "clan_join", None, clan_tag, None, {"clan_name": name}))
            continue
        if fetched_at is not None and at < fetched_at:
            continue
        merged = merge_member(state.profile, members[tag], clan_tag, name)
        if (merged.town_hall or 0) > (state.profile.town_hall or 0) > 0:
            upgraded.append(tag)
        changes.append(
            observe(state, merged, _later(at, fetched_at), source=LIST, list_of=clan_tag)
        )
    # A member never read in full is due at once (the list lacks some stats), and so is
    # one whose Town Hall the list shows upgraded (the profile's heroes, troops and
    # war stars move with it; roles and boards read it).
    await schedule.due_now(con, [*first_seen, *upgraded])
    joined = await player_state.save_changes(con, changes, joins)
    await note_play(con, [c.stored.profile.tag for c in changes if c.battled], at)
    await feeds.enqueue_events(con, joined)
    await schedule.unschedule_orphans(con, leavers, at)
    return len(events) + len(joined)


def _later(at: datetime, fetched_at: datetime | None) -> datetime:
    """Two readings of a player at the same instant (two endpoints in one poll, a lookup
    racing a poll, a clock that did not move) are kept in the order they are written:
    one history row per instant, never one rewritten into its predecessor's twin."""
    if fetched_at is not None and at == fetched_at:
        return at + timedelta(microseconds=1)
    return at


async def record_events(con: asyncpg.Connection, events: Sequence[Event]) -> int:
    """Events with no stat change behind them (an account gone)."""
    event_ids = await player_state.insert_events(con, events)
    await feeds.enqueue_events(con, event_ids)
    return len(event_ids)


async def record_lookup(
    con: asyncpg.Connection,
    profile: PlayerProfile,
    at: datetime,
    *,
    games_max: int = DEFAULT_MAXIMUM,
) -> None:
    """Store a profile fetched by a command.

    The lookup of a player with history (tracked now, or once) is a reading
    like any poll, so a change it sees is recorded rather than silently
    overwritten: the stored counters are the counter model's baseline, and
    the last history row must stay the stored state.
    """
    async with con.transaction():
        # Locked before the check: a /track add committing meanwhile would otherwise
        # see its fresh baseline overwritten by this plain upsert.
        await player_state.lock_players(con, [profile.tag])
        scheduled = await schedule.is_scheduled(con, profile.tag)
        if scheduled or await player_state.has_history(con, profile.tag):
            # Clan games are counted only while someone tracks the player: a baseline
            # from when they were tracked would credit what they earned since, anywhere.
            await record_players(
                con, [ProfileReading(profile, at)], games_max=games_max, games=scheduled
            )
        else:
            await players.upsert_profile(con, profile, at)
