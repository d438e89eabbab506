"""Helpers of the review regression tests: a war in battle, a guild's feed outbox."""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv, war_start
from tests.fakes.wars import ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]


def battle_war(wenv: WarEnv, hours_left: float = 10, **kw) -> ScriptedWar:
    w = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"]),
        lineup(THEIRS),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=hours_left)),
        **kw,
    )
    w.begin_battle()
    return w


async def outbox(wenv: WarEnv, guild: int) -> list[tuple[str, str | None]]:
    rows = await wenv.fetch(
        "SELECT e.kind, e.tag FROM feed_outbox o JOIN player_events e ON e.id = o.event_id "
        "WHERE o.guild_id = $1 ORDER BY e.id",
        guild,
    )
    return [(r["kind"], r["tag"]) for r in rows]
