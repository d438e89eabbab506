"""Queries on ``players``: the latest known profile of each player."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from bot.profile import PlayerProfile

PROFILE_COLUMNS = (
    "tag", "name", "town_hall", "exp_level", "trophies", "best_trophies", "war_stars",
    "attack_wins", "defense_wins", "donations", "donations_received", "builder_trophies",
    "best_builder_trophies", "builder_hall", "capital_contributions", "league", "clan_tag",
    "clan_name", "role", "heroes",
)  # fmt: skip

UPSERT_PROFILE = """
INSERT INTO players (
    tag, name, town_hall, exp_level, trophies, best_trophies, war_stars, attack_wins,
    defense_wins, donations, donations_received, builder_trophies, best_builder_trophies,
    builder_hall, capital_contributions, league, clan_tag, clan_name, role, heroes, fetched_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
          $19, $20::jsonb, $21)
ON CONFLICT (tag) DO UPDATE SET
    name = EXCLUDED.name, town_hall = EXCLUDED.town_hall, exp_level = EXCLUDED.exp_level,
    trophies = EXCLUDED.trophies, best_trophies = EXCLUDED.best_trophies,
    war_stars = EXCLUDED.war_stars, attack_wins = EXCLUDED.attack_wins,
    defense_wins = EXCLUDED.defense_wins, donations = EXCLUDED.donations,
    donations_received = EXCLUDED.donations_received,
    builder_trophies = EXCLUDED.builder_trophies,
    best_builder_trophies = EXCLUDED.best_builder_trophies,
    builder_hall = EXCLUDED.builder_hall,
    capital_contributions = EXCLUDED.capital_contributions, league = EXCLUDED.league,
    clan_tag = EXCLUDED.clan_tag, clan_name = EXCLUDED.clan_name, role = EXCLUDED.role,
    heroes = EXCLUDED.heroes, fetched_at = EXCLUDED.fetched_at
WHERE players.fetched_at <= EXCLUDED.fetched_at
"""

GET_PROFILE = """
SELECT tag, name, town_hall, exp_level, trophies, best_trophies, war_stars, attack_wins,
       defense_wins, donations, donations_received, builder_trophies, best_builder_trophies,
       builder_hall, capital_contributions, league, clan_tag, clan_name, role,
       heroes::text AS heroes, fetched_at
FROM players WHERE tag = $1
"""


def profile_args(profile: PlayerProfile, fetched_at: datetime) -> tuple[object, ...]:
    """The UPSERT_PROFILE arguments for one profile (also used for batches)."""
    return (
        *(getattr(profile, c) for c in PROFILE_COLUMNS[:-1]),
        json.dumps(profile.heroes),
        fetched_at,
    )


async def upsert_profile(
    con: asyncpg.Connection, profile: PlayerProfile, fetched_at: datetime
) -> None:
    """Store the latest profile; an older fetch never overwrites a newer one."""
    await con.execute(UPSERT_PROFILE, *profile_args(profile, fetched_at))


async def get_profile(con: asyncpg.Connection, tag: str) -> PlayerProfile | None:
    row = await con.fetchrow(GET_PROFILE, tag)
    if row is None:
        return None
    values = {c: row[c] for c in PROFILE_COLUMNS}
    values["heroes"] = json.loads(row["heroes"])
    return PlayerProfile(**values)
