"""Queries on ``players``: the latest known profile of each player.

``PROFILE_COLUMNS`` is the one list of a profile's columns; every query that
reads or writes a whole profile is built from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import asyncpg

from db.model import PlayerProfile

PROFILE_COLUMNS: tuple[str, ...] = (
    "tag", "name", "town_hall", "exp_level", "trophies", "best_trophies", "war_stars",
    "attack_wins", "defense_wins", "donations", "donations_received", "builder_trophies",
    "best_builder_trophies", "builder_hall", "capital_contributions", "league", "clan_tag",
    "clan_name", "role", "heroes",
)  # fmt: skip

# heroes is jsonb: a dict both ways, through the pool's codec (db.pool).
PROFILE_SELECT = ", ".join(PROFILE_COLUMNS)
PROFILE_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(PROFILE_COLUMNS) + 1))
PROFILE_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in PROFILE_COLUMNS if c != "tag")

# A profile fetched by a command for a player nobody tracks: the newest fetch wins.
UPSERT_PROFILE = f"""
INSERT INTO players ({PROFILE_SELECT}, fetched_at)
VALUES ({PROFILE_PLACEHOLDERS}, ${len(PROFILE_COLUMNS) + 1})
ON CONFLICT (tag) DO UPDATE SET {PROFILE_UPDATES}, fetched_at = EXCLUDED.fetched_at
WHERE players.fetched_at <= EXCLUDED.fetched_at
"""

GET_PROFILE = "SELECT " + PROFILE_SELECT + ", fetched_at FROM players WHERE tag = $1"


def profile_args(profile: PlayerProfile) -> tuple[object, ...]:
    """A profile's values in ``PROFILE_COLUMNS`` order."""
    return tuple(getattr(profile, c) for c in PROFILE_COLUMNS)


def profile_from_row(row: Mapping[str, Any]) -> PlayerProfile:
    return PlayerProfile(**{c: row[c] for c in PROFILE_COLUMNS})


async def upsert_profile(
    con: asyncpg.Connection, profile: PlayerProfile, fetched_at: datetime
) -> None:
    """Store the latest profile; an older fetch never overwrites a newer one."""
    await con.execute(UPSERT_PROFILE, *profile_args(profile), fetched_at)


async def get_profile(con: asyncpg.Connection, tag: str) -> PlayerProfile | None:
    row = await con.fetchrow(GET_PROFILE, tag)
    return None if row is None else profile_from_row(row)


PLAYER_NAME = "SELECT name FROM players WHERE tag = $1"


async def player_name(con: asyncpg.Connection, tag: str) -> str | None:
    name = await con.fetchval(PLAYER_NAME, tag)
    return name if isinstance(name, str) and name else None
