"""The war a clan is in now, for ``/war current``: read live, or stored during the league.

A regular war is read live (one request, as cached by the API), so the answer
is as fresh as the API's. In the Clan War League ``/currentwar`` says
notInWar; the round war shown then is the one the war poller stored last.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from bot.clash import ClashApi
from bot.errors import WarLogPrivate
from bot.wars.parse import parse_war
from db import war_stats
from db.model import CLAN_SIDE, WarMember, WarSnapshot


@dataclass(frozen=True, slots=True)
class CurrentWar:
    war: WarSnapshot | None  # None: not in a war
    as_of: datetime | None  # a stored war: when it was last read; None: read just now
    private: bool  # the clan's war log is private (a league war is shown all the same)
    last: asyncpg.Record | None  # not in a war: the clan's last stored war


@dataclass(frozen=True, slots=True)
class AttacksLeft:
    member: WarMember
    left: int


async def current_war(
    pool: asyncpg.Pool, clash: ClashApi, clan_tag: str, now: datetime
) -> CurrentWar:
    private = False
    try:
        war = parse_war(await clash.get_current_war(clan_tag), clan_tag=clan_tag)
    except WarLogPrivate:
        war, private = None, True
    if war is not None:
        return CurrentWar(war, None, False, None)
    async with pool.acquire() as con:
        war_id = await war_stats.open_cwl_war(con, clan_tag, now)
        if war_id is not None:
            row, stored = await war_stats.stored_war(con, war_id)
            return CurrentWar(stored, row["last_seen_at"], private, None)
        if private:
            raise WarLogPrivate(clan_tag)
        return CurrentWar(None, None, False, await war_stats.latest_war(con, clan_tag))


def attacks_left(war: WarSnapshot) -> list[AttacksLeft]:
    """The clan's members with attacks left (after the end: missed), in map order."""
    used: dict[str, int] = {}
    for attack in war.attacks:
        used[attack.attacker_tag] = used.get(attack.attacker_tag, 0) + 1
    ours = sorted((m for m in war.members if m.side == CLAN_SIDE), key=lambda m: m.map_position)
    return [
        AttacksLeft(m, war.attacks_per_member - used.get(m.tag, 0))
        for m in ours
        if used.get(m.tag, 0) < war.attacks_per_member
    ]
