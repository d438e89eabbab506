"""Clan games in the tracker's write path: each full profile's rise, credited and stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from bot.clangames.credit import credit, month_of
from db import activity, clan_games, feeds, player_state
from db.clan_games import GamesCreditRow
from db.model import Event, PlayerProfile


async def record_games(
    con: asyncpg.Connection,
    readings: Sequence[tuple[PlayerProfile, datetime]],
    maximum: int,
) -> int:
    """Credit the rise of each reading's achievement (one reading per player, the
    players locked by the caller's transaction). Returns the events written: a
    ``clan_games`` event for each player whose reading reached the month's maximum."""
    shown = [(p, at) for p, at in readings if p.games_champion is not None]
    if not shown:
        return 0
    states = await clan_games.load(con, [(p.tag, month_of(at)) for p, at in shown])
    rows: list[GamesCreditRow] = []
    events: list[Event] = []
    signs: list[tuple[str, datetime, str]] = []
    for profile, at in shown:
        assert profile.games_champion is not None
        outcome = credit(
            states.get(profile.tag), profile.games_champion, profile.clan_tag, at, maximum
        )
        if outcome is None:
            continue
        rows.append(
            GamesCreditRow(
                profile.tag,
                outcome.value,
                outcome.read_at,
                outcome.clan_tag,
                outcome.month,
                outcome.points,
                outcome.credited_clan,
                at if outcome.reached_max else None,
            )
        )
        if outcome.rise > 0:
            signs.append((profile.tag, at, "clan_games"))
        if outcome.reached_max:
            detail = {
                "clan": outcome.credited_clan,
                "clan_name": (
                    profile.clan_name if outcome.credited_clan == profile.clan_tag else None
                ),
                "month": outcome.month.isoformat(),
                "maximum": maximum,
                "name": profile.name,
            }
            events.append(
                Event(profile.tag, at, "clan_games", None, str(maximum), outcome.points, detail)
            )
    await clan_games.save(con, rows)
    await activity.mark_active(con, signs)
    ids = await player_state.insert_events(con, events)
    await feeds.enqueue_events(con, ids)
    return len(ids)
