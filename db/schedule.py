"""The tracker's schedule: leases on due players and clans, and what follows a poll.

A process takes due rows with ``FOR UPDATE SKIP LOCKED`` and marks them
leased to itself (``leased_by``) until ``leased_until``. It renews its leases
while it works, and only the owner of a lease may reschedule or release the
row: a process whose lease expired (it stalled) cannot undo the work of the
one that took over.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

LEASE_PLAYERS = """
WITH due AS (
    SELECT tag FROM player_polls
    WHERE gone_at IS NULL AND next_poll_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY next_poll_at
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE player_polls p SET leased_until = now() + make_interval(secs => $2), leased_by = $3
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
UPDATE clan_polls c SET leased_until = now() + make_interval(secs => $2), leased_by = $3
FROM due WHERE c.clan_tag = due.clan_tag
RETURNING c.clan_tag, c.members, c.name
"""

# Renewed: only the batch's own rows (a step that failed leaves its leases to
# expire), and none that a write holds right now (SKIP LOCKED: the next renewal
# gets them; taking them in another order than the write would deadlock).
RENEW_PLAYERS = """
UPDATE player_polls p SET leased_until = now() + make_interval(secs => $3)
FROM (SELECT tag FROM player_polls WHERE tag = ANY($2::text[]) AND leased_by = $1
      FOR UPDATE SKIP LOCKED) AS mine
WHERE p.tag = mine.tag
"""
RENEW_CLANS = """
UPDATE clan_polls c SET leased_until = now() + make_interval(secs => $3)
FROM (SELECT clan_tag FROM clan_polls WHERE clan_tag = ANY($2::text[]) AND leased_by = $1
      FOR UPDATE SKIP LOCKED) AS mine
WHERE c.clan_tag = mine.clan_tag
"""

# Polled: due again after the interval; players tracked only through a clan
# get their full profile less often (the clan request covers the rest).
PLAYERS_POLLED = """
UPDATE player_polls p SET
    next_poll_at = now() + make_interval(secs => $2 * CASE
        WHEN EXISTS (SELECT 1 FROM tracked_players t WHERE t.tag = p.tag AND t.direct) THEN 1
        ELSE $3 END),
    leased_until = NULL, leased_by = NULL, misses = 0, last_polled_at = now(), last_error = NULL
WHERE p.tag = ANY($1::text[]) AND p.leased_by = $4
"""

# Counts consecutive 404s only; the row is gone after $3 of them.
PLAYERS_MISSED = """
UPDATE player_polls SET
    misses = misses + 1, leased_until = NULL, leased_by = NULL, last_error = 'notFound',
    next_poll_at = now() + make_interval(secs => $2),
    gone_at = CASE WHEN misses + 1 >= $3 THEN now() END
WHERE tag = ANY($1::text[]) AND leased_by = $4
RETURNING tag, gone_at IS NOT NULL AS gone
"""

# Any other failure: try again later; a 404 streak is not broken by it.
PLAYERS_RETRY = """
UPDATE player_polls SET leased_until = NULL, leased_by = NULL, last_error = $3,
    next_poll_at = now() + make_interval(secs => $2)
WHERE tag = ANY($1::text[]) AND leased_by = $4
"""

# Released without a poll (a pause, a stop): still due, picked up again.
PLAYERS_RELEASE = """
UPDATE player_polls SET leased_until = NULL, leased_by = NULL
WHERE tag = ANY($1::text[]) AND leased_by = $2
"""
CLANS_RELEASE = """
UPDATE clan_polls SET leased_until = NULL, leased_by = NULL
WHERE clan_tag = ANY($1::text[]) AND leased_by = $2
"""

CLAN_MISSED = """
UPDATE clan_polls SET misses = misses + 1, leased_until = NULL, leased_by = NULL,
    last_error = 'notFound', next_poll_at = now() + make_interval(secs => $2),
    gone_at = CASE WHEN misses + 1 >= $3 THEN now() END
WHERE clan_tag = $1 AND leased_by = $4
"""

CLAN_RETRY = """
UPDATE clan_polls SET leased_until = NULL, leased_by = NULL, last_error = $2,
    next_poll_at = now() + make_interval(secs => $3)
WHERE clan_tag = $1 AND leased_by = $4
"""

# A new member is due at once; one already scheduled keeps its place.
SCHEDULE_PLAYERS = """
INSERT INTO player_polls (tag, next_poll_at) SELECT unnest($1::text[]), now()
ON CONFLICT (tag) DO NOTHING
"""

# A member never seen in full is due at once (the clan list lacks some stats).
DUE_NOW = "UPDATE player_polls SET next_poll_at = now() WHERE tag = ANY($1::text[])"

# Nobody tracks these tags any more: stop polling them (their history stays).
UNSCHEDULE_ORPHANS = """
WITH gone AS (
    DELETE FROM player_polls pp
    WHERE pp.tag = ANY($1::text[])
      AND NOT EXISTS (SELECT 1 FROM tracked_players tp WHERE tp.tag = pp.tag)
    RETURNING pp.tag
)
UPDATE player_counters c SET untracked_at = coalesce($2, now()) FROM gone WHERE c.tag = gone.tag
"""

# Those of $1 that were untracked (the only rows the RETRACKED* statements change).
UNTRACKED_AMONG = """
SELECT array_agg(tag) FROM player_counters
WHERE tag = ANY($1::text[]) AND untracked_at IS NOT NULL
"""

# Tracked again. After a gap the witness goes: achievements read then would credit
# the gap's donations as if made at that moment. A short gap is a move between two
# tracked clans seen as a leave, then a join (maybe by two trackers): the witness
# stands, or what was donated just before the move, which no counter showed, is lost.
RETRACKED = """
WITH r AS (
    SELECT tag, untracked_at > coalesce($3, now()) - $2::interval AS keep
    FROM player_counters WHERE tag = ANY($1::text[]) AND untracked_at IS NOT NULL
)
UPDATE player_counters c SET untracked_at = NULL,
    witness_lifetime = CASE WHEN r.keep THEN c.witness_lifetime END,
    witness_counter = CASE WHEN r.keep THEN c.witness_counter END,
    witness_total = CASE WHEN r.keep THEN c.witness_total END,
    witness_season = CASE WHEN r.keep THEN c.witness_season END,
    witness_at = CASE WHEN r.keep THEN c.witness_at END
FROM r WHERE c.tag = r.tag
"""
# So does the clan games baseline, after a longer gap: points earned while nobody tracked
# the player (maybe in another clan, maybe last month) are not this clan's, nor known to
# be this month's. A move between two clans one guild tracks can untrack the player until
# the new clan's next list (one interval): the baseline outlives that.
GAMES_GAP = timedelta(hours=1)
RETRACKED_GAMES = """
UPDATE players p SET games_champion = NULL, games_read_at = NULL, games_clan = NULL
FROM player_counters c
WHERE c.tag = p.tag AND c.tag = ANY($1::text[]) AND c.untracked_at IS NOT NULL
  AND c.untracked_at <= coalesce($3, now()) - $2::interval
"""
# And the battle log's read time: battles made while nobody tracked the player would be
# dated by the first read after the gap. They are stored undated instead (the stored read
# stays, so the battles already stored are not stored again).
RETRACKED_BATTLES = """
WITH gap AS (
    SELECT b.player_tag FROM battle_logs b JOIN player_counters c ON c.tag = b.player_tag
    WHERE c.tag = ANY($1::text[]) AND c.untracked_at IS NOT NULL
      AND c.untracked_at <= coalesce($3, now()) - $2::interval
    ORDER BY b.player_tag
    FOR UPDATE OF b
)
UPDATE battle_logs b SET read_at = NULL FROM gap WHERE b.player_tag = gap.player_tag
"""
# The longest gap that keeps the witness.
WITNESS_GAP = timedelta(minutes=10)

NEXT_DUE = """
SELECT LEAST(
    (SELECT min(next_poll_at) FROM player_polls WHERE gone_at IS NULL),
    (SELECT min(next_poll_at) FROM clan_polls WHERE gone_at IS NULL)
) - now() AS wait
"""


async def lease_players(
    con: asyncpg.Connection, limit: int, lease_seconds: float, owner: str
) -> list[str]:
    return [r["tag"] for r in await con.fetch(LEASE_PLAYERS, limit, lease_seconds, owner)]


async def lease_clans(
    con: asyncpg.Connection, limit: int, lease_seconds: float, owner: str
) -> list[asyncpg.Record]:
    return await con.fetch(LEASE_CLANS, limit, lease_seconds, owner)


async def renew(
    con: asyncpg.Connection,
    owner: str,
    players: Sequence[str],
    clans: Sequence[str],
    lease_seconds: float,
) -> None:
    """Push back the expiry of these leases, if ``owner`` still holds them."""
    if players:
        await con.execute(RENEW_PLAYERS, owner, list(players), lease_seconds)
    if clans:
        await con.execute(RENEW_CLANS, owner, list(clans), lease_seconds)


async def players_polled(
    con: asyncpg.Connection, tags: list[str], interval: float, clan_factor: float, owner: str
) -> None:
    await con.execute(PLAYERS_POLLED, tags, interval, clan_factor, owner)


async def players_missed(
    con: asyncpg.Connection, tags: list[str], interval: float, gone_after: int, owner: str
) -> list[str]:
    """Count a 404 for each tag; returns the tags now considered gone."""
    rows = await con.fetch(PLAYERS_MISSED, tags, interval, gone_after, owner)
    return [r["tag"] for r in rows if r["gone"]]


async def players_retry(
    con: asyncpg.Connection, tags: list[str], delay: float, error: str, owner: str
) -> None:
    await con.execute(PLAYERS_RETRY, tags, delay, error, owner)


async def release(
    con: asyncpg.Connection, players: Sequence[str], clans: Sequence[str], owner: str
) -> None:
    if players:
        await con.execute(PLAYERS_RELEASE, list(players), owner)
    if clans:
        await con.execute(CLANS_RELEASE, list(clans), owner)


async def clan_missed(
    con: asyncpg.Connection, clan_tag: str, delay: float, gone_after: int, owner: str
) -> None:
    await con.execute(CLAN_MISSED, clan_tag, delay, gone_after, owner)


async def clan_retry(
    con: asyncpg.Connection, clan_tag: str, error: str, delay: float, owner: str
) -> None:
    await con.execute(CLAN_RETRY, clan_tag, error, delay, owner)


async def schedule_players(
    con: asyncpg.Connection, tags: Sequence[str], at: datetime | None = None
) -> None:
    """Poll ``tags``, tracked (again) as a reading at ``at`` showed (None: now)."""
    await con.execute(SCHEDULE_PLAYERS, list(tags))
    await retracked(con, tags, at)


async def retracked(
    con: asyncpg.Connection, tags: Sequence[str], at: datetime | None = None
) -> None:
    """``tags`` are tracked (again) at ``at``: a witness kept over a short gap stands."""
    if not tags:
        return
    # Every clan poll passes its whole list; usually nobody in it was untracked.
    back = await con.fetchval(UNTRACKED_AMONG, list(tags))
    if back:
        await con.execute(RETRACKED_GAMES, back, GAMES_GAP, at)
        await con.execute(RETRACKED_BATTLES, back, GAMES_GAP, at)
        await con.execute(RETRACKED, back, WITNESS_GAP, at)


async def due_now(con: asyncpg.Connection, tags: Sequence[str]) -> None:
    if tags:
        await con.execute(DUE_NOW, list(tags))


async def unschedule_orphans(
    con: asyncpg.Connection, tags: Sequence[str], at: datetime | None = None
) -> None:
    """Stop polling those of ``tags`` nobody tracks, as of ``at`` (None: now)."""
    if tags:
        await con.execute(UNSCHEDULE_ORPHANS, list(tags), at)


async def seconds_to_next_due(con: asyncpg.Connection) -> float | None:
    wait = await con.fetchval(NEXT_DUE)
    return None if wait is None else wait.total_seconds()


IS_SCHEDULED = "SELECT EXISTS (SELECT 1 FROM player_polls WHERE tag = $1)"


async def is_scheduled(con: asyncpg.Connection, tag: str) -> bool:
    return bool(await con.fetchval(IS_SCHEDULED, tag))
