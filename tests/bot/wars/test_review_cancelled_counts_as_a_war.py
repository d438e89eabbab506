"""A war closed 'cancelled' (replaced before its end, never fought) is not in a player's
record or the leaderboard: no war, no attacks available."""

from __future__ import annotations

from datetime import timedelta

from db import war_stats
from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.bot.wars.review_helpers import OURS, THEIRS
from tests.fakes.wars import ScriptedWar, lineup


async def test_a_cancelled_war_is_not_in_the_player_record(wenv: WarEnv) -> None:
    await wenv.track_clan()
    a = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS),
        lineup(THEIRS),
        preparation_start=wenv.clock.now - timedelta(hours=13),
    )
    wenv.api.serve_war(a)
    poller = await wenv.poller()
    await wenv.poll(poller)
    b = ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Next",
        lineup(OURS),
        lineup(["#8LL", "#8GG", "#8CC"]),
        preparation_start=wenv.clock.now + timedelta(minutes=10),
    )
    wenv.api.serve_war(b)
    await wenv.poll(poller, minutes=20)
    assert (
        await wenv.value("SELECT closed_how FROM wars WHERE opponent_tag = $1", OPPONENT)
        == "cancelled"
    )
    wenv.clock.advance(hours=12)  # past A's would-be start; B still in preparation
    async with wenv.pool.acquire() as con:
        rec = await war_stats.player_wars(
            con, OURS[0], wenv.clock.now - timedelta(days=30), wenv.clock.now
        )
    print(dict(rec))
    assert (rec["wars"], rec["available"]) == (0, 0), dict(rec)
