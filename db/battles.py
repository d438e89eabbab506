"""Queries on stored battles: the write path of a battle log read, and the reads.

``battle_logs.tail`` holds, per tracked player, the log as last read (fingerprints,
newest first): the next read is aligned against it, in a transaction that holds the
row, so two processes, a restart or a retry never store a battle twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.model import Battle

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


# Resources looted by attacks read in windows ending from $2 (today), $3 (the period)
# and $4 (the season) to now, in one pass, with whether the log was ever read.
LOOT = """
SELECT (SELECT tail IS NOT NULL FROM battle_logs WHERE player_tag = $1) AS read,
       coalesce(sum(gold) FILTER (WHERE window_end >= $2), 0)::bigint AS today_gold,
       coalesce(sum(elixir) FILTER (WHERE window_end >= $2), 0)::bigint AS today_elixir,
       coalesce(sum(dark_elixir) FILTER (WHERE window_end >= $2), 0)::bigint AS today_dark,
       count(*) FILTER (WHERE window_end >= $2) AS today_attacks,
       coalesce(sum(gold) FILTER (WHERE window_end >= $3), 0)::bigint AS period_gold,
       coalesce(sum(elixir) FILTER (WHERE window_end >= $3), 0)::bigint AS period_elixir,
       coalesce(sum(dark_elixir) FILTER (WHERE window_end >= $3), 0)::bigint AS period_dark,
       count(*) FILTER (WHERE window_end >= $3) AS period_attacks,
       coalesce(sum(gold) FILTER (WHERE window_end >= $4), 0)::bigint AS season_gold,
       coalesce(sum(elixir) FILTER (WHERE window_end >= $4), 0)::bigint AS season_elixir,
       coalesce(sum(dark_elixir) FILTER (WHERE window_end >= $4), 0)::bigint AS season_dark,
       count(*) FILTER (WHERE window_end >= $4) AS season_attacks
FROM battles
WHERE player_tag = $1 AND attack AND window_start IS NOT NULL
  AND window_end >= least($2, $3, $4)
"""


# Ranked attacks of one week (as stored since tracking began).
WEEK_ATTACKS = """
SELECT count(*) AS attacks, count(*) FILTER (WHERE stars > 0) AS wins,
       coalesce(sum(stars), 0)::bigint AS stars
FROM battles
WHERE player_tag = $1 AND season_id = $2 AND battle_type = 'ranked' AND attack
  AND window_start IS NOT NULL
"""


@dataclass(frozen=True, slots=True)
class LogState:
    """A player's stored log, locked for its writer."""

    tail: list[str] | None
    read_at: datetime | None
    season_id: int | None
    week_phase: int | None
    week_ended: int | None
    tier_id: int | None


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


async def loot(
    con: asyncpg.Connection, tag: str, today: datetime, period: datetime, season: datetime
) -> asyncpg.Record:
    row = await con.fetchrow(LOOT, tag, today, period, season)
    assert row is not None
    return row


async def week_attacks(con: asyncpg.Connection, tag: str, season_id: int) -> asyncpg.Record:
    row = await con.fetchrow(WEEK_ATTACKS, tag, season_id)
    assert row is not None
    return row


WEEK_POSTED = """
UPDATE battle_logs SET week_posted = greatest(week_posted, $2), week_ended = NULL,
    history_due_at = NULL
WHERE player_tag = $1
"""


async def week_posted(con: asyncpg.Connection, tag: str, season_id: int) -> None:
    await con.execute(WEEK_POSTED, tag, season_id)
