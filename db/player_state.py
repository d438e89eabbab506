"""The tracker's write path: a player's stored state, locked, read, and written back.

Every reading of a tracked player (a poll, a clan's member list, a command's
lookup) comes through here inside one transaction: lock the players, read
their state, let bot.tracker decide what changed, then write the new state,
the history row, the season credits and the events together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import asyncpg

from db.activity import mark_active
from db.model import LEGACY_ANCHOR, Change, CounterState, Event, Pending, Stored, Witness
from db.players import (
    PROFILE_COLUMNS,
    PROFILE_PLACEHOLDERS,
    PROFILE_SELECT,
    PROFILE_UPDATES,
    profile_args,
    profile_from_row,
)
from db.schedule import WITNESS_GAP

# Keys of the two-int advisory lock space (distinct from the one-bigint space
# the migration runner and the feed sender use).
PLAYER_LOCK_SPACE = 0x504C  # "PL"

# One writer per player at a time, also for a player with no row yet (two
# first sightings would otherwise both be baselines). Taken in the order of
# the lock keys (two tags may share one), so two batches cannot deadlock.
LOCK_PLAYERS = """
SELECT count(pg_advisory_xact_lock($2, k))
FROM (SELECT DISTINCT hashtext(t) AS k FROM unnest($1::text[]) AS u (t) ORDER BY k) AS s
"""

VOID_WITNESSES = """
UPDATE player_counters SET witness_lifetime = NULL, witness_counter = NULL,
    witness_total = NULL, witness_season = NULL, witness_at = NULL
WHERE tag = ANY($1::text[]) AND untracked_at <= $2::timestamptz - $3::interval
  AND witness_lifetime IS NOT NULL
"""

LOAD_STATES = (
    "SELECT "
    + ", ".join("p." + c for c in PROFILE_COLUMNS)
    + """, p.fetched_at, p.donations_total, p.received_total, p.changed_at,
       c.season, c.tag IS NOT NULL AS has_counters, c.clan_tag AS epoch_clan, c.last_list,
       c.last_profile, c.witness_lifetime, c.witness_counter, c.witness_total,
       c.witness_season, c.witness_at, c.anchor, c.anchor_at, c.epoch_source, c.epoch_at,
       c.recent_clans, c.pending_endpoint, c.pending_clan, c.pending_counters
FROM players p LEFT JOIN player_counters c USING (tag)
WHERE p.tag = ANY($1::text[])
ORDER BY p.tag
FOR UPDATE OF p
"""
)

_N = len(PROFILE_COLUMNS)
SAVE_STATE = f"""
INSERT INTO players ({PROFILE_SELECT}, fetched_at, donations_total, received_total, changed_at)
VALUES ({PROFILE_PLACEHOLDERS}, ${_N + 1}, ${_N + 2}, ${_N + 3}, ${_N + 4})
ON CONFLICT (tag) DO UPDATE SET {PROFILE_UPDATES},
    fetched_at = EXCLUDED.fetched_at,
    donations_total = EXCLUDED.donations_total, received_total = EXCLUDED.received_total,
    changed_at = COALESCE(EXCLUDED.changed_at, players.changed_at)
"""

SAVE_COUNTERS = """
INSERT INTO player_counters (tag, season, clan_tag, last_list, last_profile, witness_lifetime,
                             witness_counter, witness_total, witness_season, witness_at,
                             anchor, anchor_at, epoch_source, epoch_at, recent_clans,
                             pending_endpoint, pending_clan, pending_counters)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
ON CONFLICT (tag) DO UPDATE SET
    season = EXCLUDED.season, clan_tag = EXCLUDED.clan_tag, last_list = EXCLUDED.last_list,
    last_profile = EXCLUDED.last_profile, witness_lifetime = EXCLUDED.witness_lifetime,
    witness_counter = EXCLUDED.witness_counter, witness_total = EXCLUDED.witness_total,
    witness_season = EXCLUDED.witness_season, witness_at = EXCLUDED.witness_at,
    anchor = EXCLUDED.anchor, anchor_at = EXCLUDED.anchor_at,
    epoch_source = EXCLUDED.epoch_source, epoch_at = EXCLUDED.epoch_at,
    recent_clans = EXCLUDED.recent_clans, pending_endpoint = EXCLUDED.pending_endpoint,
    pending_clan = EXCLUDED.pending_clan,
    pending_counters = EXCLUDED.pending_counters
"""

# Two readings of the same instant (a clan's list and a profile, written one after
# the other under the player's lock): the later write is the state, so it wins.
INSERT_HISTORY = """
INSERT INTO player_history (
    tag, observed_at, trophies, best_trophies, donations, donations_received, attack_wins,
    defense_wins, war_stars, exp_level, town_hall, builder_trophies, capital_contributions,
    donations_total, received_total
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (tag, observed_at) DO UPDATE SET
    trophies = EXCLUDED.trophies, best_trophies = EXCLUDED.best_trophies,
    donations = EXCLUDED.donations, donations_received = EXCLUDED.donations_received,
    attack_wins = EXCLUDED.attack_wins, defense_wins = EXCLUDED.defense_wins,
    war_stars = EXCLUDED.war_stars, exp_level = EXCLUDED.exp_level,
    town_hall = EXCLUDED.town_hall, builder_trophies = EXCLUDED.builder_trophies,
    capital_contributions = EXCLUDED.capital_contributions,
    donations_total = EXCLUDED.donations_total, received_total = EXCLUDED.received_total
"""

INSERT_EVENTS = """
INSERT INTO player_events (tag, occurred_at, kind, old_value, new_value, delta, detail)
SELECT u.tag, u.at, u.kind, u.old, u.new, u.delta, u.detail
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[],
            $7::jsonb[]) WITH ORDINALITY AS u(tag, at, kind, old, new, delta, detail, n)
ORDER BY u.n
RETURNING id
"""

ADD_SEASON = """
INSERT INTO player_seasons (tag, season_start, donations, received) VALUES ($1, $2, $3, $4)
ON CONFLICT (tag, season_start) DO UPDATE SET
    donations = player_seasons.donations + EXCLUDED.donations,
    received = player_seasons.received + EXCLUDED.received
"""


HAS_HISTORY = "SELECT EXISTS (SELECT 1 FROM players WHERE tag = $1 AND changed_at IS NOT NULL)"


async def has_history(con: asyncpg.Connection, tag: str) -> bool:
    """The tracker has read this player before (their row is its state, not a cache)."""
    return bool(await con.fetchval(HAS_HISTORY, tag))


async def lock_players(con: asyncpg.Connection, tags: Sequence[str]) -> None:
    """Hold the per-player write locks until the transaction ends."""
    if tags:
        await con.fetchval(LOCK_PLAYERS, list(tags), PLAYER_LOCK_SPACE)


def _pair(value: Sequence[int] | None) -> tuple[int, int] | None:
    return (int(value[0]), int(value[1])) if value is not None and len(value) == 2 else None


def _counters(row: asyncpg.Record, legacy_season: datetime) -> CounterState:
    witness = None
    if row["witness_lifetime"] is not None:
        witness = Witness(
            lifetime=row["witness_lifetime"],
            counter=row["witness_counter"],
            total=row["witness_total"],
            season=row["witness_season"],
            at=row["witness_at"],
        )
    pending = None
    counters = _pair(row["pending_counters"])
    if row["pending_endpoint"] is not None and counters is not None:
        pending = Pending(row["pending_endpoint"], row["pending_clan"], *counters)
    return CounterState(
        # Rows stored before the counter model have no counters row: their epoch is
        # the season of their last reading, in the clan it showed.
        season=row["season"] or legacy_season,
        clan_tag=row["epoch_clan"] if row["has_counters"] else row["clan_tag"],
        donations=row["donations"],
        received=row["donations_received"],
        donations_total=row["donations_total"],
        received_total=row["received_total"],
        last_list=_pair(row["last_list"]),
        last_profile=_pair(row["last_profile"]),
        witness=witness,
        # A legacy row's last reading came from an unknown endpoint at fetched_at: only a
        # reading certainly newer than that is ordered after it.
        anchor=row["anchor"] if row["has_counters"] else LEGACY_ANCHOR,
        anchor_at=row["anchor_at"] if row["has_counters"] else row["fetched_at"],
        epoch_source=row["epoch_source"],
        epoch_at=row["epoch_at"],
        recent_clans=tuple(
            (clan, datetime.fromisoformat(ended)) for clan, ended in row["recent_clans"] or ()
        ),
        pending=pending,
    )


async def load_states(
    con: asyncpg.Connection,
    tags: Sequence[str],
    season_of: Callable[[datetime], datetime],
    at: datetime,
) -> dict[str, tuple[Stored | None, datetime]]:
    """Read the stored state of ``tags`` (locked by the caller) for readings at ``at``:
    ``tag -> (state or None, fetched_at)``.

    ``season_of(moment)`` names the season a moment falls in (for rows stored
    before the counter model). A profile stored by a plain lookup but never
    read by the tracker has no state (its next reading is a baseline), but its
    ``fetched_at`` still orders readings. The witness of a player nobody
    tracked for longer than ``schedule.WITNESS_GAP`` before ``at`` is dropped
    first (see ``schedule.RETRACKED``).
    """
    await con.execute(VOID_WITNESSES, list(tags), at, WITNESS_GAP)
    rows = await con.fetch(LOAD_STATES, list(tags))
    found: dict[str, tuple[Stored | None, datetime]] = {}
    for row in rows:
        state = None
        if row["changed_at"] is not None:
            counters = _counters(row, season_of(row["fetched_at"]))
            state = Stored(profile_from_row(row), row["fetched_at"], counters)
        found[row["tag"]] = (state, row["fetched_at"])
    return found


def _state_args(change: Change) -> tuple[object, ...]:
    s = change.stored
    return (
        *profile_args(s.profile),
        s.fetched_at,
        s.counters.donations_total,
        s.counters.received_total,
        s.fetched_at if change.history else None,
    )


def _counter_args(change: Change) -> tuple[object, ...]:
    c = change.stored.counters
    w, p = c.witness, c.pending
    return (
        change.stored.profile.tag,
        c.season,
        c.clan_tag,
        list(c.last_list) if c.last_list else None,
        list(c.last_profile) if c.last_profile else None,
        w.lifetime if w else None,
        w.counter if w else None,
        w.total if w else None,
        w.season if w else None,
        w.at if w else None,
        c.anchor,
        c.anchor_at,
        c.epoch_source,
        c.epoch_at,
        [[clan, ended.isoformat()] for clan, ended in c.recent_clans],
        p.endpoint if p else None,
        p.clan_tag if p else None,
        [p.donations, p.received] if p else None,
    )


def _history_args(change: Change) -> tuple[object, ...]:
    s = change.stored
    p = s.profile
    return (
        p.tag, s.fetched_at, p.trophies, p.best_trophies, p.donations, p.donations_received,
        p.attack_wins, p.defense_wins, p.war_stars, p.exp_level, p.town_hall,
        p.builder_trophies, p.capital_contributions, s.counters.donations_total,
        s.counters.received_total,
    )  # fmt: skip


async def insert_events(con: asyncpg.Connection, events: Sequence[Event]) -> list[int]:
    if not events:
        return []
    rows = await con.fetch(
        INSERT_EVENTS,
        [e.tag for e in events],
        [e.occurred_at for e in events],
        [e.kind for e in events],
        [e.old_value for e in events],
        [e.new_value for e in events],
        [e.delta for e in events],
        [e.detail for e in events],
    )
    return [r["id"] for r in rows]


async def save_changes(
    con: asyncpg.Connection, changes: Sequence[Change], extra_events: Sequence[Event] = ()
) -> list[int]:
    """Write states, counters, history rows, season credits and events; returns event ids.

    Runs inside the caller's transaction, after ``lock_players`` and ``load_states``.
    """
    if changes:
        await con.executemany(SAVE_STATE, [_state_args(c) for c in changes])
        await con.executemany(SAVE_COUNTERS, [_counter_args(c) for c in changes])
        history = [_history_args(c) for c in changes if c.history]
        if history:
            await con.executemany(INSERT_HISTORY, history)
        seasons: dict[tuple[str, datetime], list[int]] = {}
        for change in changes:
            for credit in change.credits:
                key = (change.stored.profile.tag, credit.season)
                totals = seasons.setdefault(key, [0, 0])
                totals[0] += credit.donations
                totals[1] += credit.received
        if seasons:
            await con.executemany(
                ADD_SEASON, [(tag, season, d, r) for (tag, season), (d, r) in seasons.items()]
            )
        await mark_active(
            con,
            (
                (c.stored.profile.tag, c.stored.fetched_at, ",".join(c.active))
                for c in changes
                if c.active
            ),
        )
    events = [e for c in changes for e in c.events] + list(extra_events)
    return await insert_events(con, events)
