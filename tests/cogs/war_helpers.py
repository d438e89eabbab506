"""Wars for the command tests: a tracked clan, a scripted war on the fake API, the war poller
run once against the harness's database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.wars.poller import WarPoller
from db import guild_tracking
from tests.fakes.wars import ScriptedWar, lineup
from tests.harness import GUILD_ID, Harness

CLAN = "#2PP"
OPPONENT = "#9YY"
OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]


async def track_clan(
    harness: Harness, clan: str = CLAN, name: str = "Our Clan", guild_id: int = GUILD_ID
) -> None:
    async with harness.pool.acquire() as con:
        await guild_tracking.track_clan(con, guild_id, clan, name, 1)


def running_war(
    *, battle_left: timedelta = timedelta(hours=20), per_member: int = 2, in_battle: bool = True
) -> ScriptedWar:
    """A war between CLAN and OPPONENT whose battle day has ``battle_left`` (real time)."""
    now = datetime.now(UTC)
    war = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"], town_hall=[15, 14, 13]),
        lineup(THEIRS, names=["Xi", "Yu", "Zo"], town_hall=[16, 14, 12]),
        preparation_start=now + battle_left - timedelta(hours=47),
        attacks_per_member=per_member,
    )
    if in_battle:
        war.begin_battle()
    return war


async def poll_wars(harness: Harness) -> int:
    """The war poller of this process, once over every tracked clan."""
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE war_polls SET next_poll_at = now() - interval '1 s'")
    poller = WarPoller(settings=harness.settings, pool=harness.pool, clash=harness.bot.clash)
    return await poller.run_once()
