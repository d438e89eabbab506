"""Queries on the battle poller's schedule: what the tracker's readings tell it, leases.

One ``battle_logs`` row per tracked player with a full profile. The tracker's write path
notes battles and ranked weeks (in its transaction, rows locked in tag order like every
batch's); the battle poller leases what is due. Schedule times are the database's clock,
like every poller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

# Full profiles showing a new ranked week: the week before (the profile's previous one)
# ended, and its result is read from the league history, if the player was ranked
# (``$4``: the unranked tier's id), battled since shortly before it began and it was not
# posted yet. Runs before NOTE_PROFILES moves the stored week on; rows locked in tag
# order, like every batch's.
WEEKS_ENDED = """
WITH t AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(tag, season, previous)
), ended AS (
    SELECT b.player_tag, t.previous FROM battle_logs b JOIN t ON t.tag = b.player_tag
    WHERE t.season > b.season_id
      AND t.previous IS NOT NULL AND t.previous > coalesce(b.week_posted, 0)
      AND b.tier_id IS DISTINCT FROM $4
      AND b.played_at >= to_timestamp(t.previous) - interval '7 days'
    ORDER BY b.player_tag
    FOR UPDATE OF b
)
UPDATE battle_logs b SET week_ended = ended.previous, history_due_at = now(), history_tries = 0
FROM ended WHERE b.player_tag = ended.player_tag
"""


# Seconds from an id to a reading's time that only one phase explains: a reading lies
# in its week, up to a cache age (60 s) after it; one within an hour of a turn could be
# either side of it and teaches nothing.
PHASE_MARGIN = 3600


# A full profile of a tracked player: the row exists from then on. ``battled``: the
# reading showed battles (trophies or wins moved), so the log is due now, unless it shows
# another week than the stored one (a new week resets trophies and wins: no battle; an
# older one is a cached answer from before the reset). ``baseline`` (the player has
# played this season): the first profile makes the log due once, so the battles after
# it are dated.
NOTE_PROFILES = """
INSERT INTO battle_logs AS b (player_tag, season_id, week_phase, tier_id, played_at,
                              next_poll_at)
SELECT t.tag, t.season,
       CASE WHEN extract(epoch FROM t.at) - t.season BETWEEN $7 AND 604800 - $7 THEN 0
            WHEN t.season - extract(epoch FROM t.at) BETWEEN $7 AND 604800 - $7 THEN -1
       END,
       t.tier, CASE WHEN t.battled THEN now() END,
       CASE WHEN t.battled OR t.baseline THEN now() END
FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::boolean[], $5::boolean[],
            $6::timestamptz[]) AS t(tag, season, tier, battled, baseline, at)
ON CONFLICT (player_tag) DO UPDATE SET
    played_at = CASE WHEN EXCLUDED.played_at IS NOT NULL
                          AND coalesce(EXCLUDED.season_id = b.season_id, true)
                     THEN EXCLUDED.played_at ELSE b.played_at END,
    next_poll_at = CASE WHEN EXCLUDED.played_at IS NOT NULL
                             AND coalesce(EXCLUDED.season_id = b.season_id, true)
                        THEN least(b.next_poll_at, now()) ELSE b.next_poll_at END,
    tier_id = CASE WHEN b.season_id IS NULL OR EXCLUDED.season_id IS NULL
                        OR EXCLUDED.season_id >= b.season_id
                   THEN coalesce(EXCLUDED.tier_id, b.tier_id) ELSE b.tier_id END,
    week_phase = coalesce(b.week_phase, EXCLUDED.week_phase),
    season_id = greatest(b.season_id, EXCLUDED.season_id)
"""


# A clan's member list read at $2 showed these players' trophies move: due now, unless
# the reading is in a later week than the stored one, or in a week's first $3 seconds
# (the list's cache age: it may show trophies from before the reset). Rows locked in tag
# order, like every batch's.
NOTE_PLAY = """
WITH moved AS (
    SELECT player_tag FROM battle_logs
    WHERE player_tag = ANY($1::text[])
      AND NOT coalesce(
          floor((extract(epoch FROM $2::timestamptz) - season_id) / 604800) - week_phase > 0
          OR floor((extract(epoch FROM $2::timestamptz) - $3 - season_id) / 604800)
             <> floor((extract(epoch FROM $2::timestamptz) - season_id) / 604800), false)
    ORDER BY player_tag
    FOR UPDATE
)
UPDATE battle_logs b SET played_at = now(), next_poll_at = least(b.next_poll_at, now())
FROM moved WHERE b.player_tag = moved.player_tag
"""


# Due logs and week results, found through their partial indexes (the table holds a
# 50-battle read in each row: 160 MB at 100,000 players; this takes 0.13 ms there). A
# due row of a player no longer tracked (or gone) is not leased but taken off the
# schedule, so such rows never pile up in front of the due ones. Locked in tag order.
LEASE = """
WITH candidates AS (
    (SELECT player_tag FROM battle_logs
     WHERE next_poll_at <= now() AND (leased_until IS NULL OR leased_until < now())
     ORDER BY next_poll_at LIMIT $1)
    UNION
    (SELECT player_tag FROM battle_logs
     WHERE history_due_at <= now() AND (leased_until IS NULL OR leased_until < now())
     ORDER BY history_due_at LIMIT $1)
), due AS (
    SELECT b.player_tag,
           EXISTS (SELECT 1 FROM player_polls p
                   WHERE p.tag = b.player_tag AND p.gone_at IS NULL) AS tracked,
           coalesce(b.next_poll_at <= now(), false) AS log_due,
           coalesce(b.history_due_at <= now(), false) AS history_due
    FROM battle_logs b JOIN candidates c USING (player_tag)
    WHERE b.leased_until IS NULL OR b.leased_until < now()
    ORDER BY b.player_tag
    FOR UPDATE OF b SKIP LOCKED
)
UPDATE battle_logs b SET
    leased_until = CASE WHEN due.tracked THEN now() + make_interval(secs => $2) END,
    leased_by = CASE WHEN due.tracked THEN $3 END,
    next_poll_at = CASE WHEN due.tracked THEN b.next_poll_at END,
    history_due_at = CASE WHEN due.tracked THEN b.history_due_at END
FROM due WHERE b.player_tag = due.player_tag
RETURNING b.player_tag, due.tracked, due.log_due, due.history_due, b.week_ended
"""


# After a read of the log: due again in $2 s while the player played within the last
# day (within the cache age, $5, if they played after this lease began), else not due.
# A failed read is retried after $6 s while the player plays, and a failed first read
# (the baseline) at the interval.
LOG_POLLED = """
UPDATE battle_logs SET last_polled_at = now(), last_error = $3,
    next_poll_at = CASE
        WHEN $3::text IS NOT NULL THEN CASE
            WHEN played_at > now() - interval '1 day'
                THEN now() + make_interval(secs => $6::float8)
            WHEN tail IS NULL THEN now() + make_interval(secs => $2::float8) END
        WHEN played_at > leased_until - make_interval(secs => $4::float8)
            THEN now() + make_interval(secs => least($2::float8, $5::float8))
        WHEN played_at > now() - interval '1 day' THEN now() + make_interval(secs => $2)
    END
WHERE player_tag = $1 AND leased_by = $7
"""


# After a read of the league history: done when it showed the ended week (or after
# $3 tries: given up, never asked for again), else asked again in $2 s.
HISTORY_POLLED = """
UPDATE battle_logs SET
    week_posted = CASE WHEN NOT $4 AND history_tries + 1 >= $3
                       THEN greatest(week_posted, week_ended) ELSE week_posted END,
    week_ended = CASE WHEN $4 OR history_tries + 1 >= $3 THEN NULL ELSE week_ended END,
    history_due_at = CASE WHEN $4 OR history_tries + 1 >= $3 THEN NULL
                          ELSE now() + make_interval(secs => $2) END,
    history_tries = history_tries + 1
WHERE player_tag = $1 AND leased_by = $5
"""


# Rows locked in tag order: the tracker's batches take them in that order too.
RELEASE = """
WITH mine AS (
    SELECT player_tag FROM battle_logs
    WHERE player_tag = ANY($1::text[]) AND leased_by = $2
    ORDER BY player_tag
    FOR UPDATE
)
UPDATE battle_logs b SET leased_until = NULL, leased_by = NULL
FROM mine WHERE b.player_tag = mine.player_tag
"""


@dataclass(frozen=True, slots=True)
class Lease:
    player_tag: str
    log_due: bool
    history_due: bool
    week_ended: int | None


@dataclass(frozen=True, slots=True)
class ProfileNote:
    """What a full profile of a tracked player tells the battle poller."""

    tag: str
    season: int | None
    previous: int | None
    tier: int | None
    battled: bool
    baseline: bool
    at: datetime


async def note_profiles(
    con: asyncpg.Connection, notes: Sequence[ProfileNote], unranked_tier: int
) -> None:
    if not notes:
        return
    tags = [n.tag for n in notes]
    seasons = [n.season for n in notes]
    await con.execute(WEEKS_ENDED, tags, seasons, [n.previous for n in notes], unranked_tier)
    await con.execute(
        NOTE_PROFILES, tags, seasons, [n.tier for n in notes], [n.battled for n in notes],
        [n.baseline for n in notes], [n.at for n in notes], PHASE_MARGIN,
    )  # fmt: skip


# Seconds a clan's member list may be cached (its max-age).
LIST_CACHE_AGE = 600


async def note_play(con: asyncpg.Connection, tags: Sequence[str], at: datetime) -> None:
    if tags:
        await con.execute(NOTE_PLAY, sorted(tags), at, LIST_CACHE_AGE)


async def lease(con: asyncpg.Connection, limit: int, seconds: float, owner: str) -> list[Lease]:
    rows = await con.fetch(LEASE, limit, seconds, owner)
    return [
        Lease(r["player_tag"], r["log_due"], r["history_due"], r["week_ended"])
        for r in rows
        if r["tracked"]
    ]


async def log_polled(
    con: asyncpg.Connection,
    tag: str,
    *,
    interval: float,
    error: str | None,
    lease_seconds: float,
    cache_age: float,
    retry: float,
    owner: str,
) -> None:
    await con.execute(LOG_POLLED, tag, interval, error, lease_seconds, cache_age, retry, owner)


async def history_polled(
    con: asyncpg.Connection, tag: str, *, retry: float, tries: int, done: bool, owner: str
) -> None:
    await con.execute(HISTORY_POLLED, tag, retry, tries, done, owner)


async def release(con: asyncpg.Connection, tags: Sequence[str], owner: str) -> None:
    if tags:
        await con.execute(RELEASE, list(tags), owner)
