"""War attacks as signs of play: each seen by a poll, none from a war's first reading."""

from __future__ import annotations

from tests.bot.wars.conftest import WarEnv
from tests.bot.wars.test_poller_timelines import OURS, THEIRS, scripted

PLAYER = (
    "INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies, war_stars,"
    " attack_wins, defense_wins, donations, donations_received, builder_trophies,"
    " best_builder_trophies, builder_hall, capital_contributions, fetched_at, changed_at)"
    " VALUES ($1, 'p', 15, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, now(), now())"
)


async def tracked_members(wenv: WarEnv, tags: list[str]) -> None:
    """The clan is tracked and its members were read by the tracker (their rows exist)."""
    await wenv.track_clan()
    async with wenv.pool.acquire() as con:
        await con.executemany(PLAYER, [(t,) for t in tags])


async def test_an_attack_marks_its_attacker_active_when_a_poll_sees_it(wenv: WarEnv) -> None:
    await tracked_members(wenv, OURS)
    war = scripted(wenv)
    war.begin_battle()
    war.attack(OURS[0], THEIRS[0], 2, 80)  # made before the first reading: a baseline
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    rows = await wenv.fetch("SELECT tag FROM players WHERE last_active_at IS NOT NULL")
    assert rows == []
    war.attack(OURS[1], THEIRS[1], 3, 100)
    await wenv.poll(poller)
    rows = await wenv.fetch(
        "SELECT tag, last_active_at, last_active_by FROM players WHERE last_active_at IS NOT NULL"
    )
    assert [(r["tag"], r["last_active_at"], r["last_active_by"]) for r in rows] == [
        (OURS[1], wenv.clock.now, "war_attack")
    ]


async def test_an_attack_read_long_after_the_war_is_dated_by_its_end(wenv: WarEnv) -> None:
    await tracked_members(wenv, [OURS[1]])
    war = scripted(wenv, battle_left=2)
    war.begin_battle()
    wenv.api.serve_war(war)
    poller = await wenv.poller()
    await wenv.poll(poller)
    war.attack(OURS[1], THEIRS[1], 3, 100)
    war.end()
    await wenv.poll(poller, minutes=60 * 30)  # the bot was down for a day past the end
    [row] = await wenv.fetch("SELECT last_active_at FROM players WHERE tag = $1", OURS[1])
    assert row["last_active_at"] == war.end_time
