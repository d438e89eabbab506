"""Generated war timelines through the real war poller, database and fake API (issue 12).

A clan fights war after war. Between polls its members and the opponent's
attack, battle days start and end, the next war's preparation begins, the
API shows notInWar for a while or serves an older answer, two processes poll
at once. After every step the database is checked against the scripted
truth:

- every stored attack is one that was made, with its stars and destruction,
  once; every attack made before a poll that read its war is stored;
- each attack of the clan's members is posted once (``war_attack``);
- a war seen ended is closed 'seen' with its result, and its missed attacks
  are exact per member; a war that ended between polls is closed 'unseen':
  its missed attacks are those of the last poll, too many by exactly the
  attacks made after it (the war log's count says how many: ``attacks_unseen``);
- every closed war is posted once (``war_end``), an open one never;
- a war is stored once, however many polls and processes read it.

What polling cannot know is pinned, not hidden: a whole war that began and
ended between two polls is not stored (only the war log, without attacks,
shows it), and attacks made after a war's last poll are not known by name.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from bot.clash import ClashApi
from bot.wars.poller import WarOptions, WarPoller
from db import guild_tracking
from db.pool import create_pool
from tests.bot.tracker.conftest import Clock, tracker_settings
from tests.bot.wars.conftest import CLAN, START
from tests.db_fixtures import PgServer
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.wars import ScriptedWar, lineup
from tests.state_machines import run_machine

OURS = ["#8QQ", "#8RR", "#8UU", "#8VV"]
THEIRS = ["#9QQ", "#9RR", "#9UU", "#9VV"]
OPPONENTS = ["#9YY", "#8YY", "#2YY", "#2CC"]


@dataclass
class Figures:
    timelines: int = 0
    steps: int = 0
    wars: int = 0
    attacks: int = 0
    closed_seen: int = 0
    closed_unseen: int = 0
    wars_never_polled: int = 0
    stale_answers: int = 0
    counts: dict[str, int] = field(default_factory=dict)


FIGURES = Figures()


@dataclass
class Fought:
    """A scripted war and what the polls saw of it."""

    war: ScriptedWar
    seen_attacks: int = 0  # attacks made before the last poll that read this war
    seen_states: set[str] = field(default_factory=set)
    first_state: str | None = None  # what the first poll that read it showed
    bodies: list[dict[str, Any]] = field(default_factory=list)  # answers served so far


class WarTimeline(RuleBasedStateMachine):
    def __init__(self, server: PgServer) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.server = server
        self.clock = Clock()
        self.clock.now = START
        self.fought: list[Fought] = []
        self.clients: list[ClashApi] = []
        self.run(self._setup())
        FIGURES.timelines += 1

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def _setup(self) -> None:
        self.dsn = await self.server.new_database()
        self.api = FakeCocApi(
            tokens=("test-token",),
            seed_maintenance_probe=False,
            war_max_age=0,
            league_max_age=0,
            war_log_max_age=0,
        )
        await self.api.start()
        settings_ = tracker_settings(self.api, self.dsn, _data_dir(), interval=60)
        self.pool: asyncpg.Pool = await create_pool(
            self.dsn, min_size=1, max_size=6, command_timeout=60
        )
        self.pollers = []
        for _ in range(2):
            clash = ClashApi(settings_)
            await clash.start()
            self.clients.append(clash)
            self.pollers.append(
                WarPoller(
                    settings=settings_,
                    pool=self.pool,
                    clash=clash,
                    options=WarOptions(request_deadline=5),
                    clock=lambda: self.clock.now,
                )
            )
        async with self.pool.acquire() as con:
            await guild_tracking.track_clan(con, 5000, CLAN, "Our Clan", 1)

    def teardown(self) -> None:
        FIGURES.wars_never_polled += sum(1 for f in self.fought if not f.seen_states)

        async def close() -> None:
            async with self.pool.acquire() as con:
                for how, n in await con.fetch(
                    "SELECT closed_how, count(*) FROM wars WHERE closed_at IS NOT NULL "
                    "GROUP BY closed_how"
                ):
                    if how == "seen":
                        FIGURES.closed_seen += n
                    else:
                        FIGURES.closed_unseen += n
            for clash in self.clients:
                await clash.close()
            await self.pool.close()
            await self.api.stop()
            await self.server.drop_database(self.dsn)

        try:
            self.run(close())
        finally:
            self.loop.close()

    def _count(self, what: str) -> None:
        FIGURES.counts[what] = FIGURES.counts.get(what, 0) + 1
        FIGURES.steps += 1

    @property
    def current(self) -> Fought | None:
        return self.fought[-1] if self.fought else None

    # -- the game -------------------------------------------------------------------------

    @precondition(lambda self: self.current is None or self.current.war.state == "warEnded")
    @rule(size=st.integers(2, 4), per_member=st.sampled_from([1, 2]))
    def next_war_is_found(self, size: int, per_member: int) -> None:
        """The clan searches and finds its next war: its preparation starts now."""
        n = len(self.fought)
        war = ScriptedWar(
            CLAN,
            "Our Clan",
            OPPONENTS[n % len(OPPONENTS)],
            f"Opponent {n}",
            lineup(OURS[:size], town_hall=[15, 14, 13, 12][:size]),
            lineup(THEIRS[:size], town_hall=[16, 14, 12, 12][:size]),
            preparation_start=self.clock.now,
            # Not a friendly war's preparation length (those are not tracked).
            preparation=timedelta(hours=3),
            battle=timedelta(hours=2),
            attacks_per_member=per_member,
        )
        self.fought.append(Fought(war))
        self.api.serve_war(war)
        FIGURES.wars += 1
        self._count("next war")

    @precondition(lambda self: self.current is not None and self.current.war.state == "preparation")
    @rule()
    def battle_day_starts(self) -> None:
        war = self.current.war  # type: ignore[union-attr]
        self.clock.now = max(self.clock.now, war.start_time)
        war.begin_battle()
        self._count("battle day")

    @precondition(lambda self: self.current is not None and self.current.war.state == "inWar")
    @rule(data=st.data(), count=st.integers(1, 6))
    def attacks_are_made(self, data: st.DataObject, count: int) -> None:
        war = self.current.war  # type: ignore[union-attr]
        size = war.team_size
        for _ in range(count):
            side, enemy = data.draw(st.sampled_from([(OURS, THEIRS), (THEIRS, OURS)]))
            ready = [t for t in side[:size] if war.attacks_left(t) > 0]
            if not ready:
                continue
            attacker = data.draw(st.sampled_from(ready))
            defender = data.draw(st.sampled_from(enemy[:size]))
            stars = data.draw(st.integers(0, 3))
            destruction = 100 if stars == 3 else data.draw(st.integers(stars * 30, 99))
            war.attack(attacker, defender, stars, destruction)
            FIGURES.attacks += 1
        self._count("attacks")

    @precondition(lambda self: self.current is not None and self.current.war.state == "inWar")
    @rule(logged=st.booleans())
    def war_ends(self, logged: bool) -> None:
        war = self.current.war  # type: ignore[union-attr]
        self.clock.now = max(self.clock.now, war.end_time)
        war.end()
        if logged:
            self.api.set_war_log(CLAN, [war.log_entry(CLAN)])
        self._count("war end")

    @precondition(lambda self: self.current is not None and self.current.war.state == "warEnded")
    @rule()
    def api_shows_not_in_war(self) -> None:
        self.api.set_war(CLAN, None)
        self._count("not in war")

    @rule(minutes=st.sampled_from([1, 20, 90]))
    def time_passes(self, minutes: int) -> None:
        war = self.current.war if self.current else None
        step = self.clock.now + timedelta(minutes=minutes)
        # The game moves the war on by itself; the rules above say when.
        if war is not None and war.state == "preparation":
            step = min(step, war.start_time - timedelta(seconds=1))
        if war is not None and war.state == "inWar":
            step = min(step, war.end_time - timedelta(seconds=1))
        self.clock.now = max(self.clock.now, step)
        self._count("time")

    # -- the poller -----------------------------------------------------------------------

    async def _poll(self, pollers: list[WarPoller]) -> None:
        async with self.pool.acquire() as con:
            await con.execute("UPDATE war_polls SET next_poll_at = now() - interval '1 s'")
        await asyncio.gather(*(p.run_once() for p in pollers))

    def _saw(self, fought: Fought) -> None:
        fought.seen_attacks = len(fought.war.attacks)
        fought.seen_states.add(fought.war.state)
        fought.first_state = fought.first_state or fought.war.state
        fought.bodies.append(fought.war.body(CLAN))

    def _served(self) -> Fought | None:
        """The war /currentwar shows now (None: notInWar)."""
        cur = self.current
        if cur is None or CLAN not in self.api._wars:
            return None
        return cur

    @rule(two=st.booleans())
    def poll(self, two: bool) -> None:
        served = self._served()
        self.run(self._poll(self.pollers if two else self.pollers[:1]))
        if served is not None:
            self._saw(served)
        self._count("poll (two processes)" if two else "poll")

    @precondition(lambda self: self._served() is not None and bool(self._served().bodies))
    @rule(data=st.data())
    def poll_gets_an_older_answer(self, data: st.DataObject) -> None:
        """Another cache serves an answer older than one already read."""
        served = self._served()
        assert served is not None
        old = data.draw(st.sampled_from(served.bodies))
        self.api.set_war(CLAN, old)
        try:
            self.run(self._poll(self.pollers[:1]))
        finally:
            self.api.serve_war(served.war)
        FIGURES.stale_answers += 1
        self._count("older answer")

    @precondition(lambda self: len(self.fought) > 1 and bool(self.fought[-2].bodies))
    @rule(data=st.data())
    def poll_gets_the_previous_wars_answer(self, data: st.DataObject) -> None:
        """Another cache serves an answer about the war before: it ends nothing newer."""
        old = data.draw(st.sampled_from(self.fought[-2].bodies))
        served = self._served()
        self.api.set_war(CLAN, old)
        try:
            self.run(self._poll(self.pollers[:1]))
        finally:
            if served is not None:
                self.api.serve_war(served.war)
            else:
                self.api.set_war(CLAN, None)
        FIGURES.stale_answers += 1
        self._count("previous war's answer")

    # -- what must hold -------------------------------------------------------------------

    async def _stored(self) -> tuple[list[asyncpg.Record], list[asyncpg.Record], list[Any]]:
        async with self.pool.acquire() as con:
            wars = await con.fetch("SELECT * FROM wars ORDER BY preparation_start")
            attacks = await con.fetch("SELECT * FROM war_attacks ORDER BY war_id, attack_order")
            events = await con.fetch(
                "SELECT kind, tag, new_value, delta, detail FROM player_events ORDER BY id"
            )
        return wars, attacks, events

    def _fought_by_start(self) -> dict[Any, Fought]:
        return {f.war.preparation_start: f for f in self.fought}

    @invariant()
    def attacks_are_the_ones_made_once_each(self) -> None:
        wars, attacks, events = self.run(self._stored())
        by_start = self._fought_by_start()
        by_id = {w["id"]: by_start[w["preparation_start"]] for w in wars}
        stored: dict[int, list[asyncpg.Record]] = {}
        for a in attacks:
            stored.setdefault(a["war_id"], []).append(a)
            made = by_id[a["war_id"]].war.attacks[a["attack_order"] - 1]
            assert (a["attacker_tag"], a["defender_tag"], a["stars"], a["destruction"]) == (
                made["attackerTag"],
                made["defenderTag"],
                made["stars"],
                float(made["destructionPercentage"]),
            )
        for w in wars:
            fought = by_id[w["id"]]
            orders = [a["attack_order"] for a in stored.get(w["id"], [])]
            # Every attack a poll could see is stored (attack orders run 1, 2, ...).
            assert orders[: fought.seen_attacks] == list(range(1, fought.seen_attacks + 1))
            assert len(orders) <= len(fought.war.attacks)
        posted = [e for e in events if e["kind"] == "war_attack"]
        # A war first read over is stored, not posted (it is not news).
        quiet = {w["id"] for w in wars if by_id[w["id"]].first_state == "warEnded"}
        ours = [a for a in attacks if a["attacker_side"] == "clan" and a["war_id"] not in quiet]
        assert sorted((e["tag"], e["delta"]) for e in posted) == sorted(
            (a["attacker_tag"], a["stars"]) for a in ours
        )

    @invariant()
    def wars_are_stored_once_and_closed_right(self) -> None:
        wars, attacks, events = self.run(self._stored())
        by_start = self._fought_by_start()
        polled = [f for f in self.fought if f.seen_states]
        assert [w["preparation_start"] for w in wars] == [f.war.preparation_start for f in polled]
        ends = [e for e in events if e["kind"] == "war_end"]
        closed = [w for w in wars if w["closed_at"] is not None]
        quiet = [w for w in closed if by_start[w["preparation_start"]].first_state == "warEnded"]
        assert len(ends) == len(closed) - len(quiet)
        for w in closed:
            fought = by_start[w["preparation_start"]]
            war = fought.war
            assert war.state == "warEnded"  # nothing closes a war that still runs
            used: dict[str, int] = {}
            for a in war.attacks:
                used[a["attackerTag"]] = used.get(a["attackerTag"], 0) + 1
            seen_used: dict[str, int] = {}
            for a in attacks:
                if a["war_id"] == w["id"] and a["attacker_side"] == "clan":
                    seen_used[a["attacker_tag"]] = seen_used.get(a["attacker_tag"], 0) + 1
            lineup_tags = OURS[: war.team_size]
            true_missed = {t: war.attack_limit - used.get(t, 0) for t in lineup_tags}
            shown_missed = {t: war.attack_limit - seen_used.get(t, 0) for t in lineup_tags}
            unseen = sum(used.get(t, 0) for t in lineup_tags) - sum(seen_used.values())
            if w["closed_how"] == "seen":
                assert "warEnded" in fought.seen_states
                assert w["result"] == war.result(CLAN)
                assert unseen == 0 and shown_missed == true_missed
            else:
                assert w["closed_how"] == "unseen"
                # The limit: attacks after the last poll are not known by name.
                assert all(shown_missed[t] >= true_missed[t] for t in lineup_tags)
                if w["log_completed"]:
                    assert w["attacks_unseen"] == unseen
                    assert w["result"] == war.result(CLAN)
                else:
                    assert w["result"] is None
            if w in quiet:
                assert not [e for e in ends if e["detail"]["war_id"] == w["id"]]
                continue
            (end,) = [e for e in ends if e["detail"]["war_id"] == w["id"]]
            assert {m["tag"]: m["missed"] for m in end["detail"]["missed"]} == {
                t: n for t, n in shown_missed.items() if n > 0
            }


def _data_dir() -> Any:
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="wartimeline-"))


def _run(server: PgServer, examples: int, steps: int) -> None:
    run_machine(lambda: WarTimeline(server), examples, steps)


def _report() -> str:
    f = FIGURES
    rules = ", ".join(f"{k} {v}" for k, v in sorted(f.counts.items()))
    return (
        f"{f.timelines} timelines, {f.steps} steps, {f.wars} wars, {f.attacks} attacks, "
        f"{f.stale_answers} older answers, {f.closed_seen} wars closed seen ended, "
        f"{f.closed_unseen} ended between polls, {f.wars_never_polled} begun and ended "
        f"between two polls (not stored: the limit); steps by rule: {rules}"
    )


def test_generated_war_timelines(pg_server: PgServer) -> None:
    _run(pg_server, examples=int(os.environ.get("WAR_TIMELINE_EXAMPLES", "25")), steps=40)
    print("\ngenerated war timelines:", _report())


@pytest.mark.heavy
def test_generated_war_timelines_long(pg_server: PgServer) -> None:
    _run(pg_server, examples=400, steps=60)
    print("\ngenerated war timelines (long):", _report())
