"""Queries on past ranked weeks (the league history) and league tier names."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from db.model import LeagueWeek

UPSERT_TIERS = """
INSERT INTO league_tiers (id, name)
SELECT * FROM unnest($1::integer[], $2::text[])
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name WHERE league_tiers.name <> EXCLUDED.name
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


WEEKS = """
SELECT w.*, t.name AS tier_name FROM league_weeks w LEFT JOIN league_tiers t ON t.id = w.tier_id
WHERE w.player_tag = $1 ORDER BY w.season_id DESC LIMIT $2
"""


TIER_NAMES = "SELECT id, name FROM league_tiers WHERE id = ANY($1::integer[])"


async def save_tiers(con: asyncpg.Connection, tiers: dict[int, str]) -> None:
    if tiers:
        ids = sorted(tiers)
        await con.execute(UPSERT_TIERS, ids, [tiers[i] for i in ids])


async def save_weeks(con: asyncpg.Connection, tag: str, weeks: Sequence[LeagueWeek]) -> None:
    if not weeks:
        return
    fields = (
        "season_id", "tier_id", "placement", "league_trophies", "attack_wins",
        "attack_losses", "attack_stars", "defense_wins", "defense_losses", "defense_stars",
        "max_battles",
    )  # fmt: skip
    await con.execute(UPSERT_WEEKS, tag, *([getattr(w, f) for w in weeks] for f in fields))


async def weeks(con: asyncpg.Connection, tag: str, limit: int) -> list[asyncpg.Record]:
    return await con.fetch(WEEKS, tag, limit)


async def tier_names(con: asyncpg.Connection, ids: Sequence[int]) -> dict[int, str]:
    return {r["id"]: r["name"] for r in await con.fetch(TIER_NAMES, list(ids))}
