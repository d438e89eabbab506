"""Stale /currentwar answers (another key or cache serving an older snapshot) once the
clan's next war has been seen: they end nothing newer."""

from __future__ import annotations

from datetime import timedelta

from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv, war_start
from tests.fakes.wars import ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]
NEXT = ["#8LL", "#8GG", "#8CC"]


def first_war(wenv: WarEnv) -> ScriptedWar:
    return ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"]),
        lineup(THEIRS),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=1)),
    )


def next_war(first: ScriptedWar) -> ScriptedWar:
    return ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Next Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"]),
        lineup(NEXT),
        preparation_start=first.end_time + timedelta(minutes=5),
    )


async def test_a_stale_answer_of_the_previous_war_does_not_close_the_running_war(
    wenv: WarEnv,
) -> None:
    """Timeline: war A in battle (polled); A ends and war B's preparation is seen (A closed,
    fine). The next poll gets a stale snapshot of A (another key's cache, still ``inWar``).
    B has nothing to do with that answer, yet it is closed 'unseen' right there, with a
    war_end feed post ("Ended the war against Next Clan ... Missed attacks: Ann x2, Bob x2,
    Cid x2") while B is still in preparation. Worse, B being closed, every later reading of
    B is dropped (``UPSERT ... WHERE closed_at IS NULL``): B's attacks are never stored, its
    real end is never posted, and /war missed counts everybody as having missed B.

    Right: an answer about a war OLDER than an open one (earlier preparation start) closes
    nothing; B stays open and its attacks are stored."""
    await wenv.track_clan()
    a = first_war(wenv)
    a.begin_battle()
    wenv.api.serve_war(a)
    poller = await wenv.poller()
    a.attack(OURS[0], THEIRS[0], 2, 60)
    await wenv.poll(poller)
    stale_a = a.body(CLAN)  # the snapshot some cache keeps serving
    a.end()
    b = next_war(a)
    wenv.api.serve_war(b)
    await wenv.poll(poller, minutes=90)  # B's preparation: A closed unseen (right)

    wenv.api.set_war(CLAN, stale_a)  # one stale answer
    await wenv.poll(poller, minutes=1)
    wenv.api.serve_war(b)
    b.begin_battle()
    b.attack(OURS[1], NEXT[1], 3, 100)
    await wenv.poll(poller, minutes=60 * 23)

    rows = await wenv.fetch(
        "SELECT opponent_tag, closed_at, closed_how, state FROM wars ORDER BY preparation_start"
    )
    second = rows[1]
    ends = await wenv.events("war_end")
    assert [e["detail"]["opponent"] for e in ends] == [OPPONENT], (
        "war_end posted for the war still running",
        [dict(e["detail"]) for e in ends],
    )
    assert second["closed_at"] is None, dict(second)
    assert second["state"] == "inWar"
    assert (OURS[1], NEXT[1], 1) in await wenv.attacks()


async def test_a_stale_ended_answer_of_the_previous_war_does_not_close_the_running_war(
    wenv: WarEnv,
) -> None:
    """Same with the stale answer being A's own ``warEnded`` snapshot (A seen ended by one
    cache, B's preparation by the next poll, then A's warEnded again from another cache, as
    happens in the 120 s around a new war search): B is closed 'unseen' and lost."""
    await wenv.track_clan()
    a = first_war(wenv)
    a.begin_battle()
    wenv.api.serve_war(a)
    poller = await wenv.poller()
    a.attack(OURS[0], THEIRS[0], 2, 60)
    await wenv.poll(poller)
    a.end()
    await wenv.poll(poller, minutes=65)  # A seen ended: closed 'seen' (right)
    ended_a = a.body(CLAN)
    b = next_war(a)
    wenv.api.serve_war(b)
    await wenv.poll(poller, minutes=10)  # B's preparation
    wenv.api.set_war(CLAN, ended_a)  # an older answer from another cache
    await wenv.poll(poller, minutes=1)
    wenv.api.serve_war(b)
    await wenv.poll(poller, minutes=1)

    (first, second) = await wenv.fetch("SELECT * FROM wars ORDER BY preparation_start")
    assert first["closed_how"] == "seen"
    assert second["closed_at"] is None, (
        f"war B closed {second['closed_how']!r} by a stale answer of war A"
    )
