"""What the tracker's readings tell the battle poller: who battled, and which ranked week.

A reading that shows battles (trophies, attack or defense wins moved) makes the
player's log due at once. A player is read every BATTLELOG_INTERVAL_SECONDS for a
day after that, and never while they do not play (a player who has played this
season is read once when tracking begins: that first read is the baseline). Full
profiles also carry the ranked week and tier: a new week marks the one before as
ended, and its result is read from the league history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from bot.battles.weeks import UNRANKED_TIER
from db import battle_schedule, league_weeks
from db.model import PlayerProfile


def battled(old: PlayerProfile, new: PlayerProfile) -> bool:
    """The readings differ as only a battle (an attack or a defense) changes them."""
    return (
        new.trophies != old.trophies
        or new.attack_wins != old.attack_wins
        or new.defense_wins != old.defense_wins
    )


async def note_profiles(
    con: asyncpg.Connection,
    readings: Sequence[tuple[PlayerProfile, bool, datetime]],
) -> None:
    """Full profiles of tracked players: each with whether it showed battles, and when
    it was read."""
    notes = [
        battle_schedule.ProfileNote(
            tag=p.tag,
            season=p.league_season_id,
            previous=p.league_previous_season_id,
            tier=p.league_tier_id,
            battled=battled,
            # A player with attack wins this season plays: their log's first read (a
            # baseline of unknown time) is made at once, so the battles after it are
            # dated. One who has none costs nothing until they battle.
            baseline=p.attack_wins > 0,
            at=at,
        )
        for p, battled, at in readings
    ]
    await battle_schedule.note_profiles(con, notes, UNRANKED_TIER)
    tiers = {
        p.league_tier_id: p.league
        for p, _, _ in readings
        if p.league_tier_id is not None and p.league
    }
    await league_weeks.save_tiers(con, tiers)


async def note_play(con: asyncpg.Connection, tags: Sequence[str], at: datetime) -> None:
    """A clan's member list read at ``at`` showed these players' trophies move."""
    await battle_schedule.note_play(con, tags, at)
