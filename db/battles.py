"""Queries on battle logs: the schedule of their reads, the aligned battles, and the reads.

``battle_logs`` holds, per tracked player, the log as last read (fingerprints, newest
first): the next read is aligned against it, in a transaction that holds the row, so
two processes, a restart or a retry never store a battle twice. Schedule times are
the database's clock, like every poller's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.model import Battle, LeagueWeek

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

UPSERT_TIERS = """
INSERT INTO league_tiers (id, name)
SELECT * FROM unnest($1::integer[], $2::text[])
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name WHERE league_tiers.name <> EXCLUDED.name
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

# -- the write path -------------------------------------------------------------------------

LOCK_LOG = """
SELECT tail, read_at, season_id, week_phase, week_ended, tier_id FROM battle_logs
WHERE player_tag = $1 FOR UPDATE
"""

SAVE_TAIL = "UPDATE battle_logs SET tail = $2, read_at = $3 WHERE player_tag = $1"

# Oldest first, so ids follow the order the battles happened in.
INSERT_BATTLES = """
INSERT INTO battles (player_tag, fingerprint, battle_type, attack, opponent_tag, stars,
                     destruction, gold, elixir, dark_elixir, army_share_code, window_start,
                     window_end, season_id)
SELECT $1, f, bt, a, o, s, d, g, e, de, c, $11, $12, $13
FROM unnest($2::text[], $3::text[], $4::boolean[], $5::text[], $6::smallint[],
            $7::smallint[], $8::bigint[], $9::bigint[], $10::bigint[], $14::text[])
     WITH ORDINALITY AS t(f, bt, a, o, s, d, g, e, de, c, n)
ORDER BY n
"""

INSERT_GAP = """
INSERT INTO battle_gaps (player_tag, window_start, window_end) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING
"""

UPSERT_WEEKS = """
INSERT INTO league_weeks (player_tag, season_id, tier_id, placement, league_trophies,
                          attack_wins, attack_losses, attack_stars, defense_wins,
                          defense_losses, defense_stars, max_battles)
SELECT $1, * FROM unnest($2::bigint[], $3::integer[], $4::integer[], $5::integer[],
                         $6::integer[], $7::integer[], $8::integer[], $9::integer[],
                         $10::integer[], $11::integer[], $12::integer[])
ON CONFLICT (player_tag, season_id) DO UPDATE SET
    tier_id = EXCLUDED.tier_id, placement = EXCLUDED.placement,
    league_trophies = EXCLUDED.league_trophies, attack_wins = EXCLUDED.attack_wins,
    attack_losses = EXCLUDED.attack_losses, attack_stars = EXCLUDED.attack_stars,
    defense_wins = EXCLUDED.defense_wins, defense_losses = EXCLUDED.defense_losses,
    defense_stars = EXCLUDED.defense_stars, max_battles = EXCLUDED.max_battles
"""

# -- reads ----------------------------------------------------------------------------------

LOG_STATE = """
SELECT tail IS NOT NULL AS read, read_at, played_at, season_id, tier_id
FROM battle_logs WHERE player_tag = $1
"""

# Battles read in windows that ended in [$2, $3), newest first (baseline reads excluded:
# their battles have no known day).
DAY_BATTLES = """
SELECT battle_type, attack, opponent_tag, stars, destruction, gold, elixir, dark_elixir,
       window_start, window_end
FROM battles
WHERE player_tag = $1 AND window_start IS NOT NULL AND window_end >= $2 AND window_end < $3
ORDER BY window_end DESC, id DESC
"""

GAPS_BETWEEN = """
SELECT window_start, window_end FROM battle_gaps
WHERE player_tag = $1 AND window_end >= $2 AND window_start < $3
ORDER BY window_end
"""

BASELINE_COUNT = """
SELECT count(*) AS battles, max(window_end) AS read_at FROM battles
WHERE player_tag = $1 AND window_start IS NULL
"""

# Resources looted by attacks read in windows ending at or after $2 (and before $3).
LOOT_SINCE = """
SELECT coalesce(sum(gold), 0)::bigint AS gold, coalesce(sum(elixir), 0)::bigint AS elixir,
       coalesce(sum(dark_elixir), 0)::bigint AS dark_elixir, count(*) AS attacks
FROM battles
WHERE player_tag = $1 AND attack AND window_start IS NOT NULL
  AND window_end >= $2 AND window_end < $3
"""

# Ranked attacks of one week (as stored since tracking began).
WEEK_ATTACKS = """
SELECT count(*) AS attacks, count(*) FILTER (WHERE stars > 0) AS wins,
       coalesce(sum(stars), 0)::bigint AS stars
FROM battles
WHERE player_tag = $1 AND season_id = $2 AND battle_type = 'ranked' AND attack
  AND window_start IS NOT NULL
"""

WEEKS = """
SELECT w.*, t.name AS tier_name FROM league_weeks w LEFT JOIN league_tiers t ON t.id = w.tier_id
WHERE w.player_tag = $1 ORDER BY w.season_id DESC LIMIT $2
"""

TIER_NAMES = "SELECT id, name FROM league_tiers WHERE id = ANY($1::integer[])"


@dataclass(frozen=True, slots=True)
class LogState:
    """A player's stored log, locked for its writer."""

    tail: list[str] | None
    read_at: datetime | None
    season_id: int | None
    week_phase: int | None
    week_ended: int | None
    tier_id: int | None


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


async def save_tiers(con: asyncpg.Connection, tiers: dict[int, str]) -> None:
    if tiers:
        ids = sorted(tiers)
        await con.execute(UPSERT_TIERS, ids, [tiers[i] for i in ids])


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


async def lock_log(con: asyncpg.Connection, tag: str) -> LogState | None:
    """The player's log state, held until the transaction ends; None if untracked."""
    row = await con.fetchrow(LOCK_LOG, tag)
    if row is None:
        return None
    tail = row["tail"]
    return LogState(
        tail=None if tail is None else list(tail),
        read_at=row["read_at"],
        season_id=row["season_id"],
        week_phase=row["week_phase"],
        week_ended=row["week_ended"],
        tier_id=row["tier_id"],
    )


async def save_tail(
    con: asyncpg.Connection, tag: str, tail: Sequence[str], read_at: datetime
) -> None:
    await con.execute(SAVE_TAIL, tag, list(tail), read_at)


async def insert_battles(
    con: asyncpg.Connection,
    tag: str,
    battles: Sequence[Battle],
    window_start: datetime | None,
    window_end: datetime,
    season_id: int | None,
) -> None:
    """Store ``battles`` (oldest first) as read in the window (start, end]."""
    if not battles:
        return
    b = battles
    await con.execute(
        INSERT_BATTLES, tag, [x.fingerprint for x in b], [x.battle_type for x in b],
        [x.attack for x in b], [x.opponent_tag for x in b], [x.stars for x in b],
        [x.destruction for x in b], [x.gold for x in b], [x.elixir for x in b],
        [x.dark_elixir for x in b], window_start, window_end, season_id,
        [x.army_share_code for x in b],
    )  # fmt: skip


async def insert_gap(
    con: asyncpg.Connection, tag: str, window_start: datetime, window_end: datetime
) -> None:
    await con.execute(INSERT_GAP, tag, window_start, window_end)


async def save_weeks(con: asyncpg.Connection, tag: str, weeks: Sequence[LeagueWeek]) -> None:
    if not weeks:
        return
    fields = (
        "season_id", "tier_id", "placement", "league_trophies", "attack_wins",
        "attack_losses", "attack_stars", "defense_wins", "defense_losses", "defense_stars",
        "max_battles",
    )  # fmt: skip
    await con.execute(UPSERT_WEEKS, tag, *([getattr(w, f) for w in weeks] for f in fields))


async def log_state(con: asyncpg.Connection, tag: str) -> asyncpg.Record | None:
    return await con.fetchrow(LOG_STATE, tag)


async def day_battles(
    con: asyncpg.Connection, tag: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    return await con.fetch(DAY_BATTLES, tag, start, end)


async def gaps_between(
    con: asyncpg.Connection, tag: str, start: datetime, end: datetime
) -> list[asyncpg.Record]:
    return await con.fetch(GAPS_BETWEEN, tag, start, end)


async def baseline(con: asyncpg.Connection, tag: str) -> asyncpg.Record:
    row = await con.fetchrow(BASELINE_COUNT, tag)
    assert row is not None
    return row


async def loot_between(
    con: asyncpg.Connection, tag: str, start: datetime, end: datetime
) -> asyncpg.Record:
    row = await con.fetchrow(LOOT_SINCE, tag, start, end)
    assert row is not None
    return row


async def week_attacks(con: asyncpg.Connection, tag: str, season_id: int) -> asyncpg.Record:
    row = await con.fetchrow(WEEK_ATTACKS, tag, season_id)
    assert row is not None
    return row


async def weeks(con: asyncpg.Connection, tag: str, limit: int) -> list[asyncpg.Record]:
    return await con.fetch(WEEKS, tag, limit)


async def tier_names(con: asyncpg.Connection, ids: Sequence[int]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in await con.fetch(TIER_NAMES, list(ids))}


WEEK_POSTED = """
UPDATE battle_logs SET week_posted = greatest(week_posted, $2), week_ended = NULL,
    history_due_at = NULL
WHERE player_tag = $1
"""


async def week_posted(con: asyncpg.Connection, tag: str, season_id: int) -> None:
    await con.execute(WEEK_POSTED, tag, season_id)
