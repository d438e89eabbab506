"""Clan games through the real tracker, database and fake API, in the games week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clangames.credit import month_of
from bot.profile import parse_player
from bot.tracker.observe import record_lookup
from db import feeds, guild_tracking
from tests.bot.tracker.conftest import GUILD, Env
from tests.fakes.coc_api import make_clan, make_player, set_achievement

CLAN_A, CLAN_B = "#2Q9VRJ0", "#8QU8J9LP"
P, Q = "#2PP0JCCL", "#8YUCG2L"
GAMES_WEEK = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


class Games:
    """Members' payloads and the clans' lists, kept consistent."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.points: dict[str, int] = {}
        self.clan_of: dict[str, str | None] = {}

    def player(self, tag: str) -> dict[str, Any]:
        clan = self.clan_of[tag]
        payload = make_player(
            tag, name=f"P{tag[1:4]}", clan=(clan, f"Clan {clan}") if clan else None
        )
        set_achievement(payload, "Games Champion", self.points[tag])
        return payload

    def publish(self) -> None:
        for tag in self.points:
            self.env.api.set_player(self.player(tag))
        for clan in (CLAN_A, CLAN_B):
            members = [self.player(t) for t, c in self.clan_of.items() if c == clan]
            self.env.api.set_clan(make_clan(clan, members, name=f"Clan {clan}"))

    def set(self, tag: str, *, points: int | None = None, clan: str | bool | None = False) -> None:
        if points is not None:
            self.points[tag] = points
        if clan is not False:
            self.clan_of[tag] = clan  # type: ignore[assignment]
        self.publish()


async def credited(env: Env) -> dict[tuple[str, str], int]:
    async with env.pool.acquire() as con:
        rows = await con.fetch(
            "SELECT clan_tag, tag, points FROM clan_games_points WHERE month = $1",
            month_of(env.clock.now),
        )
    return {(r["clan_tag"], r["tag"]): r["points"] for r in rows}


async def poll_only(env: Env, tracker: Any, table: str) -> None:
    """Poll only the clans (``clan_polls``) or only the players (``player_polls``)."""
    env.clock.advance(minutes=2)
    async with env.pool.acquire() as con:
        await con.execute(f"UPDATE {table} SET next_poll_at = now() - interval '1 s'")
    await tracker.run_once()


async def start(env: Env, games: Games) -> Any:
    env.clock.now = GAMES_WEEK
    games.publish()
    await env.track_clan(CLAN_A)
    await env.track_clan(CLAN_B)
    tracker = await env.new_tracker()
    await env.poll(tracker)  # clan lists: members first seen, read in full at once
    return tracker


async def test_a_member_who_joins_mid_games_counts_from_the_first_sighting(env: Env) -> None:
    games = Games(env)
    games.points = {P: 10_000}
    games.clan_of = {P: CLAN_A}
    tracker = await start(env, games)
    games.set(P, points=10_400)
    await env.poll(tracker)
    assert await credited(env) == {(CLAN_A, P): 400}

    # Q arrives with a lifetime of points from other months and clans: none are this
    # clan's; what Q earns after the first sighting is.
    games.set(Q, points=55_000, clan=CLAN_A)
    await env.poll(tracker)
    assert await credited(env) == {(CLAN_A, P): 400}
    games.set(Q, points=55_250)
    await env.poll(tracker)
    assert await credited(env) == {(CLAN_A, P): 400, (CLAN_A, Q): 250}


async def test_a_member_who_moves_mid_games_credits_each_clan_with_what_was_earned_there(
    env: Env,
) -> None:
    games = Games(env)
    games.points = {P: 1_000}
    games.clan_of = {P: CLAN_A}
    tracker = await start(env, games)
    games.set(P, points=1_300)
    await env.poll(tracker)
    games.set(P, clan=CLAN_B)
    # The lists show the move (the new clan's follows P at the latest on its next read),
    # then a full profile shows the new clan: the baseline's clan from then on.
    await poll_only(env, tracker, "clan_polls")
    await poll_only(env, tracker, "clan_polls")
    await poll_only(env, tracker, "player_polls")
    assert await env.value("SELECT games_clan FROM players WHERE tag = $1", P) == CLAN_B
    games.set(P, points=1_750)
    await env.poll(tracker)
    assert await credited(env) == {(CLAN_A, P): 300, (CLAN_B, P): 450}
    assert await env.value("SELECT points FROM clan_games_players WHERE tag = $1", P) == 750


async def test_limit_points_earned_in_two_clans_between_two_full_profiles_go_to_the_first(
    env: Env,
) -> None:
    """What polling cannot split (RELIABILITY.md): 100 earned in A, a move, 200 in B, and
    only then a reading; all 300 go to A."""
    games = Games(env)
    games.points = {P: 1_000}
    games.clan_of = {P: CLAN_A}
    tracker = await start(env, games)
    games.points[P] = 1_100
    games.set(P, points=1_300, clan=CLAN_B)
    await poll_only(env, tracker, "player_polls")
    assert await credited(env) == {(CLAN_A, P): 300}


async def test_the_cap_and_one_clan_games_post_across_a_restart(env: Env) -> None:
    async with env.pool.acquire() as con:
        await feeds.set_feed(con, GUILD, 777, None, 1)
    games = Games(env)
    games.points = {P: 20_000}
    games.clan_of = {P: CLAN_A}
    tracker = await start(env, games)
    games.set(P, points=23_000)
    await env.poll(tracker)
    games.set(P, points=24_500)  # 4,500 in all: the month's maximum is 4,000
    await env.poll(tracker)
    assert await credited(env) == {(CLAN_A, P): 4_000}
    maxed_at = await env.value("SELECT maxed_at FROM clan_games_players WHERE tag = $1", P)
    assert abs(maxed_at - env.clock.now) < timedelta(milliseconds=1)

    # A restart: a new tracker process reads more points; nothing more is credited or posted.
    restarted = await env.new_tracker()
    games.set(P, points=25_000)
    await env.poll(restarted)
    await env.poll(restarted)
    assert await credited(env) == {(CLAN_A, P): 4_000}
    posts = await env.value(
        "SELECT count(*) FROM feed_outbox o JOIN player_events e ON e.id = o.event_id "
        "WHERE e.kind = 'clan_games' AND o.guild_id = $1",
        GUILD,
    )
    assert posts == 1
    assert [e[1] for e in await env.events(P)].count("clan_games") == 1


async def test_points_are_a_sign_of_play(env: Env) -> None:
    games = Games(env)
    games.points = {P: 500}
    games.clan_of = {P: CLAN_A}
    tracker = await start(env, games)
    assert await env.value("SELECT last_active_at FROM players WHERE tag = $1", P) is None
    games.set(P, points=560)
    await env.poll(tracker)
    row_at = await env.value("SELECT last_active_at FROM players WHERE tag = $1", P)
    assert abs(row_at - env.clock.now) < timedelta(milliseconds=1)
    assert await env.value("SELECT last_active_by FROM players WHERE tag = $1", P) == "clan_games"


async def test_a_lookup_of_a_player_nobody_tracks_credits_nothing(env: Env) -> None:
    """Tracked in clan A early in the month, untracked, then looked up with /player weeks
    later in another clan: what they earned meanwhile is nobody's to count."""
    games = Games(env)
    games.points = {P: 1_000}
    games.clan_of = {P: CLAN_A}
    env.clock.now = GAMES_WEEK - timedelta(days=17)
    games.publish()
    await env.track(P)
    tracker = await env.new_tracker()
    await env.poll(tracker)
    async with env.pool.acquire() as con:
        await guild_tracking.untrack_player(con, GUILD, P)
    env.clock.now = GAMES_WEEK + timedelta(days=3)
    games.set(P, points=5_000, clan=CLAN_B)
    async with env.pool.acquire() as con:
        await record_lookup(con, parse_player(games.player(P)), env.clock.now)
    assert await credited(env) == {}
    assert [e[1] for e in await env.events(P)].count("clan_games") == 0
