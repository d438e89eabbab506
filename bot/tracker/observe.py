"""Turning observations into stored history, in one transaction per batch.

Both the tracker and ``/player`` (for a tracked player) come through here, so
a change is recorded once whoever saw it first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg

from bot.profile import PlayerProfile
from bot.tracker.diff import Change, Event, diff, left_clan, merge_member
from db import players
from db import tracker as sql

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Observation:
    profile: PlayerProfile
    at: datetime


async def _enqueue_feed(con: asyncpg.Connection, event_ids: list[int]) -> None:
    """Queue feed posts in the same transaction as the events (the outbox)."""
    if not event_ids:
        return
    try:
        from db import feeds
    except ImportError:  # the feed is optional; without it events are only stored
        return
    await feeds.enqueue_events(con, event_ids)


async def record_players(con: asyncpg.Connection, observations: Sequence[Observation]) -> int:
    """Diff full profiles against the stored state and write the result.

    The caller holds a transaction. Stored rows are locked first, so two
    trackers that observed the same player cannot both write: an observation
    not newer than the stored one is dropped. Returns the number of events.
    """
    if not observations:
        return 0
    latest: dict[str, Observation] = {}
    for obs in observations:
        seen = latest.get(obs.profile.tag)
        if seen is None or obs.at > seen.at:
            latest[obs.profile.tag] = obs
    states = await sql.load_states(con, sorted(latest))
    # Donation counters of a member of a polled clan come from the clan's
    # member list only: mixing two differently cached sources would look like
    # counter resets.
    clan_sourced = await sql.polled_clans(
        con, sorted({o.profile.clan_tag for o in latest.values() if o.profile.clan_tag})
    )
    changes: list[Change] = []
    for tag, obs in latest.items():
        state, fetched_at = states.get(tag, (None, None))
        if fetched_at is not None and obs.at <= fetched_at:
            continue
        profile = obs.profile
        if (
            state is not None
            and profile.clan_tag in clan_sourced
            and profile.clan_tag == state.profile.clan_tag
        ):
            profile = replace(
                profile,
                donations=state.profile.donations,
                donations_received=state.profile.donations_received,
            )
        changes.append(diff(state, profile, obs.at))
    event_ids = await sql.save_changes(con, changes)
    await _enqueue_feed(con, event_ids)
    return len(event_ids)


async def record_clan(
    con: asyncpg.Connection,
    clan_tag: str,
    data: dict[str, Any],
    previous_members: Sequence[str],
    at: datetime,
    interval: float,
) -> int:
    """Apply one clan observation: members' stats, joins and leaves, tracking.

    Returns the number of events written.
    """
    members = {
        m["tag"]: m
        for m in data.get("memberList") or ()
        if isinstance(m, dict) and isinstance(m.get("tag"), str)
    }
    name = data.get("name") if isinstance(data.get("name"), str) else None
    current = sorted(members)
    before = set(previous_members)
    leavers = sorted(before - set(current))
    states = await sql.load_states(con, sorted(set(current) | set(leavers)))

    changes: list[Change] = []
    extra: list[Event] = []
    needs_full: list[str] = []
    for tag in current:
        state, fetched_at = states.get(tag, (None, None))
        if state is None:
            needs_full.append(tag)
            # The first clan poll is the baseline; later arrivals are joins.
            if before and tag not in before:
                extra.append(Event(tag, at, "clan_join", None, clan_tag, None, {"clan_name": name}))
            continue
        if fetched_at is not None and at <= fetched_at:
            continue
        merged = merge_member(state.profile, members[tag], clan_tag, name)
        changes.append(diff(state, merged, at))
    for tag in leavers:
        state, fetched_at = states.get(tag, (None, None))
        if state is None or state.profile.clan_tag != clan_tag:
            continue  # already seen elsewhere by a full poll
        if fetched_at is not None and at <= fetched_at:
            continue
        changes.append(diff(state, left_clan(state.profile), at))

    event_ids = await sql.save_changes(con, changes, extra)
    await sql.save_clan_membership(con, clan_tag, name, current, leavers, needs_full, interval)
    await _enqueue_feed(con, event_ids)
    return len(event_ids)


async def record_events(con: asyncpg.Connection, events: Sequence[Event]) -> int:
    """Events with no stat change behind them (an account gone)."""
    event_ids = await sql.insert_events(con, events)
    await _enqueue_feed(con, event_ids)
    return len(event_ids)


async def record_lookup(con: asyncpg.Connection, profile: PlayerProfile, at: datetime) -> None:
    """Store a profile fetched by a command.

    A tracked player's lookup is an observation like any poll, so a change
    it sees is recorded in history rather than silently overwritten.
    """
    async with con.transaction():
        if await sql.scheduled(con, [profile.tag]):
            await record_players(con, [Observation(profile, at)])
        else:
            await players.upsert_profile(con, profile, at)
