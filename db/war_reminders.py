"""Queries on war reminders: each guild's settings, and one post per war per reminder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

SET = """
INSERT INTO war_reminders (guild_id, clan_tag, channel_id, hours, set_by)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (guild_id, clan_tag) DO UPDATE SET channel_id = EXCLUDED.channel_id,
    hours = EXCLUDED.hours, set_by = EXCLUDED.set_by, set_at = now()
"""

OFF = "DELETE FROM war_reminders WHERE guild_id = $1 AND clan_tag = $2 RETURNING clan_tag"

SHOW = """
SELECT r.clan_tag, r.channel_id, r.hours, r.set_by, r.set_at, cp.name
FROM war_reminders r LEFT JOIN clan_polls cp USING (clan_tag)
WHERE r.guild_id = $1 ORDER BY r.clan_tag
"""

# Reminders whose moment has come for a war of their clan in its battle day (by the
# clock: the last poll may have seen its preparation) and that were not claimed yet for
# that war (a war is reminded once per guild and clan).
DUE = """
SELECT r.guild_id, r.clan_tag, r.channel_id, r.hours, r.set_at, w.id AS war_id, w.end_time,
       w.start_time,
       w.opponent_name, w.attacks_per_member, w.war_tag
FROM war_reminders r
JOIN wars w ON w.clan_tag = r.clan_tag AND w.closed_at IS NULL
WHERE w.end_time - make_interval(hours => r.hours) <= $1 AND $1 < w.end_time
  AND w.start_time <= $1
  AND NOT EXISTS (SELECT 1 FROM war_reminder_posts p
                  WHERE p.guild_id = r.guild_id AND p.clan_tag = r.clan_tag AND p.war_id = w.id)
ORDER BY w.end_time
"""

# Claimed by exactly one process; ``skipped`` records a reminder that must not post.
CLAIM = """
INSERT INTO war_reminder_posts (guild_id, clan_tag, war_id, channel_id, skipped)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (guild_id, clan_tag, war_id) DO NOTHING
RETURNING id
"""

# Claimed but not sent (just claimed, or the process died before the post was out):
# posted, with the same nonces, while the war runs and the reminder is still set (to
# its channel now).
UNSENT = """
SELECT p.id, p.guild_id, p.clan_tag, r.channel_id, p.war_id, p.attempts, p.parts_sent,
       p.named, w.end_time, w.opponent_name, w.attacks_per_member, w.war_tag
FROM war_reminder_posts p JOIN wars w ON w.id = p.war_id
JOIN war_reminders r ON r.guild_id = p.guild_id AND r.clan_tag = p.clan_tag
WHERE p.sent_at IS NULL AND p.skipped IS NULL AND w.closed_at IS NULL AND $1 < w.end_time
ORDER BY p.id
"""

ATTEMPT = "UPDATE war_reminder_posts SET attempts = attempts + 1 WHERE id = $1"

# One part of the post is out, naming members $5 (the first part's message is the post's).
PART_SENT = """
UPDATE war_reminder_posts SET parts_sent = $2, message_id = coalesce(message_id, $3),
    channel_id = $4, named = named || $5::text[]
WHERE id = $1
"""

SENT = "UPDATE war_reminder_posts SET sent_at = now() WHERE id = $1"

DROP = "UPDATE war_reminder_posts SET skipped = $2 WHERE id = $1 AND sent_at IS NULL"

# Members of the clan's side with attacks left, and the Discord users linked to them.
ATTACKS_LEFT = """
SELECT m.tag, m.name, m.town_hall, m.map_position,
       $2::int - (SELECT count(*) FROM war_attacks a WHERE a.war_id = m.war_id
                  AND a.attacker_tag = m.tag AND a.attacker_side = 'clan') AS left_,
       l.user_id
FROM war_members m LEFT JOIN links l ON l.tag = m.tag
WHERE m.war_id = $1 AND m.side = 'clan'
ORDER BY m.map_position
"""

# The next moment a reminder falls due: its hours before the end, or the battle day's
# start when that is later (a battle day shorter than the hours).
NEXT_MOMENT = """
SELECT min(greatest(w.end_time - make_interval(hours => r.hours), w.start_time))
FROM war_reminders r
JOIN wars w ON w.clan_tag = r.clan_tag AND w.closed_at IS NULL
WHERE greatest(w.end_time - make_interval(hours => r.hours), w.start_time) > $1
"""


async def set_reminder(
    con: asyncpg.Connection, guild_id: int, clan_tag: str, channel_id: int, hours: int, by: int
) -> None:
    await con.execute(SET, guild_id, clan_tag, channel_id, hours, by)


async def turn_off(con: asyncpg.Connection, guild_id: int, clan_tag: str) -> bool:
    return await con.fetchval(OFF, guild_id, clan_tag) is not None


async def show(con: asyncpg.Connection, guild_id: int) -> list[asyncpg.Record]:
    return await con.fetch(SHOW, guild_id)


async def due(con: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    return await con.fetch(DUE, now)


async def claim(
    con: asyncpg.Connection,
    guild_id: int,
    clan_tag: str,
    war_id: int,
    channel_id: int,
    skipped: str | None = None,
) -> int | None:
    """Claim the war's reminder for this guild; None if another process did already."""
    return await con.fetchval(CLAIM, guild_id, clan_tag, war_id, channel_id, skipped)


async def unsent(con: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    return await con.fetch(UNSENT, now)


async def attempt(con: asyncpg.Connection, post_id: int) -> None:
    await con.execute(ATTEMPT, post_id)


async def part_sent(
    con: asyncpg.Connection,
    post_id: int,
    parts: int,
    message_id: int,
    channel_id: int,
    named: Sequence[str],
) -> None:
    await con.execute(PART_SENT, post_id, parts, message_id, channel_id, list(named))


async def sent(con: asyncpg.Connection, post_id: int) -> None:
    await con.execute(SENT, post_id)


async def drop(con: asyncpg.Connection, post_id: int, why: str) -> None:
    await con.execute(DROP, post_id, why)


async def attacks_left(
    con: asyncpg.Connection, war_id: int, per_member: int
) -> list[asyncpg.Record]:
    return await con.fetch(ATTACKS_LEFT, war_id, per_member)


async def next_moment(con: asyncpg.Connection, now: datetime) -> datetime | None:
    return await con.fetchval(NEXT_MOMENT, now)
