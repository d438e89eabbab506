"""During CWL the API's /currentwar keeps answering the clan's last clan war, warEnded,
for days (coc.py issue #285): the league group is read all the same, and the rounds found.
(Review: the group was read only when /currentwar showed no war at all.)"""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.bot.wars.review_helpers import OURS, THEIRS
from tests.fakes.wars import CwlWeek, ScriptedWar, lineup


async def test_cwl_rounds_found_while_currentwar_shows_the_last_war_ended(wenv: WarEnv) -> None:
    wenv.clock.now = wenv.clock.now.replace(day=2)
    # The last regular war ended 2 hours ago; the API still serves it, warEnded.
    last = ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Old Foe",
        lineup(OURS),
        lineup(["#8LL", "#8GG", "#8CC"]),
        preparation_start=wenv.clock.now - timedelta(hours=49),
    )
    last.begin_battle()
    last.end()
    wenv.api.serve_war(last)
    roster = [(t, t.lstrip("#"), 15) for t in OURS]
    other = [(t, t.lstrip("#"), 14) for t in THEIRS]
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
    for _ in range(4):
        await wenv.poll(poller, minutes=11)
    week.advance()  # round 1 at war
    for _ in range(4):
        await wenv.poll(poller, minutes=11)
    rounds = await wenv.value("SELECT count(*) FROM wars WHERE war_tag IS NOT NULL")
    assert rounds == 1, "the CWL round was never found: /currentwar showed an ended war"
