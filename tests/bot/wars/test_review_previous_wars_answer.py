"""An older /currentwar answer about the war that just ended, served after the next war's
preparation was read, closes nothing: the new war stays open and its attacks are stored.
(Review: the new war was closed 'unseen' and lost.)"""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv, war_start
from tests.fakes.wars import ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]


async def test_older_answer_of_previous_war_does_not_close_the_new_one(wenv: WarEnv) -> None:
    await wenv.track_clan()
    a = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS),
        lineup(THEIRS),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=1)),
    )
    a.begin_battle()
    wenv.api.serve_war(a)
    poller = await wenv.poller()
    a.attack(OURS[0], THEIRS[0], 3, 100)
    await wenv.poll(poller)
    a.end()
    ended_body = a.body(CLAN)  # what one API cache holds for 120 s
    await wenv.poll(poller, minutes=60)  # A seen ended: closed 'seen'
    b = ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Next Clan",
        lineup(OURS),
        lineup(["#8LL", "#8GG", "#8CC"]),
        preparation_start=wenv.clock.now + timedelta(minutes=1),
    )
    wenv.api.serve_war(b)
    await wenv.poll(poller, minutes=2)  # B in preparation, stored
    wenv.api.set_war(CLAN, ended_body)  # another cache still answers A warEnded
    await wenv.poll(poller, minutes=1)
    wenv.api.serve_war(b)
    b.begin_battle()
    b.attack(OURS[0], "#8LL", 3, 100)
    wenv.clock.now = b.start_time + timedelta(minutes=5)
    await wenv.poll(poller, minutes=0)

    rows = await wenv.fetch(
        "SELECT opponent_tag, state, closed_how, result FROM wars ORDER BY preparation_start"
    )
    b_id = await wenv.value("SELECT id FROM wars WHERE opponent_tag = '#8YY'")
    stored_b = await wenv.value("SELECT count(*) FROM war_attacks WHERE war_id = $1", b_id)
    ends = await wenv.events("war_end")
    print(
        rows,
        "B attacks stored:",
        stored_b,
        "war_end events:",
        [(e["detail"]["opponent"], e["new_value"], e["detail"]["missed"]) for e in ends],
    )
    assert rows[1]["closed_how"] is None, rows  # B must still be open
    assert stored_b == 1  # B's attack must be stored
