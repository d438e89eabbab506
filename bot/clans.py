"""Which tracked clan a command means: the ``clan`` option, or the guild's only clan."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from bot.errors import NoData
from bot.tags import parse_tag
from db import guild_tracking


@dataclass(frozen=True, slots=True)
class TrackedClan:
    tag: str
    name: str | None

    @property
    def shown(self) -> str:
        return f"{self.name} ({self.tag})" if self.name else self.tag


async def resolve_clan(con: asyncpg.Connection, guild_id: int, raw: str | None) -> TrackedClan:
    """The tracked clan named by ``raw``; with no option, the guild's only tracked clan."""
    clans = [
        TrackedClan(c["clan_tag"], c["name"])
        for c in await guild_tracking.guild_clans(con, guild_id)
    ]
    if raw is None or not raw.strip():
        if len(clans) == 1:
            return clans[0]
        if not clans:
            raise NoData("This server tracks no clan yet. Track one with `/track clan`.")
        raise NoData(f"This server tracks {len(clans)} clans: choose one with the `clan` option.")
    tag = parse_tag(raw)
    for clan in clans:
        if clan.tag == tag:
            return clan
    raise NoData(f"The clan `{tag}` is not tracked in this server. Track it with `/track clan`.")
