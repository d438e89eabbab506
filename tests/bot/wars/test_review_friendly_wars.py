"""Friendly wars (the recorded currentwar_inwar/ended bodies are ones: 5 min preparation,
45 min battle) are not tracked: no war_end post, no missed attacks in /war missed,
/war player or the leaderboard. coc.py's ClanWar.type tells them by the preparation's
length, and so does the poller."""

from __future__ import annotations

from datetime import timedelta

from db import war_stats
from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.fakes.wars import ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]


async def test_friendly_war_is_not_counted_as_a_clan_war(wenv: WarEnv) -> None:
    await wenv.track_clan()
    w = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Friends",
        lineup(OURS),
        lineup(THEIRS),
        preparation_start=wenv.clock.now,
        preparation=timedelta(minutes=5),
        battle=timedelta(minutes=45),
        attacks_per_member=1,
    )
    wenv.api.serve_war(w)
    poller = await wenv.poller()
    await wenv.poll(poller, minutes=1)
    w.begin_battle()
    w.attack(OURS[0], THEIRS[0], 3, 100)
    await wenv.poll(poller, minutes=10)
    w.end()
    await wenv.poll(poller, minutes=45)
    async with wenv.pool.acquire() as con:
        missed = await war_stats.missed(con, CLAN, wenv.clock.now - timedelta(days=1))
    ends = await wenv.events("war_end")
    print([(m["tag"], m["missed"]) for m in missed], len(ends))
    assert not missed and not ends
