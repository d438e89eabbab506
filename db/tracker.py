"""The tracker's SQL: leases on the schedule, the batched write path, shared status."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from bot.profile import PlayerProfile
from bot.tracker.diff import Change, Event, Stored
from db.players import PROFILE_COLUMNS

# -- leases --------------------------------------------------------------------------

# A due row is taken by one process: SKIP LOCKED while the UPDATE runs, then
# ``leased_until`` keeps other processes off it until the write is done.
LEASE_PLAYERS = """
WITH due AS (
    SELECT tag FROM player_polls
    WHERE gone_at IS NULL AND next_poll_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_poll_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE player_polls p SET leased_until = now() + make_interval(secs => $2)
FROM due WHERE p.tag = due.tag
RETURNING p.tag
"""

LEASE_CLANS = """
WITH due AS (
    SELECT clan_tag FROM clan_polls
    WHERE gone_at IS NULL AND next_poll_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_poll_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE clan_polls c SET leased_until = now() + make_interval(secs => $2)
FROM due WHERE c.clan_tag = due.clan_tag
RETURNING c.clan_tag, c.members, c.name
"""

# Polled: due again after the interval; players tracked only through a clan
# get their full profile less often (the clan request covers the rest).
PLAYERS_POLLED = """
UPDATE player_polls p SET
    next_poll_at = now() + make_interval(secs => $2 * CASE
        WHEN EXISTS (SELECT 1 FROM tracked_players t WHERE t.tag = p.tag AND t.direct) THEN 1
        ELSE $3 END),
    leased_until = NULL, misses = 0, last_polled_at = now(), last_error = NULL
WHERE p.tag = ANY($1::text[])
"""

PLAYERS_MISSED = """
UPDATE player_polls SET
    misses = misses + 1, leased_until = NULL, last_error = 'notFound',
    next_poll_at = now() + make_interval(secs => $2),
    gone_at = CASE WHEN misses + 1 >= $3 THEN now() END
WHERE tag = ANY($1::text[])
RETURNING tag, gone_at IS NOT NULL AS gone
"""

PLAYERS_RETRY = """
UPDATE player_polls SET leased_until = NULL, last_error = $3,
    next_poll_at = now() + make_interval(secs => $2)
WHERE tag = ANY($1::text[])
"""

# Released without a poll (pause): still due, picked up again when resumed.
PLAYERS_RELEASE = "UPDATE player_polls SET leased_until = NULL WHERE tag = ANY($1::text[])"
CLANS_RELEASE = "UPDATE clan_polls SET leased_until = NULL WHERE clan_tag = ANY($1::text[])"

CLAN_POLLED = """
UPDATE clan_polls SET members = $2, name = $3, leased_until = NULL, misses = 0,
    last_polled_at = now(), last_error = NULL,
    next_poll_at = now() + make_interval(secs => $4)
WHERE clan_tag = $1
"""

CLAN_MISSED = """
UPDATE clan_polls SET misses = misses + 1, leased_until = NULL, last_error = $2,
    next_poll_at = now() + make_interval(secs => $3),
    gone_at = CASE WHEN $2 = 'notFound' AND misses + 1 >= $4 THEN now() END
WHERE clan_tag = $1
"""

# -- the write path --------------------------------------------------------------------

LOAD_STATES = """
SELECT tag, name, town_hall, exp_level, trophies, best_trophies, war_stars, attack_wins,
       defense_wins, donations, donations_received, builder_trophies, best_builder_trophies,
       builder_hall, capital_contributions, league, clan_tag, clan_name, role,
       heroes::text AS heroes, fetched_at, donations_total, received_total, changed_at
FROM players WHERE tag = ANY($1::text[])
ORDER BY tag
FOR UPDATE
"""

POLLED_CLANS = """
SELECT clan_tag FROM clan_polls WHERE clan_tag = ANY($1::text[]) AND gone_at IS NULL
"""

IS_SCHEDULED = "SELECT tag FROM player_polls WHERE tag = ANY($1::text[])"

SAVE_STATE = """
INSERT INTO players (
    tag, name, town_hall, exp_level, trophies, best_trophies, war_stars, attack_wins,
    defense_wins, donations, donations_received, builder_trophies, best_builder_trophies,
    builder_hall, capital_contributions, league, clan_tag, clan_name, role, heroes, fetched_at,
    donations_total, received_total, changed_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
          $19, $20::jsonb, $21, $22, $23, $24)
ON CONFLICT (tag) DO UPDATE SET
    name = EXCLUDED.name, town_hall = EXCLUDED.town_hall, exp_level = EXCLUDED.exp_level,
    trophies = EXCLUDED.trophies, best_trophies = EXCLUDED.best_trophies,
    war_stars = EXCLUDED.war_stars, attack_wins = EXCLUDED.attack_wins,
    defense_wins = EXCLUDED.defense_wins, donations = EXCLUDED.donations,
    donations_received = EXCLUDED.donations_received,
    builder_trophies = EXCLUDED.builder_trophies,
    best_builder_trophies = EXCLUDED.best_builder_trophies, builder_hall = EXCLUDED.builder_hall,
    capital_contributions = EXCLUDED.capital_contributions, league = EXCLUDED.league,
    clan_tag = EXCLUDED.clan_tag, clan_name = EXCLUDED.clan_name, role = EXCLUDED.role,
    heroes = EXCLUDED.heroes, fetched_at = EXCLUDED.fetched_at,
    donations_total = EXCLUDED.donations_total, received_total = EXCLUDED.received_total,
    changed_at = COALESCE(EXCLUDED.changed_at, players.changed_at)
"""

INSERT_HISTORY = """
INSERT INTO player_history (
    tag, observed_at, trophies, best_trophies, donations, donations_received, attack_wins,
    defense_wins, war_stars, exp_level, town_hall, builder_trophies, capital_contributions,
    donations_total, received_total
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
ON CONFLICT (tag, observed_at) DO NOTHING
"""

INSERT_EVENTS = """
INSERT INTO player_events (tag, occurred_at, kind, old_value, new_value, delta, detail)
SELECT u.tag, u.at, u.kind, u.old, u.new, u.delta, u.detail::jsonb
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[],
            $7::text[]) WITH ORDINALITY AS u(tag, at, kind, old, new, delta, detail, n)
ORDER BY u.n
RETURNING id
"""

ADD_SEASON = """
INSERT INTO player_seasons (tag, season_start, donations, received) VALUES ($1, $2, $3, $4)
ON CONFLICT (tag, season_start) DO UPDATE SET
    donations = player_seasons.donations + EXCLUDED.donations,
    received = player_seasons.received + EXCLUDED.received
"""

# -- clans -------------------------------------------------------------------------------

# Every current member is tracked by each guild that tracks the clan.
CLAN_MEMBERS_TRACKED = """
INSERT INTO tracked_players (guild_id, tag, direct, via_clan, added_by)
SELECT tc.guild_id, m.tag, false, tc.clan_tag, tc.added_by
FROM tracked_clans tc CROSS JOIN unnest($2::text[]) AS m(tag)
WHERE tc.clan_tag = $1
ON CONFLICT (guild_id, tag) DO UPDATE SET via_clan = EXCLUDED.via_clan
"""

# Members who left: the clan no longer claims them; untracked unless direct.
CLAN_LEAVERS_RELEASED = """
WITH dropped AS (
    DELETE FROM tracked_players
    WHERE via_clan = $1 AND NOT (tag = ANY($2::text[])) AND NOT direct
    RETURNING tag
)
UPDATE tracked_players SET via_clan = NULL
WHERE via_clan = $1 AND NOT (tag = ANY($2::text[])) AND direct
"""

SCHEDULE_MEMBERS = """
INSERT INTO player_polls (tag, next_poll_at) SELECT unnest($1::text[]), now()
ON CONFLICT (tag) DO NOTHING
"""

# A member never seen in full is due at once (the clan list lacks some stats).
DUE_NOW = "UPDATE player_polls SET next_poll_at = now() WHERE tag = ANY($1::text[])"

UNSCHEDULE_ORPHANS = """
DELETE FROM player_polls pp
WHERE pp.tag = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM tracked_players tp WHERE tp.tag = pp.tag)
"""

# -- shared status -----------------------------------------------------------------------

GET_STATUS = """
SELECT paused_until, pause_reason, last_sweep_started, last_sweep_finished,
       last_sweep_players, api_latency_ms, now() AS now
FROM tracker_status
"""

PAUSE = """
UPDATE tracker_status SET
    paused_until = GREATEST(paused_until, now() + make_interval(secs => $1)),
    pause_reason = $2, updated_at = now()
"""

UNPAUSE = """
UPDATE tracker_status SET paused_until = NULL, pause_reason = NULL, updated_at = now()
WHERE pause_reason IS NOT NULL
"""

RECORD_SWEEP = """
UPDATE tracker_status SET last_sweep_started = $1, last_sweep_finished = $2,
    last_sweep_players = $3, api_latency_ms = COALESCE($4, api_latency_ms), updated_at = now()
"""

BACKLOG = """
SELECT count(*) FILTER (WHERE next_poll_at <= now()) AS due,
       count(*) FILTER (WHERE gone_at IS NULL) AS active,
       count(*) FILTER (WHERE gone_at IS NOT NULL) AS gone,
       min(next_poll_at) FILTER (WHERE gone_at IS NULL) AS next_due
FROM player_polls
"""

COUNT_CLANS = "SELECT count(*) FROM clan_polls WHERE gone_at IS NULL"

PING = "SELECT 1"

NEXT_DUE = """
SELECT LEAST(
    (SELECT min(next_poll_at) FROM player_polls WHERE gone_at IS NULL),
    (SELECT min(next_poll_at) FROM clan_polls WHERE gone_at IS NULL)
) - now() AS wait
"""


def _profile(row: asyncpg.Record) -> PlayerProfile:
    values = {c: row[c] for c in PROFILE_COLUMNS}
    values["heroes"] = json.loads(row["heroes"])
    return PlayerProfile(**values)


async def load_states(
    con: asyncpg.Connection, tags: Sequence[str]
) -> dict[str, tuple[Stored | None, datetime | None]]:
    """Lock and read the stored state of ``tags``.

    Returns ``tag -> (state or None, fetched_at)``; a profile stored by a plain
    lookup but never processed by the tracker has no state (it is a baseline)
    but its ``fetched_at`` still orders observations.
    """
    rows = await con.fetch(LOAD_STATES, list(tags))
    found: dict[str, tuple[Stored | None, datetime | None]] = {}
    for row in rows:
        state = None
        if row["changed_at"] is not None:
            state = Stored(
                _profile(row), row["fetched_at"], row["donations_total"], row["received_total"]
            )
        found[row["tag"]] = (state, row["fetched_at"])
    return found


async def polled_clans(con: asyncpg.Connection, clan_tags: Sequence[str]) -> set[str]:
    return {r["clan_tag"] for r in await con.fetch(POLLED_CLANS, list(clan_tags))}


async def scheduled(con: asyncpg.Connection, tags: Sequence[str]) -> set[str]:
    return {r["tag"] for r in await con.fetch(IS_SCHEDULED, list(tags))}


def _state_args(change: Change) -> tuple[object, ...]:
    s = change.stored
    p = s.profile
    return (
        *(getattr(p, c) for c in PROFILE_COLUMNS[:-1]),
        json.dumps(p.heroes),
        s.fetched_at,
        s.donations_total,
        s.received_total,
        s.fetched_at if change.history else None,
    )


def _history_args(change: Change) -> tuple[object, ...]:
    s = change.stored
    p = s.profile
    return (
        p.tag, s.fetched_at, p.trophies, p.best_trophies, p.donations, p.donations_received,
        p.attack_wins, p.defense_wins, p.war_stars, p.exp_level, p.town_hall,
        p.builder_trophies, p.capital_contributions, s.donations_total, s.received_total,
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
        [json.dumps(e.detail) for e in events],
    )
    return [r["id"] for r in rows]


async def save_changes(
    con: asyncpg.Connection, changes: Sequence[Change], extra_events: Sequence[Event] = ()
) -> list[int]:
    """Write states, history rows, season totals and events; returns the event ids.

    Runs inside the caller's transaction, after ``load_states`` locked the rows.
    """
    if changes:
        await con.executemany(SAVE_STATE, [_state_args(c) for c in changes])
        history = [_history_args(c) for c in changes if c.history]
        if history:
            await con.executemany(INSERT_HISTORY, history)
        seasons = [
            (c.stored.profile.tag, c.season, c.season_donations, c.season_received)
            for c in changes
            if c.season_donations or c.season_received
        ]
        if seasons:
            await con.executemany(ADD_SEASON, seasons)
    events = [e for c in changes for e in c.events] + list(extra_events)
    return await insert_events(con, events)


async def save_clan_membership(
    con: asyncpg.Connection,
    clan_tag: str,
    name: str | None,
    current: list[str],
    leavers: list[str],
    needs_full: list[str],
    interval: float,
) -> None:
    """Follow joins and leaves in every guild tracking the clan; reschedule it."""
    await con.execute(CLAN_MEMBERS_TRACKED, clan_tag, current)
    await con.execute(CLAN_LEAVERS_RELEASED, clan_tag, current)
    await con.execute(SCHEDULE_MEMBERS, current)
    if needs_full:
        await con.execute(DUE_NOW, needs_full)
    if leavers:
        await con.execute(UNSCHEDULE_ORPHANS, leavers)
    await con.execute(CLAN_POLLED, clan_tag, current, name, interval)


async def lease_players(con: asyncpg.Connection, limit: int, lease_seconds: float) -> list[str]:
    return [r["tag"] for r in await con.fetch(LEASE_PLAYERS, limit, lease_seconds)]


async def lease_clans(
    con: asyncpg.Connection, limit: int, lease_seconds: float
) -> list[asyncpg.Record]:
    return await con.fetch(LEASE_CLANS, limit, lease_seconds)


async def players_polled(
    con: asyncpg.Connection, tags: list[str], interval: float, clan_factor: float
) -> None:
    await con.execute(PLAYERS_POLLED, tags, interval, clan_factor)


async def players_missed(
    con: asyncpg.Connection, tags: list[str], interval: float, gone_after: int
) -> list[str]:
    """Count a 404 for each tag; returns the tags now considered gone."""
    rows = await con.fetch(PLAYERS_MISSED, tags, interval, gone_after)
    return [r["tag"] for r in rows if r["gone"]]


async def players_retry(con: asyncpg.Connection, tags: list[str], delay: float, error: str) -> None:
    await con.execute(PLAYERS_RETRY, tags, delay, error)


async def release(con: asyncpg.Connection, players: list[str], clans: list[str]) -> None:
    if players:
        await con.execute(PLAYERS_RELEASE, players)
    if clans:
        await con.execute(CLANS_RELEASE, clans)


async def clan_missed(
    con: asyncpg.Connection, clan_tag: str, error: str, delay: float, gone_after: int
) -> None:
    await con.execute(CLAN_MISSED, clan_tag, error, delay, gone_after)


async def status(con: asyncpg.Connection) -> asyncpg.Record:
    return await con.fetchrow(GET_STATUS)


async def pause(con: asyncpg.Connection, seconds: float, reason: str) -> None:
    await con.execute(PAUSE, seconds, reason)


async def unpause(con: asyncpg.Connection) -> bool:
    return await con.execute(UNPAUSE) != "UPDATE 0"


async def record_sweep(
    con: asyncpg.Connection,
    started: datetime,
    finished: datetime,
    players: int,
    latency_ms: float | None,
) -> None:
    await con.execute(RECORD_SWEEP, started, finished, players, latency_ms)


async def backlog(con: asyncpg.Connection) -> asyncpg.Record:
    return await con.fetchrow(BACKLOG)


async def count_clans(con: asyncpg.Connection) -> int:
    return int(await con.fetchval(COUNT_CLANS))


async def seconds_to_next_due(con: asyncpg.Connection) -> float | None:
    wait = await con.fetchval(NEXT_DUE)
    return None if wait is None else wait.total_seconds()


async def ping(con: asyncpg.Connection) -> None:
    """The cheapest round trip, for /status's database latency."""
    await con.fetchval(PING)
