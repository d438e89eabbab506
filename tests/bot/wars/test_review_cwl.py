"""CWL round wars, from the reviews: each round is read by its war tag until it is seen
ended, whatever /currentwar shows and however long the bot was away."""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv
from tests.bot.wars.review_helpers import OURS, THEIRS
from tests.fakes.wars import CwlWeek, ScriptedWar, lineup


def league_week(wenv: WarEnv, rounds: int) -> CwlWeek:
    """A league week of the clan and one other, begun an hour ago, on the 2nd of a month."""
    wenv.clock.now = wenv.clock.now.replace(day=2)
    week = CwlWeek(
        "2026-03",
        [
            (CLAN, "Our Clan", [(t, t.lstrip("#"), 15) for t in OURS]),
            (OPPONENT, "Their", [(t, t.lstrip("#"), 14) for t in THEIRS]),
        ],
        start=wenv.clock.now - timedelta(hours=1),
        team_size=3,
        number_of_rounds=rounds,
    )
    wenv.api.serve_league(week)
    return week


# A CWL round that ended while the bot was paused for hours (maintenance, a restart) is
# read ended from its war tag, with its result and every attack: the API still serves it.
# (Review: it was closed 'unseen' by the 2-hour timer before the league was read.)


async def test_cwl_round_ended_during_downtime_is_read_not_guessed(wenv: WarEnv) -> None:
    week = league_week(wenv, rounds=2)
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
    assert row["closed_how"] == "seen" and row["result"] == r1.result(CLAN)
    assert n == 2


# During CWL the API's /currentwar keeps answering the clan's last clan war, warEnded,
# for days (coc.py issue #285): the league group is read all the same, and the rounds found.
# (Review: the group was read only when /currentwar showed no war at all.)


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
    week = league_week(wenv, rounds=1)
    await wenv.track_clan()
    poller = await wenv.poller()
    for _ in range(4):
        await wenv.poll(poller, minutes=11)
    week.advance()  # round 1 at war
    for _ in range(4):
        await wenv.poll(poller, minutes=11)
    rounds = await wenv.value("SELECT count(*) FROM wars WHERE war_tag IS NOT NULL")
    assert rounds == 1, "the CWL round was never found: /currentwar showed an ended war"


# The last CWL round is read ended even when a clan war is found right after it: open
# round wars are read by their war tag whatever /currentwar shows. (Review: the league
# was read only while /currentwar said notInWar, and the round was closed 2 h later
# 'unseen', its last attacks lost.)


async def test_last_cwl_round_is_read_ended_even_when_a_regular_war_follows(wenv: WarEnv) -> None:
    week = league_week(wenv, rounds=1)
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
    assert row["closed_how"] == "seen" and row["result"] is not None, dict(row)
    assert n == 2
