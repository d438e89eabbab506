"""A CWL round that ended while the bot was paused for hours (maintenance, a restart) is
read ended from its war tag, with its result and every attack: the API still serves it.
(Review: it was closed 'unseen' by the 2-hour timer before the league was read.)"""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.fakes.wars import CwlWeek


async def test_cwl_round_ended_during_downtime_is_read_not_guessed(wenv: WarEnv) -> None:
    wenv.clock.now = wenv.clock.now.replace(day=2)
    roster = [(t, t.lstrip("#"), 15) for t in ["#8QQ", "#8RR", "#8UU"]]
    other = [(t, t.lstrip("#"), 14) for t in ["#9QQ", "#9RR", "#9UU"]]
    week = CwlWeek(
        "2026-03",
        [(CLAN, "Our Clan", roster), (OPPONENT, "Their", other)],
        start=wenv.clock.now - timedelta(hours=1),
        team_size=3,
        number_of_rounds=2,
    )
    wenv.api.serve_league(week)
    await wenv.track_clan()
    poller = await wenv.poller()
    await wenv.poll(poller)
    week.advance()  # round 1 at war
    r1 = week.war_of(CLAN, 1)
    mine = [m["tag"] for m in r1.lineups[CLAN]]
    enemy = [m["tag"] for m in r1.lineups[OPPONENT]]
    r1.attack(mine[0], enemy[0], 3, 100)
    await wenv.poll(poller, minutes=11)
    r1.attack(mine[1], enemy[1], 3, 100)
    week.advance()  # round 1 ends, round 2 at war
    # The process was down (or the API in maintenance) for 3 h around the end.
    wenv.clock.now = r1.end_time + timedelta(hours=3)
    await wenv.poll(poller, minutes=0)

    row = (await wenv.fetch("SELECT * FROM wars WHERE cwl_round = 1"))[0]
    n = await wenv.value("SELECT count(*) FROM war_attacks WHERE war_id = $1", row["id"])
    print(row["closed_how"], row["result"], row["state"], "attacks stored", n)
    assert row["closed_how"] == "seen" and row["result"] == r1.result(CLAN)
    assert n == 2
