"""The war poller's write path: a reading stored, a war closed, a war completed from the log.

Every function runs in the caller's transaction. Attacks and the end of a war
become events (posted to the feeds of the guilds tracking the clan), except
for a war first seen over, which is kept for the records, not posted as news.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from bot.wars.events import attack_events, end_event, result_of
from bot.wars.parse import WarPayloadError, api_time
from db import activity, feeds, player_state, wars
from db.model import WarSnapshot

log = logging.getLogger(__name__)


async def save(con: asyncpg.Connection, war: WarSnapshot, at: datetime) -> int:
    """Store a reading: new attacks posted, a war seen ended closed with its result."""
    saved = await wars.save_snapshot(con, war, at)
    if saved.closed:
        return saved.war_id
    if saved.created and war.state == "warEnded":
        # First seen over (a clan tracked after its war, past league rounds): stored
        # for the records, not posted as news.
        await close(con, saved.war_id, war.clan_tag, at, "seen", result_of(war), post=False)
        return saved.war_id
    events = attack_events(war, saved.new_attacks, at)
    ids = await player_state.insert_events(con, events)
    await feeds.enqueue_clan_events(con, ids, war.clan_tag)
    # A war attack is a sign of play, seen by this reading (the attacks of a war's first
    # reading were made at moments unknown: a baseline).
    if not saved.created:
        seen = min(at, war.end_time)  # made by the war's end at the latest
        await activity.mark_active(con, ((e.tag, seen, "war_attack") for e in events))
    if war.state == "warEnded":
        await close(con, saved.war_id, war.clan_tag, at, "seen", result_of(war))
    return saved.war_id


async def close(
    con: asyncpg.Connection,
    war_id: int,
    clan_tag: str,
    at: datetime,
    how: str,
    result: str | None = None,
    *,
    post: bool = True,
) -> bool:
    """Close the war once (``how``: 'seen', 'unseen', 'cancelled'); post its end unless
    ``post`` is off. True if this call closed it."""
    if not await wars.close_war(con, war_id, at, how, result):
        return False
    if not post:
        return True
    row = await wars.get_war(con, war_id)
    missed = await wars.missed(con, war_id)
    ids = await player_state.insert_events(con, [end_event(row, missed, at)])
    await feeds.enqueue_clan_events(con, ids, clan_tag)
    log.info("war %s of %s closed (%s, %s)", war_id, clan_tag, how, result or "result unknown")
    return True


async def complete(
    con: asyncpg.Connection, war_id: int, entries: list[dict[str, Any]] | None
) -> dict[str, Any] | None:
    """A war that ended unseen: its final totals from the war log where it is public
    (the log has no attacks: its missed attacks stay as last seen)."""
    row = await wars.get_war(con, war_id)
    entry = _log_entry(entries or [], row)
    if entry is None:
        return None
    ours, theirs = entry.get("clan") or {}, entry.get("opponent") or {}
    result = entry.get("result")
    await wars.complete_from_log(
        con,
        war_id,
        clan_stars=_int(ours, "stars"),
        clan_destruction=_float(ours, "destructionPercentage"),
        clan_attacks=_int(ours, "attacks"),
        opponent_stars=_int(theirs, "stars"),
        opponent_destruction=_float(theirs, "destructionPercentage"),
        result=result if isinstance(result, str) else None,
    )
    return entry


def _log_entry(entries: list[dict[str, Any]], war: asyncpg.Record) -> dict[str, Any] | None:
    """The war log's entry for ``war``: the same opponent, ending at the same moment."""
    for entry in entries:
        opponent = entry.get("opponent") if isinstance(entry.get("opponent"), dict) else {}
        if opponent.get("tag") != war["opponent_tag"]:
            continue
        with contextlib.suppress(WarPayloadError):
            if abs(api_time(entry.get("endTime")) - war["end_time"]) <= timedelta(minutes=1):
                return entry
    return None


def _int(data: dict[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(data: dict[str, Any], key: str) -> float:
    value = data.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
