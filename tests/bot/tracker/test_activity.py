"""Signs of play: what counts as activity, and the last one kept per player."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.profile import parse_player
from bot.tracker.activity import label, signs_of_play
from tests.bot.tracker.conftest import Env
from tests.fakes.coc_api import make_clan, make_player

A = "#2PP0JCCL"
BASE = parse_player(make_player(A, trophies=3000, defense_wins=10, attack_wins=20))


def test_a_defense_alone_is_no_sign_of_play() -> None:
    lost = replace(BASE, trophies=BASE.trophies - 20)
    won = replace(BASE, trophies=BASE.trophies + 8, defense_wins=BASE.defense_wins + 1)
    assert signs_of_play(BASE, lost) == ()
    assert signs_of_play(BASE, won) == ()
    assert signs_of_play(BASE, replace(BASE, defense_wins=BASE.defense_wins + 3)) == ()


def test_each_sign_of_play_is_named() -> None:
    cases = {
        "trophies": replace(BASE, trophies=BASE.trophies + 30),
        "attack_wins": replace(BASE, attack_wins=BASE.attack_wins + 1),
        "builder_trophies": replace(BASE, builder_trophies=BASE.builder_trophies - 10),
        "exp_level": replace(BASE, exp_level=BASE.exp_level + 1),
        "upgrade": replace(BASE, town_hall=BASE.town_hall + 1),
        "war_stars": replace(BASE, war_stars=BASE.war_stars + 3),
        "capital": replace(BASE, capital_contributions=BASE.capital_contributions + 500),
        "name": replace(BASE, name="Renamed"),
    }
    for sign, new in cases.items():
        assert sign in signs_of_play(BASE, new), sign
    hero = next(iter(BASE.heroes))
    upgraded = replace(BASE, heroes={**BASE.heroes, hero: BASE.heroes[hero] + 1})
    assert signs_of_play(BASE, upgraded) == ("upgrade",)
    assert signs_of_play(BASE, BASE, donated=5) == ("donations",)
    assert signs_of_play(BASE, BASE, received=5) == ("received",)
    assert label("donations,war_attack,town_hall") == "donated, war attack, upgraded"
    assert label(None) == "unknown"


async def last_active(env: Env, tag: str) -> tuple:
    async with env.pool.acquire() as con:
        row = await con.fetchrow(
            "SELECT last_active_at, last_active_by FROM players WHERE tag = $1", tag
        )
    return (row["last_active_at"], row["last_active_by"])


async def test_the_tracker_keeps_the_last_sign_of_play(env: Env) -> None:
    tracker = await env.new_tracker()
    env.api.set_player(make_player(A, trophies=3000, defense_wins=10, attack_wins=20))
    await env.track(A)
    await env.poll(tracker)
    assert await last_active(env, A) == (None, None)  # the baseline says nothing

    env.api.set_player(make_player(A, trophies=3031, defense_wins=10, attack_wins=21))
    await env.poll(tracker)
    played_at = env.clock.now
    at, by = await last_active(env, A)
    assert abs(at - played_at) < timedelta(milliseconds=1)
    assert set(by.split(",")) == {"trophies", "attack_wins"}

    # Defenses alone (one lost, then one won) are not play: the last activity stays.
    env.api.set_player(make_player(A, trophies=3001, defense_wins=10, attack_wins=21))
    await env.poll(tracker)
    env.api.set_player(make_player(A, trophies=3010, defense_wins=11, attack_wins=21))
    await env.poll(tracker)
    assert (await last_active(env, A))[0] == at

    env.api.set_player(make_player(A, trophies=3010, defense_wins=11, attack_wins=21, donations=8))
    await env.poll(tracker)
    at2, by2 = await last_active(env, A)
    assert at2 > at and by2 == "donations"


def test_a_member_lists_trophies_are_no_sign_of_play() -> None:
    """The list shows trophies without defense wins: a won defense would look like play."""
    won = replace(BASE, trophies=BASE.trophies + 8)
    assert signs_of_play(BASE, won, full=False) == ()
    assert signs_of_play(BASE, won) == ("trophies",)


async def test_a_profile_read_just_after_the_clans_list_still_shows_attacks(env: Env) -> None:
    """A member's full profile read within the profile's cache age after the clan's list
    may be older than the list: the stats both show are kept, but those only a profile
    shows (attack wins, war stars, ...) come from the profile's own answers, in order."""
    clan = "#2Q9VRJ0"
    tracker = await env.new_tracker()

    def publish(**stats: int) -> None:
        p = make_player(A, clan=(clan, "C"), **stats)
        env.api.set_player(p)
        env.api.set_clan(make_clan(clan, [p]))

    publish(attack_wins=10, war_stars=100, trophies=3000)
    await env.track_clan(clan)
    await env.poll(tracker)
    publish(attack_wins=11, war_stars=103, trophies=3030)
    env.clock.advance(minutes=10)
    async with env.pool.acquire() as con:
        await con.execute("UPDATE clan_polls SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()
    env.clock.advance(seconds=5)  # the profile, 5 s after the list
    async with env.pool.acquire() as con:
        await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()
    assert (await env.history(A, "attack_wins", "war_stars", "trophies"))[-1] == (11, 103, 3030)
    at, by = await last_active(env, A)
    assert abs(at - env.clock.now) < timedelta(milliseconds=1)
    assert set(by.split(",")) == {"attack_wins", "war_stars"}
