"""Clan games on generated timelines through the real tracker, database and fake API.

Players tracked directly (read in full at every poll) earn points, move between two
clans (or leave to none), and are polled, sometimes by a restarted tracker and
sometimes by a command's lookup racing the poll. After every step:

- a player's points this month never pass the maximum, nor what they earned since
  their first full profile;
- once every reading showed a clan, all they earned between their first and last full
  profile is credited, up to the maximum;
- what they earned while in one clan, between two full profiles that both showed that
  clan, is that clan's;
- each clan holds exactly what the rule gives it: a rise goes to the clan of the full
  profile before it (or, after a clanless one, to the clan of the reading);
- the maximum is posted once, exactly when it is reached.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.profile import parse_player
from bot.tracker.observe import record_lookup
from tests.bot.tracker.conftest import Env
from tests.fakes.coc_api import make_player, set_achievement

PLAYERS = ("#2PP0JCCL", "#8YUCG2L")
CLANS = ("#2Q9VRJ0", "#8QU8J9LP", None)
MAX = 500
START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)

step = st.one_of(
    st.tuples(st.just("earn"), st.sampled_from(PLAYERS), st.integers(1, 300)),
    st.tuples(st.just("move"), st.sampled_from(PLAYERS), st.sampled_from(CLANS)),
    st.tuples(st.just("poll"), st.booleans(), st.just(0)),
    st.tuples(st.just("lookup"), st.sampled_from(PLAYERS), st.just(0)),
)


class Truth:
    def __init__(self) -> None:
        self.value = {t: 50_000 for t in PLAYERS}
        self.clan: dict[str, str | None] = {t: CLANS[0] for t in PLAYERS}
        self.first: dict[str, int] = {}  # achievement at the first full profile
        self.last: dict[str, int] = {}  # at the last one
        self.clanless_read = {t: False for t in PLAYERS}
        # Points earned between two full profiles that showed the same clan, per clan.
        self.clean: dict[tuple[str, str], int] = {}
        self.pending: dict[str, list[tuple[str | None, int]]] = {t: [] for t in PLAYERS}
        self.last_clan: dict[str, str | None] = {}
        # What the rule credits: a rise to the clan of the profile before (else this one's).
        self.expected: dict[tuple[str, str], int] = {}

    def payload(self, tag: str) -> dict:
        clan = self.clan[tag]
        p = make_player(tag, clan=(clan, f"Clan {clan}") if clan else None)
        set_achievement(p, "Games Champion", self.value[tag])
        return p

    def read(self, tag: str) -> None:
        """A full profile of ``tag`` was read now (the current truth)."""
        clan = self.clan[tag]
        self.first.setdefault(tag, self.value[tag])
        self.clanless_read[tag] |= clan is None
        earned = self.pending[tag]
        if tag in self.last_clan and all(c == clan for c, _ in earned) and clan is not None:
            if self.last_clan[tag] == clan:
                key = (clan, tag)
                self.clean[key] = self.clean.get(key, 0) + sum(n for _, n in earned)
        if tag in self.last:
            rise = self.value[tag] - self.last[tag]
            to = self.last_clan[tag] or clan
            room = MAX - sum(n for (_, t), n in self.expected.items() if t == tag)
            if rise > 0 and to is not None and room > 0:
                self.expected[(to, tag)] = self.expected.get((to, tag), 0) + min(rise, room)
        self.pending[tag] = []
        self.last[tag] = self.value[tag]
        self.last_clan[tag] = clan


async def check(env: Env, truth: Truth) -> None:
    async with env.pool.acquire() as con:
        rows = await con.fetch("SELECT clan_tag, tag, points FROM clan_games_points")
        totals = {
            r["tag"]: r["points"]
            for r in await con.fetch("SELECT tag, points FROM clan_games_players")
        }
        posts = await con.fetch("SELECT tag FROM player_events WHERE kind = 'clan_games'")
    by_clan = {(r["clan_tag"], r["tag"]): r["points"] for r in rows}
    assert by_clan == truth.expected
    for tag in PLAYERS:
        credited = sum(n for (_, t), n in by_clan.items() if t == tag)
        assert credited == totals.get(tag, 0)
        seen = truth.last.get(tag, 0) - truth.first.get(tag, 0)
        assert 0 <= credited <= min(seen, MAX)
        if not truth.clanless_read[tag]:
            assert credited == min(seen, MAX)
        if credited < MAX:
            for (clan, t), n in truth.clean.items():
                if t == tag:
                    assert by_clan.get((clan, tag), 0) >= n
        assert [p["tag"] for p in posts].count(tag) == (1 if credited >= MAX else 0)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(step, min_size=1, max_size=25))
async def test_generated_clan_games_timelines(env: Env, steps: list[tuple]) -> None:
    async with env.pool.acquire() as con:
        await con.execute(
            "TRUNCATE players, player_history, player_events, player_counters, player_polls,"
            " tracked_players, clan_games_points, clan_games_players, player_seasons CASCADE"
        )
    env.clock.now = START
    env.settings = replace(env.settings, clan_games_max=MAX)
    truth = Truth()
    for tag in PLAYERS:
        env.api.set_player(truth.payload(tag))
    await env.track(*PLAYERS)
    tracker = await env.new_tracker()
    await env.poll(tracker, advance_minutes=1)
    for tag in PLAYERS:
        truth.read(tag)
    for kind, a, b in steps:
        if kind == "earn":
            truth.value[a] += b
            truth.pending[a].append((truth.clan[a], b))
        elif kind == "move":
            truth.clan[a] = b
            truth.pending[a].append((b, 0))
        elif kind == "poll":
            if a:  # a restart: a new tracker process
                tracker = await env.new_tracker()
            for tag in PLAYERS:
                env.api.set_player(truth.payload(tag))
            await env.poll(tracker, advance_minutes=7)
            for tag in PLAYERS:
                truth.read(tag)
        else:  # a command's lookup: a reading like any poll's
            env.clock.advance(minutes=3)
            async with env.pool.acquire() as con:
                profile = parse_player(truth.payload(a))
                await record_lookup(con, profile, env.clock.now, games_max=MAX)
            truth.read(a)
        await check(env, truth)
