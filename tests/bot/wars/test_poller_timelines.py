"""Wars through the fake API, poll by poll: every attack once, missed attacks exact, a war that
ended between polls, a private log, the CWL."""

from __future__ import annotations

from datetime import timedelta

from db import wars
from tests.bot.wars.conftest import CLAN, OPPONENT, WarEnv, war_start
from tests.fakes.wars import CwlWeek, ScriptedWar, lineup

OURS = ["#8QQ", "#8RR", "#8UU"]
THEIRS = ["#9QQ", "#9RR", "#9UU"]


def scripted(wenv: WarEnv, *, per_member: int = 2, battle_left: float = 20) -> ScriptedWar:
    return ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(OURS, names=["Ann", "Bob", "Cid"], town_hall=[15, 14, 13]),
        lineup(THEIRS, town_hall=[16, 14, 12]),
        preparation_start=war_start(wenv.clock, battle_left=timedelta(hours=battle_left)),
        attacks_per_member=per_member,
    )


async def test_an_attack_seen_in_many_polls_is_stored_once(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = scripted(wenv)
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    war.attack(OURS[0], THEIRS[0], 2, 80)
    war.attack(THEIRS[0], OURS[0], 3, 100)
    for _ in range(3):
        assert await wenv.poll(poller) == 1
    war.attack(OURS[1], THEIRS[1], 1, 45)
    for _ in range(2):
        await wenv.poll(poller)

    assert await wenv.attacks() == [
        (OURS[0], THEIRS[0], 1),
        (THEIRS[0], OURS[0], 2),
        (OURS[1], THEIRS[1], 3),
    ]
    stored = await wenv.fetch("SELECT * FROM war_attacks ORDER BY attack_order")
    first = stored[0]
    assert (first["stars"], first["destruction"], first["duration"]) == (2, 80.0, 150)
    assert (first["attacker_th"], first["defender_th"]) == (15, 16)
    assert (first["attacker_position"], first["defender_position"]) == (1, 1)
    assert [r["attacker_side"] for r in stored] == ["clan", "opponent", "clan"]
    # A feed event per attack of ours, once each.
    posted = await wenv.events("war_attack")
    assert [(e["tag"], e["delta"]) for e in posted] == [(OURS[0], 2), (OURS[1], 1)]
    assert await wenv.value("SELECT count(*) FROM wars") == 1


async def test_missed_attacks_are_exact_in_a_two_attack_war(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = scripted(wenv, per_member=2)
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)  # preparation: the lineup is stored
    war.begin_battle()
    war.attack(OURS[0], THEIRS[0], 3, 100)
    await wenv.poll(poller)
    war.attack(OURS[0], THEIRS[1], 2, 70)
    war.attack(OURS[1], THEIRS[2], 1, 40)
    war.end()
    await wenv.poll(poller)

    row = await wenv.fetch("SELECT * FROM wars")
    assert len(row) == 1
    assert (row[0]["closed_how"], row[0]["result"]) == ("seen", war.result(CLAN))
    async with wenv.pool.acquire() as con:
        missed = await wars.missed(con, row[0]["id"])
    assert [(m["tag"], m["missed"]) for m in missed] == [(OURS[1], 1), (OURS[2], 2)]
    (end,) = await wenv.events("war_end")
    assert end["tag"] == CLAN and end["new_value"] == war.result(CLAN)
    assert [(m["tag"], m["missed"]) for m in end["detail"]["missed"]] == [
        (OURS[1], 1),
        (OURS[2], 2),
    ]
    # Polls after the end change nothing.
    await wenv.poll(poller)
    assert len(await wenv.events("war_end")) == 1


async def test_missed_attacks_are_exact_in_a_one_attack_war(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = scripted(wenv, per_member=1)
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    war.attack(OURS[2], THEIRS[2], 3, 100)
    await wenv.poll(poller)
    war.end()
    await wenv.poll(poller)
    (row,) = await wenv.fetch("SELECT * FROM wars")
    assert row["attacks_per_member"] == 1
    async with wenv.pool.acquire() as con:
        missed = await wars.missed(con, row["id"])
    assert [(m["tag"], m["missed"]) for m in missed] == [(OURS[0], 1), (OURS[1], 1)]


async def test_a_war_ending_between_polls_is_closed_from_its_last_snapshot_and_the_log(
    wenv: WarEnv,
) -> None:
    await wenv.track_clan()
    war = scripted(wenv, battle_left=1)
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    war.attack(OURS[0], THEIRS[0], 2, 60)
    await wenv.poll(poller)
    # Two more attacks and the end, then the next war's preparation, all between polls.
    war.attack(OURS[0], THEIRS[1], 3, 100)
    war.attack(OURS[1], THEIRS[1], 1, 30)
    war.end()
    wenv.api.set_war_log(CLAN, [war.log_entry(CLAN)])
    nxt = ScriptedWar(
        CLAN,
        "Our Clan",
        "#8YY",
        "Next Clan",
        lineup(OURS),
        lineup(["#8LL", "#8GG", "#8CC"]),
        preparation_start=war.end_time + timedelta(minutes=5),
    )
    wenv.api.serve_war(nxt)
    await wenv.poll(poller, minutes=90)

    first, second = await wenv.fetch("SELECT * FROM wars ORDER BY preparation_start")
    assert first["closed_how"] == "unseen"
    assert first["result"] == war.result(CLAN)  # from the war log
    stars, _, made = war.totals(CLAN)
    assert (first["clan_stars"], first["clan_attacks"]) == (stars, made)
    assert first["log_completed"] and first["attacks_unseen"] == 2
    assert second["closed_at"] is None and second["state"] == "preparation"
    # Only the attack a poll saw is stored: the log has no attacks.
    assert await wenv.attacks() == [(OURS[0], THEIRS[0], 1)]
    (end,) = await wenv.events("war_end")
    assert end["new_value"] == war.result(CLAN)
    assert end["detail"]["closed_how"] == "unseen" and end["detail"]["attacks_unseen"] == 2


async def test_a_war_that_vanished_without_a_log_entry_closes_with_no_result(
    wenv: WarEnv,
) -> None:
    await wenv.track_clan()
    war = scripted(wenv, battle_left=1)
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    # While it runs, notInWar (an API hiccup) closes nothing.
    wenv.api.set_war(CLAN, None)
    await wenv.poll(poller)
    assert await wenv.value("SELECT closed_at FROM wars") is None
    # Past its end, still notInWar and an empty log: ended unseen, result unknown.
    await wenv.poll(poller, minutes=120)
    (row,) = await wenv.fetch("SELECT * FROM wars")
    assert row["closed_how"] == "unseen" and row["result"] is None
    assert row["attacks_unseen"] is None and not row["log_completed"]


async def test_the_poll_after_the_end_comes_once_the_api_cache_has_turned(wenv: WarEnv) -> None:
    await wenv.track_clan()
    war = scripted(wenv, battle_left=0.5)  # 30 minutes left, interval 60 s ... and 1 h
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    poller.interval = 3600.0
    await wenv.poll(poller, minutes=0)
    due = await wenv.value("SELECT next_poll_at - last_polled_at FROM war_polls")
    # 30 minutes to the end, plus the API's 120 s cache, instead of the hour.
    assert timedelta(minutes=31) < due < timedelta(minutes=33)


async def test_a_private_war_log_is_recorded_and_asked_less_often(wenv: WarEnv) -> None:
    await wenv.track_clan()
    wenv.api.set_war_log_private(CLAN, True)
    poller = await wenv.poller()
    await wenv.poll(poller)
    row = (await wenv.fetch("SELECT * FROM war_polls"))[0]
    assert row["private_since"] is not None and row["last_error"] is None
    assert row["next_poll_at"] - row["last_polled_at"] >= timedelta(seconds=4 * 60 - 1)
    wenv.api.set_war_log_private(CLAN, False)
    await wenv.poll(poller)
    assert await wenv.value("SELECT private_since FROM war_polls") is None


async def test_cwl_rounds_are_stored_one_attack_each_with_exact_missed_attacks(
    wenv: WarEnv,
) -> None:
    wenv.clock.now = wenv.clock.now.replace(day=2)
    roster = [(t, t.lstrip("#"), 15) for t in ["#8QQ", "#8RR", "#8UU", "#8VV"]]
    other = [(t, t.lstrip("#"), 14) for t in ["#9QQ", "#9RR", "#9UU", "#9VV"]]
    third = [(t, t.lstrip("#"), 13) for t in ["#2QQ", "#2RR", "#2UU", "#2VV"]]
    week = CwlWeek(
        "2026-03",
        [(CLAN, "Our Clan", roster), (OPPONENT, "Their Clan", other), ("#2CC", "Third", third)],
        start=wenv.clock.now - timedelta(hours=1),
        team_size=3,
        number_of_rounds=3,
    )
    wenv.api.serve_league(week)
    await wenv.track_clan()
    poller = await wenv.poller()
    await wenv.poll(poller)  # round 1 in preparation
    made: dict[int, list[str]] = {}
    for round_number in (1, 2, 3):
        week.advance()
        try:
            ours = week.war_of(CLAN, round_number)
        except KeyError:
            continue  # a bye
        home = ours.clan_tag == CLAN
        mine = [m["tag"] for m in ours.lineups[CLAN]]
        enemy = [m["tag"] for m in ours.lineups[ours.opponent_tag if home else ours.clan_tag]]
        ours.attack(mine[0], enemy[0], 2, 75)
        await wenv.poll(poller, minutes=11)
        ours.attack(mine[1], enemy[1], 3, 100)
        await wenv.poll(poller, minutes=11)
        made[round_number] = mine[:2]
    week.advance()  # the last round ends
    await wenv.poll(poller, minutes=11)

    rows = await wenv.fetch("SELECT * FROM wars ORDER BY cwl_round")
    assert [r["cwl_round"] for r in rows] == sorted(made)
    for row in rows:
        assert row["war_tag"] is not None and row["attacks_per_member"] == 1
        assert row["closed_how"] == "seen", row
        async with wenv.pool.acquire() as con:
            missed = await wars.missed(con, row["id"])
        lined_up = [
            r["tag"]
            for r in await wenv.fetch(
                "SELECT tag FROM war_members WHERE war_id = $1 AND side = 'clan' "
                "ORDER BY map_position",
                row["id"],
            )
        ]
        attackers = set(made[row["cwl_round"]])
        assert [(m["tag"], m["missed"]) for m in missed] == [
            (t, 1) for t in lined_up if t not in attackers
        ]
    # Each round's attacks once, whatever the number of polls.
    assert len(await wenv.attacks()) == 2 * len(made)
    assert len(await wenv.events("war_end")) == len(made)
