"""The donation counter model on generated timelines (pure: no database, no API).

A simulated player donates, receives, leaves, joins, moves, rejoins between
readings, and crosses season ends that the API may show late; readings come
from the clan's member list and from full profiles in any order. The
model's running totals must never exceed what happened, must equal it at
every full profile (the lifetime achievements witness it), and must lose
nothing a reading could see. The end-to-end version of this (real tracker,
database and fake API) is tests/bot/tracker/test_timeline_model.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from bot.tracker.counters import LIST, PROFILE, CounterReading, apply, first_reading
from bot.tracker.seasons import season_end, season_start
from db.model import CounterState
from tests.bot.tracker.game import Game, Member

P, Q, R = "#P", "#Q", "#R"
CLANS = {"#A": "Alpha", "#B": "Bravo"}
# An hour before a season end, so that timelines cross one early.
START = season_end(datetime(2026, 3, 10, tzinfo=UTC)) - timedelta(hours=1)
STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "days": timedelta(days=9)}
# What the runs checked, for RELIABILITY.md (printed with -s).
FIGURES = {"timelines": 0, "readings": 0, "held": 0, "exact": 0, "bounded": 0}


@dataclass
class Seen:
    """A reading the model placed: the moment its answer showed, and what it showed."""

    api_time: datetime
    clan: str | None
    donations: int
    received: int
    read_at: datetime


class CounterMachine(RuleBasedStateMachine):
    @initialize(clan=st.sampled_from(sorted(CLANS)), cached=st.booleans())
    def setup(self, clan: str, cached: bool) -> None:
        self.game = Game(
            START,
            CLANS,
            [Member(P, "P", clan), Member(Q, "Q", "#A"), Member(R, "R", "#B")],
            cached=cached,
        )
        self.state: CounterState | None = None
        self.base_time = START
        self.base = (0, 0)
        self.seen: list[Seen] = []
        self.credited: dict[datetime, list[int]] = {}
        self.read_at = START  # what the API showed at the last reading
        self.placed_at = START  # ... at the last reading the model could place
        self.held = 0
        self.witnessed_at = START
        # Seasons whose donations only add up together (see _check_seasons).
        self.fuzzy: set[datetime] = set()
        FIGURES["timelines"] += 1
        # The first sighting, before any season end: one within RESET_GRACE after a
        # season end is a limit of its own (test_a_first_sighting_in_a_late_reset).
        self.read_profile()

    # -- the game -------------------------------------------------------------------------

    @rule(units=st.integers(1, 60), to=st.sampled_from([Q, R]))
    def give(self, units: int, to: str) -> None:
        self.game.donate(P, to, units)

    @rule(units=st.integers(1, 60), source=st.sampled_from([Q, R]))
    def receive(self, units: int, source: str) -> None:
        self.game.donate(source, P, units)

    @rule()
    def leave(self) -> None:
        self.game.leave(P)

    @rule(clan=st.sampled_from(sorted(CLANS)))
    def join_or_move(self, clan: str) -> None:
        self.game.join(P, clan)

    @rule()
    def rejoin(self) -> None:
        self.game.rejoin(P)

    @rule(step=st.sampled_from(sorted(STEPS)), late=st.sampled_from([0, 10, 90]))
    def advance(self, step: str, late: int) -> None:
        self.game.advance(STEPS[step], lag=timedelta(minutes=late))

    # -- readings -------------------------------------------------------------------------

    def _read(self, reading: CounterReading, shown: datetime, view: Member | None) -> None:
        """Apply a reading whose answer shows the moment ``shown`` (``view``: P as the
        endpoint answered; None for a list that no longer shows P)."""
        if self.state is None:
            assert view is not None
            outcome = first_reading(reading)
            self.base_time = shown
            self.base = (view.donations, view.received)
        else:
            outcome = apply(self.state, reading)
        self.state = outcome.state
        FIGURES["readings"] += 1
        self.read_at = max(self.read_at, shown)
        for credit in outcome.credits:
            totals = self.credited.setdefault(credit.season, [0, 0])
            totals[0] += credit.donations
            totals[1] += credit.received
        if outcome.held:
            # The model could not place this reading (maybe older than what it has, or
            # undecided after a season end): what only it showed is not counted as seen.
            self.held += 1
            FIGURES["held"] += 1
            return
        if view is not None:  # a leave seen by the old clan's list shows no counter
            self.placed_at = max(self.placed_at, shown)
            self.seen.append(Seen(shown, view.clan, view.donations, view.received, reading.at))
        if reading.source == PROFILE:
            # The witness: the total is what was donated up to this answer's moment,
            # plus what fresher answers of the other endpoint showed since.
            total = self.state.donations_total
            assert self._given(shown) <= total <= self._given(self.placed_at), (
                self.state,
                self._given(shown),
                self._given(self.placed_at),
            )
            if shown >= self.placed_at:
                assert total == self._given(shown)
                FIGURES["exact"] += 1
                self._check_seasons(shown)
            else:
                FIGURES["bounded"] += 1
            self.witnessed_at = shown

    @rule()
    def read_profile(self) -> None:
        self.game.tick()
        shown, view = self.game.read_profile(P)
        self._read(
            CounterReading(
                PROFILE,
                self.game.now,
                view.clan,
                view.donations,
                view.received,
                lifetime=view.lifetime,
            ),
            shown,
            view,
        )

    @rule(clan=st.sampled_from(sorted(CLANS)))
    def read_list(self, clan: str) -> None:
        assert self.state is not None
        self.game.tick()
        shown, members = self.game.read_list(clan)
        view = next((m for m in members if m.tag == P), None)
        if view is not None:
            reading = CounterReading(
                LIST, self.game.now, clan, view.donations, view.received, list_of=clan
            )
            self._read(reading, shown, view)
        elif self.state.clan_tag == clan:
            left = CounterReading(LIST, self.game.now, None, 0, 0, left=True, list_of=clan)
            self._read(left, shown, None)

    @rule(endpoint=st.sampled_from(["profile", *(f"list:{c}" for c in sorted(CLANS))]))
    def another_caller_reads(self, endpoint: str) -> None:
        """Someone else asks the API: the answer it caches may be served to the bot later,
        though the bot never read it."""
        self.game.tick()
        self.game.snapshot(f"profile:{P}" if endpoint == "profile" else endpoint)

    # -- what must hold -------------------------------------------------------------------

    def _check_seasons(self, until: datetime) -> None:
        """Each season's donations are exact at a witness, except where polling cannot
        place them: donations the counter never showed, between two witnesses that a
        season end separates, belong to the season that ended unless the player also
        left a clan after the season end (then some were the new season's), or the two
        witnesses are more than one season end apart."""
        since = self.witnessed_at
        ends = []
        end = season_end(since)
        while end <= until:
            ends.append(end)
            end = season_end(end)
        leaves = [z.at for z in self.game.zeroings[P] if since < z.at <= until and z.at not in ends]
        if len(ends) > 1 or (
            ends and any(self.game.given(P, ends[-1], z) > 0 for z in leaves if z > ends[-1])
        ):
            self.fuzzy |= {season_start(since), *ends}
        # A leave (or rejoin) that no reading saw, around a season end: the counter's
        # drop after the season end may be that leave's, not the season's reset.
        # (Which side of the season end a reading is on is what the model knows: when
        # it was read; what it shows is from its answer's moment.)
        placed = sorted(self.seen, key=lambda s: s.read_at)
        for end in self.game.season_ends:
            before = [s.api_time for s in placed if s.read_at < end]
            after = [s.api_time for s in placed if s.read_at >= end]
            low = max(before) if before else self.base_time
            high = max(after[0], end) if after else self.read_at
            if any(low < z.at < high and z.at != end for z in self.game.zeroings[P]):
                self.fuzzy |= {season_start(end - timedelta(seconds=1)), end}
        truth = self.game.given_by_season(P, self.base_time, until)
        first = season_start(self.base_time)
        truth[first] = truth.get(first, 0) + self.base[0]
        mine = {k: v[0] for k, v in self.credited.items()}
        for season in set(truth) | set(mine):
            if season not in self.fuzzy:
                assert mine.get(season, 0) == truth.get(season, 0), (season, mine, truth)
        assert sum(mine.get(f, 0) for f in self.fuzzy) == sum(truth.get(f, 0) for f in self.fuzzy)

    # The truth as far as the readings could see it: up to the moment the last one showed.
    def _given(self, until: datetime | None = None) -> int:
        return self.base[0] + self.game.given(P, self.base_time, until or self.read_at)

    def _got(self, until: datetime | None = None) -> int:
        return self.base[1] + self.game.got(P, self.base_time, until or self.read_at)

    def _lost_receipts(self) -> int:
        """Receipts no reading could see.

        At each zeroing (a leave, a season end): what was on the counter above what
        the last reading of that epoch showed. And when the next reading shows no
        drop, no other clan and no season end (the counter was refilled past its old
        value between two readings), the reset itself is invisible: what the last
        reading showed is counted once, not again after the reset.
        """
        lost = 0
        epoch_start = self.base_time
        seen = sorted(
            (s for s in self.seen if s.api_time <= self.placed_at), key=lambda s: s.api_time
        )
        for zeroing in self.game.zeroings[P]:
            if zeroing.at <= self.base_time or zeroing.at > self.placed_at:
                continue
            in_epoch = [s for s in seen if epoch_start <= s.api_time < zeroing.at]
            lost += zeroing.received - max((s.received for s in in_epoch), default=0)
            after = [s for s in seen if s.api_time >= zeroing.at]
            if in_epoch and after:
                a, b = in_epoch[-1], after[0]
                if (
                    b.clan == a.clan
                    and b.received >= a.received
                    and b.donations >= a.donations
                    # The same season as the model sees it (by when they were read):
                    # then only a drop shows the reset.
                    and season_start(b.read_at) == season_start(a.read_at)
                ):
                    lost += a.received
            epoch_start = zeroing.at
        return lost

    @invariant()
    def never_more_than_happened(self) -> None:
        if self.state is None:
            return
        assert self.state.donations_total <= self._given()
        assert self.state.received_total <= self._got()

    @invariant()
    def nothing_seen_is_lost(self) -> None:
        if self.state is None:
            return
        placed = self._got(self.placed_at)
        assert self.state.received_total >= placed - self._lost_receipts()

    @invariant()
    def seasons_add_up_to_the_totals(self) -> None:
        if self.state is None:
            return
        assert sum(d for d, _ in self.credited.values()) == self.state.donations_total
        assert sum(r for _, r in self.credited.values()) == self.state.received_total

    @invariant()
    def baseline_never_above_the_counter_in_play(self) -> None:
        # The stored counter is what was credited in the epoch: never above the totals.
        if self.state is not None:
            assert 0 <= self.state.donations <= self.state.donations_total


def _run(examples: int, steps: int) -> None:
    run_state_machine_as_test(
        CounterMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_counter_model() -> None:
    _run(examples=300, steps=40)
    print("\ncounter model:", FIGURES)


@pytest.mark.heavy
def test_counter_model_long() -> None:
    _run(examples=6000, steps=60)
    print("\ncounter model (long):", FIGURES)
