"""Queries on role sync: mapped roles, nickname formats, and the queue of members due.

The queue is filled by triggers (migration 0009) whenever a link or a linked
player's Town Hall, league, clan, rank or name changes, by a guild's full pass,
and by the commands. Rows are leased, not deleted, while a member is synced, so a
sync cut short by a restart is done again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from db.guild_locks import lock_guilds
from db.model import LinkedAccount, RoleConfig, RoleMapping

ENSURE_GUILD = "INSERT INTO role_guilds (guild_id) VALUES ($1) ON CONFLICT (guild_id) DO NOTHING"

# A guild with no mapping and no nickname format stops syncing (and stops being
# queued by the triggers).
FORGET_IDLE_GUILD = """
DELETE FROM role_guilds g
WHERE g.guild_id = $1 AND g.nickname_format IS NULL
  AND NOT EXISTS (SELECT 1 FROM role_maps m WHERE m.guild_id = g.guild_id)
"""

# Returns the role the kind and value gave before (NULL: newly mapped).
MAP_ROLE = """
WITH old AS (SELECT role_id FROM role_maps WHERE guild_id = $1 AND kind = $2 AND value = $3)
INSERT INTO role_maps (guild_id, kind, value, role_id) VALUES ($1, $2, $3, $4)
ON CONFLICT (guild_id, kind, value) DO UPDATE
    SET role_id = EXCLUDED.role_id, problem = NULL, problem_at = NULL
RETURNING (SELECT role_id FROM old) AS previous
"""

UNMAP_ROLE = """
DELETE FROM role_maps WHERE guild_id = $1 AND kind = $2 AND value = $3 RETURNING role_id
"""

GUILD_MAPS = """
SELECT kind, value, role_id, problem FROM role_maps WHERE guild_id = $1
ORDER BY kind, CASE WHEN kind = 'town_hall' THEN lpad(value, 3, '0') ELSE value END
"""

GUILD_CLANS = "SELECT clan_tag FROM tracked_clans WHERE guild_id = $1"

GUILD_CONFIG = """
SELECT g.nickname_format, g.owner_noted, g.nickname_problem, g.next_pass_at, g.last_pass_at,
       COALESCE(s.require_verified, false) AS verified_only
FROM role_guilds g LEFT JOIN guild_settings s USING (guild_id)
WHERE g.guild_id = $1
"""

SET_NICKNAME_FORMAT = """
INSERT INTO role_guilds (guild_id, nickname_format) VALUES ($1, $2)
ON CONFLICT (guild_id) DO UPDATE SET nickname_format = EXCLUDED.nickname_format,
    owner_noted = false, nickname_problem = NULL, updated_at = now()
"""

# Returns a row only when the problem changed: it is logged once, when it appears.
SET_ROLE_PROBLEM = """
UPDATE role_maps SET problem = $3, problem_at = now()
WHERE guild_id = $1 AND role_id = $2 AND problem IS DISTINCT FROM $3
RETURNING kind
"""

SET_NICKNAME_PROBLEM = """
UPDATE role_guilds SET nickname_problem = $2
WHERE guild_id = $1 AND nickname_problem IS DISTINCT FROM $2
RETURNING guild_id
"""

CLEAR_REFUSALS = "UPDATE role_maps SET problem = NULL WHERE guild_id = $1 AND problem = $2"

NOTE_OWNER = """
UPDATE role_guilds SET owner_noted = true WHERE guild_id = $1 AND NOT owner_noted
RETURNING guild_id
"""

PASS_NOW = "UPDATE role_guilds SET next_pass_at = now() WHERE guild_id = $1"

SYNCING_GUILDS = "SELECT guild_id FROM role_guilds WHERE guild_id = ANY($1::bigint[])"

DUE_PASSES = """
SELECT guild_id FROM role_guilds WHERE guild_id = ANY($1::bigint[]) AND next_pass_at <= now()
"""

# One process claims a guild's pass: the others see next_pass_at moved on.
CLAIM_PASSES = """
UPDATE role_guilds SET next_pass_at = now() + $2::interval, last_pass_at = now()
WHERE guild_id = ANY($1::bigint[]) AND next_pass_at <= now()
RETURNING guild_id
"""

# Commands, links and joins: due at once, ahead of any pass.
QUEUE_NOW = """
INSERT INTO role_sync_queue (guild_id, user_id, priority, reason)
SELECT $1, u, 0, $3 FROM unnest($2::bigint[]) AS u ORDER BY u
ON CONFLICT (guild_id, user_id) DO UPDATE
    SET due_at = LEAST(role_sync_queue.due_at, now()), queued_at = clock_timestamp(),
        priority = 0, reason = EXCLUDED.reason, tries = 0
"""

# A full pass adds the members not queued already and leaves the others waiting as they
# are; a member being synced right now is synced once more (the pass may follow new
# settings the sync in flight did not see).
QUEUE_PASS = """
INSERT INTO role_sync_queue (guild_id, user_id, priority, reason)
SELECT $1, u, 2, 'full pass' FROM unnest($2::bigint[]) AS u ORDER BY u
ON CONFLICT (guild_id, user_id) DO UPDATE SET queued_at = clock_timestamp()
    WHERE role_sync_queue.leased_until IS NOT NULL
"""

# What the triggers marked, into the queue of every syncing guild. Rows are inserted in
# key order, so two processes moving marks at once cannot deadlock on queue rows.
MOVE_MARKS = """
WITH moved AS (
    DELETE FROM role_sync_dirty WHERE id IN (
        SELECT id FROM role_sync_dirty ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
    )
    RETURNING user_id, priority, reason
), users AS (
    SELECT user_id, min(priority) AS priority,
           (array_agg(reason ORDER BY priority))[1] AS reason
    FROM moved GROUP BY user_id
), queued AS (
    INSERT INTO role_sync_queue (guild_id, user_id, priority, reason)
    SELECT g.guild_id, u.user_id, u.priority, u.reason
    FROM users u CROSS JOIN role_guilds g
    WHERE g.left_at IS NULL
    ORDER BY g.guild_id, u.user_id
    ON CONFLICT (guild_id, user_id) DO UPDATE
        SET due_at = LEAST(role_sync_queue.due_at, now()), queued_at = clock_timestamp(),
            priority = LEAST(role_sync_queue.priority, EXCLUDED.priority),
            reason = EXCLUDED.reason, tries = 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM moved) AS moved, (SELECT count(*) FROM queued) AS queued
"""

FORGET_QUEUE = "DELETE FROM role_sync_queue WHERE guild_id = $1"
LEFT_GUILD = "UPDATE role_guilds SET left_at = now() WHERE guild_id = $1"
BACK_IN_GUILDS = """
UPDATE role_guilds SET left_at = NULL WHERE guild_id = ANY($1::bigint[]) AND left_at IS NOT NULL
"""

LINKED_AMONG = "SELECT DISTINCT user_id FROM links WHERE user_id = ANY($1::bigint[])"

NICKED_MEMBERS = "SELECT user_id FROM role_nicknames WHERE guild_id = $1"

LEASE_DUE = """
UPDATE role_sync_queue q
SET leased_until = now() + $3::interval, leased_by = $4, tries = q.tries + 1
FROM (
    SELECT guild_id, user_id FROM role_sync_queue
    WHERE guild_id = ANY($1::bigint[]) AND due_at <= now()
      AND (leased_until IS NULL OR leased_until < now())
    ORDER BY priority, due_at, guild_id, user_id
    LIMIT $2
    FOR UPDATE SKIP LOCKED
) d
WHERE q.guild_id = d.guild_id AND q.user_id = d.user_id
RETURNING q.guild_id, q.user_id, q.queued_at, q.tries, q.reason
"""

# Only the batch being synced (a lease a failed release left behind runs out), rows
# locked in key order like every other multi-row write of the queue.
RENEW_LEASES = """
UPDATE role_sync_queue q SET leased_until = now() + $2::interval
FROM (
    SELECT guild_id, user_id FROM role_sync_queue
    WHERE (guild_id, user_id) IN (SELECT * FROM unnest($3::bigint[], $4::bigint[]))
      AND leased_by = $1
    ORDER BY guild_id, user_id
    FOR UPDATE
) r
WHERE q.guild_id = r.guild_id AND q.user_id = r.user_id
"""

# A lease given back unused: the try it counted is taken back.
RELEASE = """
UPDATE role_sync_queue SET leased_until = NULL, leased_by = NULL, tries = greatest(tries - 1, 0)
WHERE guild_id = $1 AND user_id = $2 AND leased_by = $3
"""

# Done, unless the member was queued again meanwhile: then only the lease goes. Only
# the lease's holder finishes (a lease that ran out may be another process's now).
FINISH = """
WITH gone AS (
    DELETE FROM role_sync_queue
    WHERE guild_id = $1 AND user_id = $2 AND queued_at = $3 AND leased_by = $4
    RETURNING 1
)
UPDATE role_sync_queue SET leased_until = NULL, leased_by = NULL
WHERE guild_id = $1 AND user_id = $2 AND leased_by = $4 AND NOT EXISTS (SELECT 1 FROM gone)
"""

# Queued again meanwhile (a link during the failed try): due as that asks, not later.
RETRY_LATER = """
UPDATE role_sync_queue SET leased_until = NULL, leased_by = NULL,
    due_at = CASE WHEN queued_at = $5 THEN now() + $3::interval ELSE due_at END
WHERE guild_id = $1 AND user_id = $2 AND leased_by = $4
"""

QUEUE_STATE = """
SELECT count(*) AS queued, min(due_at) AS next_due FROM role_sync_queue WHERE guild_id = $1
"""

# The league is the tier the last full profile showed (battle_logs): players.league is
# also written from clan member lists, whose older league field reuses tier names
# ("Legend League", "Unranked") for other things.
ACCOUNTS = """
SELECT l.user_id, l.tag, l.verified, l.linked_at, p.name, p.town_hall, t.name AS league,
       p.clan_tag, p.clan_name, p.role
FROM links l
LEFT JOIN players p USING (tag)
LEFT JOIN battle_logs b ON b.player_tag = l.tag
LEFT JOIN league_tiers t ON t.id = b.tier_id
WHERE l.user_id = ANY($1::bigint[])
ORDER BY l.user_id, l.linked_at, l.tag
"""

LEAGUE_ORDER = "SELECT id, name FROM league_tiers ORDER BY id"

GET_NICKNAME = "SELECT nick FROM role_nicknames WHERE guild_id = $1 AND user_id = $2"

SAVE_NICKNAME = """
INSERT INTO role_nicknames (guild_id, user_id, nick) VALUES ($1, $2, $3)
ON CONFLICT (guild_id, user_id) DO UPDATE SET nick = EXCLUDED.nick, set_at = now()
"""

FORGET_NICKNAME = "DELETE FROM role_nicknames WHERE guild_id = $1 AND user_id = $2"


@dataclass(frozen=True, slots=True)
class QueuedMember:
    guild_id: int
    user_id: int
    queued_at: datetime
    tries: int
    reason: str


@dataclass(frozen=True, slots=True)
class PassState:
    next_pass_at: datetime
    last_pass_at: datetime | None
    queued: int
    next_due: datetime | None


async def map_role(
    con: asyncpg.Connection, guild_id: int, kind: str, value: str, role_id: int
) -> int | None:
    """Map the role; the role it replaced for this kind and value, if any. A full pass
    follows at once."""
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        await con.execute(ENSURE_GUILD, guild_id)
        previous = await con.fetchval(MAP_ROLE, guild_id, kind, value, role_id)
        await con.execute(PASS_NOW, guild_id)
    return previous


async def unmap_role(con: asyncpg.Connection, guild_id: int, kind: str, value: str) -> int | None:
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        role_id = await con.fetchval(UNMAP_ROLE, guild_id, kind, value)
        await con.execute(FORGET_IDLE_GUILD, guild_id)
    return role_id


async def guild_maps(con: asyncpg.Connection, guild_id: int) -> list[RoleMapping]:
    rows = await con.fetch(GUILD_MAPS, guild_id)
    return [RoleMapping(r["kind"], r["value"], r["role_id"], r["problem"]) for r in rows]


async def guild_config(con: asyncpg.Connection, guild_id: int) -> RoleConfig | None:
    """The guild's settings, or None when it syncs neither roles nor nicknames."""
    row = await con.fetchrow(GUILD_CONFIG, guild_id)
    if row is None:
        return None
    clans = await con.fetch(GUILD_CLANS, guild_id)
    return RoleConfig(
        guild_id=guild_id,
        mappings=tuple(await guild_maps(con, guild_id)),
        tracked_clans=frozenset(r["clan_tag"] for r in clans),
        nickname_format=row["nickname_format"],
        owner_noted=row["owner_noted"],
        nickname_problem=row["nickname_problem"],
        verified_only=row["verified_only"],
    )


async def set_nickname_format(con: asyncpg.Connection, guild_id: int, fmt: str | None) -> None:
    async with con.transaction():
        await lock_guilds(con, [guild_id])
        await con.execute(SET_NICKNAME_FORMAT, guild_id, fmt)
        if fmt is None:
            await con.execute(FORGET_IDLE_GUILD, guild_id)
        else:
            await con.execute(PASS_NOW, guild_id)


async def set_role_problem(
    con: asyncpg.Connection, guild_id: int, role_id: int, problem: str | None
) -> bool:
    """Record why a role is skipped (None: it no longer is). True if that changed."""
    return bool(await con.fetch(SET_ROLE_PROBLEM, guild_id, role_id, problem))


async def set_nickname_problem(con: asyncpg.Connection, guild_id: int, problem: str | None) -> bool:
    return await con.fetchval(SET_NICKNAME_PROBLEM, guild_id, problem) is not None


async def clear_refusals(con: asyncpg.Connection, guild_id: int, refused: str) -> None:
    """A full pass tries roles Discord refused before once more."""
    await con.execute(CLEAR_REFUSALS, guild_id, refused)


async def note_owner(con: asyncpg.Connection, guild_id: int) -> bool:
    """True the first time: the owner's nickname is skipped, and said so once."""
    return await con.fetchval(NOTE_OWNER, guild_id) is not None


async def pass_now(con: asyncpg.Connection, guild_id: int) -> None:
    await con.execute(PASS_NOW, guild_id)


async def syncing_guilds(con: asyncpg.Connection, guild_ids: Sequence[int]) -> list[int]:
    return [r["guild_id"] for r in await con.fetch(SYNCING_GUILDS, list(guild_ids))]


async def due_passes(con: asyncpg.Connection, guild_ids: Sequence[int]) -> list[int]:
    return [r["guild_id"] for r in await con.fetch(DUE_PASSES, list(guild_ids))]


async def claim_passes(
    con: asyncpg.Connection, guild_ids: Sequence[int], interval: timedelta
) -> list[int]:
    """The guilds whose full pass is due, claimed for this process until ``interval``."""
    rows = await con.fetch(CLAIM_PASSES, list(guild_ids), interval)
    return [r["guild_id"] for r in rows]


async def queue_now(
    con: asyncpg.Connection, guild_id: int, user_ids: Sequence[int], reason: str
) -> None:
    """Members due at once (a command, a join), ahead of any pass."""
    if user_ids:
        await con.execute(QUEUE_NOW, guild_id, list(user_ids), reason)


async def queue_pass(con: asyncpg.Connection, guild_id: int, user_ids: Sequence[int]) -> None:
    if user_ids:
        await con.execute(QUEUE_PASS, guild_id, list(user_ids))


async def move_marks(con: asyncpg.Connection, limit: int = 5000) -> int:
    """Move what the triggers marked into the queues; how many marks were moved."""
    row = await con.fetchrow(MOVE_MARKS, limit)
    return int(row["moved"])


async def left_guild(con: asyncpg.Connection, guild_id: int) -> None:
    """The bot left: the guild's queue goes and nothing is queued for it until it is back."""
    async with con.transaction():
        await con.execute(LEFT_GUILD, guild_id)
        await con.execute(FORGET_QUEUE, guild_id)


async def back_in_guilds(con: asyncpg.Connection, guild_ids: Sequence[int]) -> None:
    await con.execute(BACK_IN_GUILDS, list(guild_ids))


async def linked_among(con: asyncpg.Connection, user_ids: Sequence[int]) -> set[int]:
    return {r["user_id"] for r in await con.fetch(LINKED_AMONG, list(user_ids))}


async def nicked_members(con: asyncpg.Connection, guild_id: int) -> set[int]:
    return {r["user_id"] for r in await con.fetch(NICKED_MEMBERS, guild_id)}


async def lease_due(
    con: asyncpg.Connection,
    guild_ids: Sequence[int],
    limit: int,
    lease: timedelta,
    holder: str = "",
) -> list[QueuedMember]:
    rows = await con.fetch(LEASE_DUE, list(guild_ids), limit, lease, holder)
    return [
        QueuedMember(r["guild_id"], r["user_id"], r["queued_at"], r["tries"], r["reason"])
        for r in rows
    ]


async def renew_leases(
    con: asyncpg.Connection, holder: str, lease: timedelta, items: Sequence[QueuedMember]
) -> None:
    keys = sorted((i.guild_id, i.user_id) for i in items)
    await con.execute(RENEW_LEASES, holder, lease, [g for g, _ in keys], [u for _, u in keys])


async def release(con: asyncpg.Connection, item: QueuedMember, holder: str = "") -> None:
    await con.execute(RELEASE, item.guild_id, item.user_id, holder)


async def finish(con: asyncpg.Connection, item: QueuedMember, holder: str = "") -> None:
    await con.execute(FINISH, item.guild_id, item.user_id, item.queued_at, holder)


async def retry_later(
    con: asyncpg.Connection, item: QueuedMember, delay: timedelta, holder: str = ""
) -> None:
    await con.execute(RETRY_LATER, item.guild_id, item.user_id, delay, holder, item.queued_at)


async def pass_state(con: asyncpg.Connection, guild_id: int) -> PassState | None:
    config = await con.fetchrow(GUILD_CONFIG, guild_id)
    if config is None:
        return None
    queue = await con.fetchrow(QUEUE_STATE, guild_id)
    return PassState(
        config["next_pass_at"], config["last_pass_at"], queue["queued"], queue["next_due"]
    )


async def accounts_of(
    con: asyncpg.Connection, user_ids: Sequence[int]
) -> dict[int, list[LinkedAccount]]:
    """Each user's linked accounts, oldest link first (the first is the main one)."""
    found: dict[int, list[LinkedAccount]] = {u: [] for u in user_ids}
    for r in await con.fetch(ACCOUNTS, list(user_ids)):
        found.setdefault(r["user_id"], []).append(
            LinkedAccount(
                tag=r["tag"],
                verified=r["verified"],
                linked_at=r["linked_at"],
                name=r["name"],
                town_hall=r["town_hall"],
                league=r["league"],
                clan_tag=r["clan_tag"],
                clan_name=r["clan_name"],
                clan_role=r["role"],
            )
        )
    return found


async def league_tiers(con: asyncpg.Connection) -> dict[int, str]:
    """The league tiers known, by id (a higher id is a higher league)."""
    return {r["id"]: r["name"] for r in await con.fetch(LEAGUE_ORDER)}


async def get_nickname(con: asyncpg.Connection, guild_id: int, user_id: int) -> str | None:
    return await con.fetchval(GET_NICKNAME, guild_id, user_id)


async def save_nickname(con: asyncpg.Connection, guild_id: int, user_id: int, nick: str) -> None:
    await con.execute(SAVE_NICKNAME, guild_id, user_id, nick)


async def forget_nickname(con: asyncpg.Connection, guild_id: int, user_id: int) -> None:
    await con.execute(FORGET_NICKNAME, guild_id, user_id)
