"""A war seen only in preparation, then replaced by another war before its end (a war
never ends early: cancelled, or an odd answer) is closed 'cancelled': no war_end post,
no missed attacks counted."""

from __future__ import annotations

from datetime import timedelta

from db import war_stats
from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.fakes.wars import ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]
NEXT = ["#8LL", "#8GG", "#8CC"]


async def test_a_war_replaced_before_its_end_is_cancelled_not_missed(wenv: WarEnv) -> None:
    """War A\'s preparation is seen (battle day in 10 h); before its battle day, /currentwar
    shows war B in preparation."""
    await wenv.track_clan()
    prep_start = wenv.clock.now - timedelta(hours=13)  # battle day in 10 h
    a = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"]),
        lineup(THEIRS),
        preparation_start=prep_start,
    )
    wenv.api.serve_war(a)
    poller = await wenv.poller()
    await wenv.poll(poller)
    b = ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Next Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"]),
        lineup(NEXT),
        preparation_start=wenv.clock.now + timedelta(minutes=10),
    )
    wenv.api.serve_war(b)
    await wenv.poll(poller, minutes=20)

    ends = await wenv.events("war_end")
    async with wenv.pool.acquire() as con:
        missed = await war_stats.missed(con, CLAN, prep_start - timedelta(days=1))
    closed = await wenv.fetch("SELECT opponent_tag, closed_how FROM wars ORDER BY id")
    assert [tuple(r) for r in closed] == [(OPPONENT, "cancelled"), ("#8YY", None)]
    assert [dict(e["detail"])["missed"] for e in ends] == [], (
        "war_end posted for a war never fought"
    )
    assert [tuple(m) for m in missed] == [], "missed attacks in a war that never had a battle day"
