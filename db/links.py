"""Queries on ``links``: which Discord user owns which Clash of Clans account."""

from __future__ import annotations

import enum

import asyncpg

from db.guild_locks import lock_user


class LinkSaved(enum.Enum):
    SAVED = "saved"
    TAKEN = "taken"  # linked to another user, and this link is not verified
    FULL = "full"  # the user has the most links allowed


GET_LINK = "SELECT tag, user_id, verified, linked_at FROM links WHERE tag = $1"

# Another user's link is only taken over with proof (a verified link).
UPSERT_LINK = """
INSERT INTO links (tag, user_id, verified) VALUES ($1, $2, $3)
ON CONFLICT (tag) DO UPDATE SET user_id = EXCLUDED.user_id, verified = EXCLUDED.verified,
                                linked_at = now()
WHERE links.user_id = EXCLUDED.user_id OR EXCLUDED.verified
RETURNING tag
"""

DELETE_LINK = "DELETE FROM links WHERE tag = $1 AND user_id = $2"

USER_LINKS = """
SELECT l.tag, l.verified, l.linked_at, p.name, p.town_hall
FROM links l LEFT JOIN players p USING (tag)
WHERE l.user_id = $1
ORDER BY l.linked_at, l.tag
"""

COUNT_USER_LINKS = "SELECT count(*) FROM links WHERE user_id = $1"

USER_TAGS = "SELECT tag FROM links WHERE user_id = $1"

GET_REQUIRE_VERIFIED = "SELECT require_verified FROM guild_settings WHERE guild_id = $1"

SET_REQUIRE_VERIFIED = """
INSERT INTO guild_settings (guild_id, require_verified) VALUES ($1, $2)
ON CONFLICT (guild_id) DO UPDATE SET require_verified = EXCLUDED.require_verified,
                                     updated_at = now()
"""


async def get_link(con: asyncpg.Connection, tag: str) -> asyncpg.Record | None:
    return await con.fetchrow(GET_LINK, tag)


async def save_link(
    con: asyncpg.Connection, tag: str, user_id: int, verified: bool, *, limit: int | None = None
) -> LinkSaved:
    """Link ``tag`` to the user, checking the user's ``limit`` under the user's lock."""
    async with con.transaction():
        await lock_user(con, user_id)
        if limit is not None:
            existing = await con.fetchrow(GET_LINK, tag)
            mine = existing is not None and existing["user_id"] == user_id
            if not mine and await count_user_links(con, user_id) >= limit:
                return LinkSaved.FULL
        saved = await con.fetchval(UPSERT_LINK, tag, user_id, verified)
    return LinkSaved.SAVED if saved is not None else LinkSaved.TAKEN


async def delete_link(con: asyncpg.Connection, tag: str, user_id: int) -> bool:
    """Remove the link if ``user_id`` owns it; True if it did."""
    return await con.execute(DELETE_LINK, tag, user_id) == "DELETE 1"


async def user_links(con: asyncpg.Connection, user_id: int) -> list[asyncpg.Record]:
    return await con.fetch(USER_LINKS, user_id)


async def count_user_links(con: asyncpg.Connection, user_id: int) -> int:
    return int(await con.fetchval(COUNT_USER_LINKS, user_id))


async def user_tags(con: asyncpg.Connection, user_id: int) -> set[str]:
    return {r["tag"] for r in await con.fetch(USER_TAGS, user_id)}


async def require_verified(con: asyncpg.Connection, guild_id: int) -> bool:
    return bool(await con.fetchval(GET_REQUIRE_VERIFIED, guild_id))


async def set_require_verified(con: asyncpg.Connection, guild_id: int, value: bool) -> None:
    await con.execute(SET_REQUIRE_VERIFIED, guild_id, value)
