"""Generated timelines through the real tracker, battle poller, database and fake API.

Two tracked players battle (0 to 70 battles between two steps, so the log of 50
sometimes overflows), time passes (minutes to days, across ranked weeks whose turn
resets trophies and wins), the tracker reads their profiles, the battle poller reads
what is due (or everything, as if the interval passed), the API refuses a read, the
pollers restart, two tracker or two poller processes run at once, and an answer comes
from another of the API's caches (older than the last). The fake API records the
battles each log answer showed; from those answers alone the oracle knows what the
stored battles must be. After every step:

- each player's stored battles are exactly the battles of the answers read: the first
  answer whole (undated), then what each answer added to the last one not older than it
  (an older answer is ignored), all of it or, when 50 or more were added, the 50 shown
  and a gap;
- each battle's window is (the previous answer's time less the cache age, its
  answer's time], and its ranked week is the week that window lies in, or none when it
  spans a week's turn;
- a week's `ranked_week` is posted at most once.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import gettempdir
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bot.battles.align import LOG_CAPACITY
from bot.battles.poller import ANSWER_AGE, BattleOptions, BattlePoller
from bot.clash import ClashApi
from bot.tracker.engine import Tracker, TrackerOptions
from db import guild_tracking
from db.pool import create_pool
from tests.bot.tracker.conftest import tracker_settings
from tests.db_fixtures import PgServer
from tests.fakes.battles import make_battle, make_week
from tests.fakes.coc_api import RANKED_WEEK, FakeCocApi, make_player
from tests.state_machines import run_machine

GUILD = 5000
TAGS = ("#8QQ", "#8RR")
WEEK_ONE = 1773032400  # Monday 2026-03-09 05:00 UTC; weeks turn at WEEK_ONE + k * 604800
# 90 minutes before the first week's turn: steps of minutes to hours cross it.
START = datetime(2026, 3, 16, 3, 30, tzinfo=UTC)
STEPS = {"minute": 1, "ten minutes": 10, "hour": 60, "half a day": 720, "days": 3 * 1440}
FAST = TrackerOptions(maintenance_pause=0.01, rate_limit_backoff=0.01, request_deadline=2.0)


def week_of(moment: datetime) -> int:
    return WEEK_ONE + int((moment.timestamp() - WEEK_ONE) // RANKED_WEEK) * RANKED_WEEK


@dataclass
class Player:
    tag: str
    battles: list[dict[str, Any]] = field(default_factory=list)
    trophies: int = 5000
    wins: int = 0
    week: int = WEEK_ONE
    # (battles shown, when) of every log answer the API gave.
    answers: list[tuple[int, datetime]] = field(default_factory=list)
    # The next answer comes from another of the API's caches: the log as an earlier
    # answer showed it (never 50 battles older: a cache lasts 60 s, a battle minutes).
    stale_next: bool = False


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class BattleTimeline(RuleBasedStateMachine):
    def __init__(self, server: PgServer) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.server = server
        self.clock = Clock()
        self.players = {t: Player(t) for t in TAGS}
        self.made = 0
        self.clients: list[ClashApi] = []
        self.run(self._setup())

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _setup(self) -> None:
        self.dsn = await self.server.new_database()
        self.api = FakeCocApi(tokens=("test-token",), seed_maintenance_probe=False)
        await self.api.start()
        data_dir = Path(gettempdir()) / f"battle-model-{os.getpid()}"
        self.settings = tracker_settings(self.api, self.dsn, data_dir, interval=600)
        self.pool = await create_pool(self.dsn, min_size=1, max_size=6, command_timeout=60)
        for p in self.players.values():
            self.api.serve_battle_log(p.tag, _Served(self, p))
            self._publish(p)
        async with self.pool.acquire() as con:
            for tag in TAGS:
                await guild_tracking.track_player(con, GUILD, tag, 1)
        self.tracker, self.poller = await self._tracker(), await self._poller()
        await self.tracker.run_once()

    async def _client(self) -> ClashApi:
        clash = ClashApi(self.settings)
        await clash.start()
        self.clients.append(clash)
        return clash

    async def _tracker(self) -> Tracker:
        return Tracker(
            settings=self.settings,
            pool=self.pool,
            clash=await self._client(),
            options=FAST,
            clock=self.clock,
        )

    async def _poller(self) -> BattlePoller:
        return BattlePoller(
            settings=self.settings,
            pool=self.pool,
            clash=await self._client(),
            options=BattleOptions(retry_delay=1.0, request_deadline=2.0),
            clock=self.clock,
        )

    def teardown(self) -> None:
        async def close() -> None:
            for clash in self.clients:
                await clash.close()
            await self.pool.close()
            await self.api.stop()
            await self.server.drop_database(self.dsn)

        try:
            self.run(close())
        finally:
            self.loop.close()

    def _publish(self, p: Player) -> None:
        payload = make_player(
            p.tag,
            name=p.tag[1:],
            trophies=p.trophies,
            attack_wins=p.wins,
            league="Electro League 33",
            league_season=p.week,
        )
        self.api.set_player(payload)
        ended = range(WEEK_ONE, p.week, RANKED_WEEK)
        self.api.set_league_history(p.tag, [make_week(w, 105000033) for w in ended])

    # -- the game ---------------------------------------------------------------------------

    @rule(who=st.sampled_from(TAGS), count=st.integers(0, 70), attack=st.booleans())
    def play(self, who: str, count: int, attack: bool) -> None:
        p = self.players[who]
        for _ in range(count):
            self.made += 1
            p.battles.append(make_battle(self.made, attack=attack, stars=self.made % 4))
            p.trophies += 9 if attack else -9
            p.wins += attack
        self._publish(p)

    @rule(step=st.sampled_from(sorted(STEPS)))
    def time_passes(self, step: str) -> None:
        self.clock.now += timedelta(minutes=STEPS[step])
        for p in self.players.values():
            week = week_of(self.clock.now)
            if week != p.week:  # the week turns: trophies and wins start again
                p.week, p.trophies, p.wins = week, 750, 0
                self._publish(p)

    # -- the bot ----------------------------------------------------------------------------

    @rule()
    def tracker_reads_profiles(self) -> None:
        async def go() -> None:
            async with self.pool.acquire() as con:
                await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
            await self.tracker.run_once()

        self.run(go())

    @rule()
    def two_trackers_at_once(self) -> None:
        async def go() -> None:
            other = await self._tracker()
            async with self.pool.acquire() as con:
                await con.execute("UPDATE player_polls SET next_poll_at = now() - interval '1 s'")
            await asyncio.gather(self.tracker.run_once(), other.run_once())

        self.run(go())

    @rule(interval_passed=st.booleans())
    def poller_reads_logs(self, interval_passed: bool) -> None:
        self.run(self._read(interval_passed, [self.poller]))

    @rule()
    def two_pollers_at_once(self) -> None:
        async def go() -> None:
            other = await self._poller()
            await self._read(True, [self.poller, other])

        self.run(go())

    @rule(who=st.sampled_from(TAGS))
    def the_api_refuses_a_read(self, who: str) -> None:
        path = f"/v1/players/{who}/battlelog"
        self.api.fail(path, 429)
        self.run(self._read(True, [self.poller]))
        self.api.fail(path, None)

    @rule(who=st.sampled_from(TAGS))
    def the_api_serves_an_older_answer(self, who: str) -> None:
        self.players[who].stale_next = True
        self.run(self._read(True, [self.poller]))
        self.players[who].stale_next = False

    @rule()
    def restart(self) -> None:
        async def go() -> None:
            self.tracker, self.poller = await self._tracker(), await self._poller()

        self.run(go())

    async def _read(self, interval_passed: bool, pollers: list[BattlePoller]) -> None:
        # Reads at least a second apart (as the clock of a real process moves).
        self.clock.now += timedelta(seconds=1)
        if interval_passed:
            async with self.pool.acquire() as con:
                await con.execute(
                    "UPDATE battle_logs SET next_poll_at = now() - interval '1 s'"
                    " WHERE next_poll_at IS NOT NULL"
                )
        await asyncio.gather(*(p.run_once() for p in pollers))

    # -- the oracle -------------------------------------------------------------------------

    def expected(self, p: Player) -> tuple[list[tuple[str, Any, Any, Any]], int]:
        """(opponent, window start, window end, week) of every battle the answers showed,
        and the number of gaps."""
        tags = [b["opponentPlayerTag"] for b in p.battles]
        rows: list[tuple[str, Any, Any, Any]] = []
        gaps = 0
        previous: tuple[int, datetime] | None = None
        for count, at in p.answers:
            if previous is not None and count < previous[0]:
                continue  # an older answer than the stored read: ignored
            if previous is None:
                rows += [(t, None, at, None) for t in tags[max(0, count - LOG_CAPACITY) : count]]
                previous = (count, at)
                continue
            seen, then = previous
            if count == seen:
                previous = (count, at)
                continue
            start = then - ANSWER_AGE
            week = week_of(start) if week_of(start) == week_of(at) else None
            rows += [(t, start, at, week) for t in tags[max(seen, count - LOG_CAPACITY) : count]]
            gaps += count - seen >= LOG_CAPACITY
            previous = (count, at)
        return rows, gaps

    @invariant()
    def battles_are_what_the_answers_showed(self) -> None:
        async def stored(tag: str) -> tuple[list[tuple[str, Any, Any, Any]], int]:
            async with self.pool.acquire() as con:
                rows = await con.fetch(
                    "SELECT opponent_tag, window_start, window_end, season_id FROM battles"
                    " WHERE player_tag = $1 ORDER BY id",
                    tag,
                )
                gaps = await con.fetchval(
                    "SELECT count(*) FROM battle_gaps WHERE player_tag = $1", tag
                )
            return [tuple(r) for r in rows], gaps

        for p in self.players.values():
            assert self.run(stored(p.tag)) == self.expected(p)

    @invariant()
    def a_week_is_posted_at_most_once(self) -> None:
        async def posts() -> list[Any]:
            async with self.pool.acquire() as con:
                return await con.fetch(
                    "SELECT tag, detail->>'season_id' AS week, count(*) FROM player_events"
                    " WHERE kind = 'ranked_week' GROUP BY 1, 2 HAVING count(*) > 1"
                )

        assert self.run(posts()) == []


class _Served:
    """A player's log as the API answers it, each answer recorded for the oracle."""

    def __init__(self, machine: BattleTimeline, player: Player) -> None:
        self.machine, self.player = machine, player

    def items(self) -> list[dict[str, Any]]:
        p = self.player
        count = len(p.battles)
        if p.stale_next and len(p.answers) >= 2:
            older = p.answers[-2][0]
            if p.answers[-1][0] - older < LOG_CAPACITY:
                count = older
        p.answers.append((count, self.machine.clock.now))
        return list(reversed(p.battles[max(0, count - LOG_CAPACITY) : count]))


def _run(server: PgServer, examples: int, steps: int) -> None:
    run_machine(lambda: BattleTimeline(server), examples, steps)


def test_generated_battle_timelines(pg_server: PgServer) -> None:
    _run(pg_server, examples=int(os.environ.get("BATTLE_TIMELINE_EXAMPLES", "12")), steps=25)


@pytest.mark.heavy
def test_generated_battle_timelines_long(pg_server: PgServer) -> None:
    _run(pg_server, examples=100, steps=40)
