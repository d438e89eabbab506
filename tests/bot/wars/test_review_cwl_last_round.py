"""The last CWL round is read ended even when a clan war is found right after it: open
round wars are read by their war tag whatever /currentwar shows. (Review: the league
was read only while /currentwar said notInWar, and the round was closed 2 h later
'unseen', its last attacks lost.)"""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.fakes.wars import CwlWeek, ScriptedWar, lineup


async def test_last_cwl_round_is_read_ended_even_when_a_regular_war_follows(wenv: WarEnv) -> None:
    wenv.clock.now = wenv.clock.now.replace(day=2)
    roster = [(t, t.lstrip("#"), 15) for t in ["#8QQ", "#8RR", "#8UU"]]
    other = [(t, t.lstrip("#"), 14) for t in ["#9QQ", "#9RR", "#9UU"]]
    week = CwlWeek(
        "2026-03",
        [(CLAN, "Our Clan", roster), (OPPONENT, "Their", other)],
        start=wenv.clock.now - timedelta(hours=1),
        team_size=3,
        number_of_rounds=1,
    )
    wenv.api.serve_league(week)
    await wenv.track_clan()
    poller = await wenv.poller()
    await wenv.poll(poller)  # round 1 in preparation
    week.advance()  # round 1 at war
    ours = week.war_of(CLAN, 1)
    mine = [m["tag"] for m in ours.lineups[CLAN]]
    enemy = [m["tag"] for m in ours.lineups[OPPONENT]]
    ours.attack(mine[0], enemy[0], 3, 100)
    await wenv.poll(poller, minutes=11)  # league read: 1 attack seen
    ours.attack(mine[1], enemy[1], 3, 100)  # last-minute attack
    week.advance()  # the round (and the league) ends
    wenv.clock.now = ours.end_time + timedelta(minutes=1)
    # The clan searches at once and is matched: /currentwar shows a preparation.
    nxt = ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Next",
        lineup(mine),
        lineup(["#8LL", "#8GG", "#8CC"]),
        preparation_start=wenv.clock.now,
    )
    wenv.api.serve_war(nxt)
    for _ in range(20):  # 20 polls, 11 min apart (> league refresh)
        await wenv.poll(poller, minutes=11)

    (row,) = await wenv.fetch("SELECT * FROM wars WHERE war_tag IS NOT NULL")
    n = await wenv.value("SELECT count(*) FROM war_attacks WHERE war_id = $1", row["id"])
    print(dict(row), "stored attacks", n)
    assert row["closed_how"] == "seen" and row["result"] is not None, dict(row)
    assert n == 2
