"""Which answer ends which war, from the reviews: an answer about an earlier war ends
nothing newer; a war replaced before its end is cancelled, not missed; friendly wars are
not tracked."""

from __future__ import annotations

from datetime import timedelta

from db import war_stats
from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv, war_start
from tests.bot.wars.review_helpers import OURS, THEIRS
from tests.fakes.wars import ScriptedWar, lineup

# An older /currentwar answer about the war that just ended, served after the next war's
# preparation was read, closes nothing: the new war stays open and its attacks are stored.
# (Review: the new war was closed 'unseen' and lost.)


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
    assert rows[1]["closed_how"] is None, rows  # B must still be open
    assert stored_b == 1  # B's attack must be stored
    assert [e["detail"]["war_id"] for e in ends] == [
        await wenv.value("SELECT id FROM wars WHERE opponent_tag = $1", OPPONENT)
    ]  # A's end posted once, B's never


# Stale /currentwar answers (another key or cache serving an older snapshot) once the
# clan's next war has been seen: they end nothing newer.

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


# A war seen only in preparation, then replaced by another war before its end (a war
# never ends early: cancelled, or an odd answer) is closed 'cancelled': no war_end post,
# no missed attacks counted.


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


# A war closed 'cancelled' (replaced before its end, never fought) is not in a player's
# record or the leaderboard: no war, no attacks available.


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
    assert (rec["wars"], rec["available"]) == (0, 0), dict(rec)


# Friendly wars (the recorded currentwar_inwar/ended bodies are ones: 5 min preparation,
# 45 min battle) are not tracked: no war_end post, no missed attacks in /war missed,
# /war player or the leaderboard. coc.py's ClanWar.type tells them by the preparation's
# length, and so does the poller.


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
    assert not missed and not ends
