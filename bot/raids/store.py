"""The raid poller's write path: one answer of a clan's raid seasons, in one transaction.

Every weekend in the answer is stored whole (the API repeats it whole); a
member whose attack count rose since the last reading showed a sign of play;
a weekend seen while it ran and now seen ended gets its ``raid_end`` event,
queued for every guild that tracks the clan, in the transaction that first
stores it ended (so once, whatever the number of polls, processes or
restarts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from db import activity, feeds, player_state, raids
from db.model import Event, RaidWeekend

# Looters named in a raid_end post.
TOP_LOOTERS = 3
# A weekend first read ended this long after its end (the clan was untracked, the bot
# was down for days) is closed without a post: its summary is no longer news. Less
# than that (the bot was down over the end, the next weekend has begun) it is posted.
STALE_END = timedelta(days=5)


async def write_answer(
    con: asyncpg.Connection, clan_tag: str, weekends: Sequence[RaidWeekend], at: datetime
) -> int:
    """Store one answer read at ``at`` (oldest weekend first); returns the raid_end
    events queued. Writes nothing once nobody tracks the clan."""
    async with con.transaction():
        if not await raids.still_polled(con, clan_tag):
            return 0
        posted = 0
        for weekend in sorted(weekends, key=lambda w: w.start_time):
            posted += await _write_weekend(con, weekend, at)
        await raids.close_forgotten(con, clan_tag, at, STALE_END, [w.start_time for w in weekends])
        return posted


async def _write_weekend(con: asyncpg.Connection, weekend: RaidWeekend, at: datetime) -> int:
    before = await raids.stored(con, weekend.clan_tag, weekend.start_time)
    if before is not None and at <= before.read_at:
        return 0  # an answer older than the stored one: nothing it says is newer
    attacks = (
        await raids.stored_attacks(con, weekend.clan_tag, weekend.start_time) if before else {}
    )
    await raids.save_weekend(con, weekend, at)
    if before is not None:
        # A first sighting is a baseline: when its attacks were made is unknown.
        risen = [m.tag for m in weekend.members if m.attacks > attacks.get(m.tag, 0)]
        # Made by the weekend's end at the latest (a reading days later says no more).
        seen = min(at, weekend.end_time)
        await activity.mark_active(con, ((tag, seen, "raid_attacks") for tag in risen))
    newly_ended = weekend.ended and before is not None and before.ended_seen_at is None
    if not (newly_ended and before is not None and before.seen_ongoing):
        return 0
    if at - weekend.end_time > STALE_END:
        return 0
    row = await raids.get_weekend(con, weekend.clan_tag, weekend.start_time)
    assert row is not None
    members = await raids.members(con, weekend.clan_tag, weekend.start_time)
    idle = await raids.non_raiders(con, weekend.clan_tag, weekend.start_time)
    roster = await raids.roster_size(con, weekend.clan_tag, weekend.start_time)
    name = await raids.clan_name(con, weekend.clan_tag)
    event = end_event(row, members, idle, roster, clan_name=name)
    ids = await player_state.insert_events(con, [event])
    await feeds.enqueue_clan_events(con, ids, weekend.clan_tag)
    return len(ids)


def end_event(
    weekend: Any,
    members: Sequence[Any],
    idle: Sequence[tuple[str, str]],
    roster: int,
    *,
    clan_name: str | None,
) -> Event:
    """The ``raid_end`` event of a stored weekend (a ``raid_weekends`` row)."""
    raided = [m for m in members if m["attacks"] > 0]
    detail: dict[str, Any] = {
        "clan": weekend["clan_tag"],
        "clan_name": clan_name,
        "start": weekend["start_time"].isoformat(),
        "end": weekend["end_time"].isoformat(),
        "looted": weekend["capital_total_loot"],
        "attacks": weekend["total_attacks"],
        "raids_completed": weekend["raids_completed"],
        "districts_destroyed": weekend["districts_destroyed"],
        "offensive_reward": weekend["offensive_reward"],
        "defensive_reward": weekend["defensive_reward"],
        "raiders": len(raided),
        "top": [
            {"tag": m["tag"], "name": m["name"], "looted": m["looted"]}
            for m in raided[:TOP_LOOTERS]
        ],
        # None: no member list was read during the weekend, so nobody can be named.
        "non_raiders": [name for _, name in idle] if roster else None,
    }
    return Event(
        weekend["clan_tag"],
        weekend["end_time"],
        "raid_end",
        None,
        None,
        weekend["capital_total_loot"],
        detail,
    )
