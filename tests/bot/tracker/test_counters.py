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

from bot.tracker.counters import LIST, PROFILE, CounterReading, Hold, apply, first_reading
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


# -- hand-picked timelines that the issue names ---------------------------------------------


def _profile(
    at: datetime, clan: str | None, d: int, r: int, lifetime: int | None
) -> CounterReading:
    return CounterReading(PROFILE, at, clan, d, r, lifetime=lifetime)


T0 = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_a_leave_seen_by_the_clan_list_counts_nothing() -> None:
    state = first_reading(_profile(T0, "#A", 500, 40, 10_500)).state
    left = apply(
        state, CounterReading(LIST, T0 + timedelta(minutes=5), None, 0, 0, left=True, list_of="#A")
    )
    assert left.credits == [] and left.state.donations_total == 500
    assert (left.state.donations, left.state.received) == (0, 0)


def test_a_late_reset_is_not_counted_again() -> None:
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 400, 30, 10_400)).state
    # After the season end the API still shows the old counters; nothing was donated.
    late = apply(state, _profile(end + timedelta(minutes=5), "#A", 400, 30, 10_400))
    assert late.credits == [] and late.state.season == season_start(T0)
    # Then the reset shows, and the new season starts from zero.
    reset = apply(late.state, _profile(end + timedelta(minutes=30), "#A", 25, 0, 10_425))
    assert reset.state.donations_total == 425
    assert [(c.season, c.donations) for c in reset.credits] == [(end, 25)]


def test_without_a_witness_an_undecided_counter_is_held_until_the_grace_ends() -> None:
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 400, 30, None)).state
    held = apply(state, _profile(end + timedelta(minutes=5), "#A", 410, 30, None))
    assert held.held and held.credits == []
    # Past the grace, a counter that never dropped is taken as refilled after the reset.
    after = apply(held.state, _profile(end + timedelta(hours=3), "#A", 420, 30, None))
    assert [(c.season, c.donations) for c in after.credits] == [(end, 420)]


def test_a_real_reset_followed_by_more_donations_than_before_waits_for_the_grace() -> None:
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 10, 0, 10_010)).state
    # Reset, then 30 donated: the counter (30) is above the old one (10). The witness
    # shows a reset, but a leave and rejoin before the season end would look the same.
    held = apply(state, _profile(end + timedelta(minutes=20), "#A", 30, 0, 10_040))
    assert held.held and held.credits == []
    after = apply(held.state, _profile(end + timedelta(hours=3), "#A", 35, 0, 10_045))
    assert after.state.donations_total == 45
    assert [(c.season, c.donations) for c in after.credits] == [(end, 35)]


def test_a_leave_and_rejoin_between_readings_is_found_by_the_witness() -> None:
    state = first_reading(_profile(T0, "#A", 100, 0, 10_100)).state
    # Donated 50 more, left (zeroed), rejoined, donated 120: the counter shows 120.
    after = apply(state, _profile(T0 + timedelta(hours=1), "#A", 120, 0, 10_270))
    assert after.state.donations_total == 270
    assert sum(c.donations for c in after.credits) == 170


def test_a_stale_reading_from_the_other_endpoint_is_held() -> None:
    state = first_reading(_profile(T0, "#A", 100, 20, 10_100)).state
    state = apply(state, CounterReading(LIST, T0 + timedelta(minutes=1), "#A", 100, 20)).state
    state = apply(state, _profile(T0 + timedelta(minutes=2), "#A", 150, 20, 10_150)).state
    # The clan list, cached for longer, still shows 100: not a reset.
    stale = apply(state, CounterReading(LIST, T0 + timedelta(minutes=3), "#A", 100, 20))
    assert stale.held and stale.state.donations_total == 150
    # The same endpoint dropping is a reset (left and rejoined).
    rejoined = apply(stale.state, CounterReading(LIST, T0 + timedelta(minutes=4), "#A", 5, 0))
    assert rejoined.state.donations_total == 155


@pytest.mark.parametrize("lifetime", [None, 10_000])
def test_achievements_that_do_not_move_never_take_anything_back(lifetime: int | None) -> None:
    state = first_reading(_profile(T0, "#A", 100, 0, lifetime)).state
    after = apply(state, _profile(T0 + timedelta(hours=1), "#A", 160, 0, lifetime))
    assert after.state.donations_total == 160


def test_a_first_sighting_in_a_late_reset_counts_the_old_counter_as_this_seasons() -> None:
    """A limit: first seen after a season end while the API still shows the old
    season, a player's counters count as the new season's; the reset that follows
    is only seen if the counter drops (or, for donations, by the witness)."""
    end = season_end(T0)
    first = first_reading(_profile(end + timedelta(minutes=1), "#A", 40, 30, 10_040))
    assert [(c.season, c.donations, c.received) for c in first.credits] == [(end, 40, 30)]
    # The reset came, then 50 donated and 35 received: no counter dropped.
    after = apply(first.state, _profile(end + timedelta(hours=1), "#A", 50, 35, 10_090))
    assert after.state.donations_total == 90  # the witness finds all of it
    assert after.state.received_total == 35  # 30 of the new season's receipts are not seen


# -- the limits: what polling cannot decide, pinned ---------------------------------------------


def test_a_stale_profile_showing_the_old_clan_after_a_move_counts_nothing_again() -> None:
    state = first_reading(CounterReading(LIST, T0, "#A", 300, 40)).state
    # The player moves to #B: the new clan's list shows them with fresh counters.
    moved = apply(state, CounterReading(LIST, T0 + timedelta(minutes=2), "#B", 5, 1))
    assert moved.state.donations_total == 305
    # A profile cached from before the move still shows #A and its counters: held.
    stale = apply(moved.state, _profile(T0 + timedelta(minutes=2, seconds=30), "#A", 300, 40, None))
    assert stale.held and stale.state.donations_total == 305
    # Past its cache age, a profile showing #A is a real move back.
    back = apply(stale.state, _profile(T0 + timedelta(minutes=5), "#A", 2, 0, None))
    assert not back.held and back.state.donations_total == 307


def test_receipts_just_before_a_leave_that_no_poll_saw_are_not_counted() -> None:
    """A limit: received has no witness. 30 received, then left before the next poll."""
    state = first_reading(_profile(T0, "#A", 0, 100, 10_000)).state
    after = apply(state, _profile(T0 + timedelta(hours=1), None, 0, 0, 10_000))
    assert after.state.received_total == 100  # the 30 were never shown


def test_a_rejoin_refilled_past_the_old_value_hides_the_reset_from_receipts() -> None:
    """A limit: 100 received, left and rejoined, 120 received: the counter went
    100 -> 0 -> 120 between two polls, a rise of 20 as far as polling can see."""
    state = first_reading(_profile(T0, "#A", 0, 100, 10_000)).state
    after = apply(state, _profile(T0 + timedelta(hours=1), "#A", 0, 120, 10_000))
    assert after.state.received_total == 120  # the truth is 220


def test_donations_missed_across_a_season_end_go_to_the_season_that_ended() -> None:
    """A limit: between two full profiles across a season end, donations the counter
    never showed are the old season's (here some were the new one's: 10 donated after
    the reset, then a leave)."""
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 50, 0, 10_050)).state
    after = apply(state, _profile(end + timedelta(hours=3), None, 0, 0, 10_080))
    assert after.state.donations_total == 80
    assert [(c.season, c.donations) for c in after.credits] == [(season_start(T0), 30)]


# -- answers older than what is stored (found in review) ------------------------------------------


def _list(at: datetime, clan: str, d: int, r: int) -> CounterReading:
    return CounterReading(LIST, at, clan, d, r, list_of=clan)


def test_the_old_clans_cached_list_after_a_move_counts_nothing_again() -> None:
    state = first_reading(_list(T0, "#A", 300, 40)).state
    state = apply(state, _list(T0 + timedelta(minutes=2), "#B", 5, 1)).state
    # #A's list, 30 s later, is the answer cached from before the move.
    stale = apply(state, _list(T0 + timedelta(minutes=2, seconds=30), "#A", 300, 40))
    assert stale.hold is Hold.STALE
    state = apply(stale.state, _list(T0 + timedelta(minutes=7), "#B", 5, 1)).state
    assert (state.donations_total, state.received_total) == (305, 41)


def test_a_cached_list_from_before_a_season_reset_the_profile_showed() -> None:
    end = season_end(T0)
    state = first_reading(_list(end - timedelta(minutes=30), "#A", 3000, 2000)).state
    state = apply(state, _profile(end - timedelta(minutes=29), "#A", 3000, 2000, 50_000)).state
    state = apply(state, _profile(end + timedelta(seconds=30), "#A", 0, 0, 50_000)).state
    stale = apply(state, _list(end + timedelta(minutes=1), "#A", 3000, 2000))
    assert stale.hold is Hold.STALE
    state = apply(stale.state, _list(end + timedelta(minutes=16), "#A", 20, 5)).state
    assert (state.donations_total, state.received_total) == (3020, 2005)


def test_a_cached_profile_from_before_a_season_reset_the_list_showed() -> None:
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(minutes=30), "#A", 3000, 2000, 50_000)).state
    state = apply(state, _list(end - timedelta(minutes=29), "#A", 3000, 2000)).state
    state = apply(state, _list(end + timedelta(seconds=40), "#A", 0, 0)).state
    stale = apply(state, _profile(end + timedelta(seconds=41), "#A", 3000, 2000, 50_000))
    assert stale.hold is Hold.STALE
    state = apply(stale.state, _list(end + timedelta(minutes=15), "#A", 20, 5)).state
    assert (state.donations_total, state.received_total) == (3020, 2005)


def test_a_cached_list_from_before_a_rejoin_the_profile_showed() -> None:
    state = first_reading(_list(T0, "#A", 150, 60)).state
    state = apply(state, _profile(T0 + timedelta(seconds=5), "#A", 150, 60, 10_150)).state
    state = apply(state, _profile(T0 + timedelta(minutes=11), "#A", 10, 0, 10_160)).state
    assert state.donations_total == 160
    stale = apply(state, _list(T0 + timedelta(minutes=11, seconds=20), "#A", 150, 60))
    assert stale.hold is Hold.STALE
    assert (stale.state.donations_total, stale.state.received_total) == (160, 60)


def test_a_drop_the_other_endpoint_cannot_have_hidden_is_a_reset_soon() -> None:
    """A row stored before the counter model knows no endpoint: a drop is a reset; and a
    drop only older than the other endpoint's cache age after it is one too."""
    legacy = CounterState(season_start(T0), "#A", 100, 50, 1000, 500)
    state = apply(legacy, _profile(T0 + timedelta(hours=1), "#A", 20, 10, None)).state
    assert (state.donations_total, state.received_total) == (1020, 510)
    state = apply(state, _list(T0 + timedelta(hours=2), "#A", 60, 40)).state
    # The profile shows less than the list 30 s ago (more than itself before): maybe
    # an older answer; held.
    held = apply(state, _profile(T0 + timedelta(hours=2, seconds=30), "#A", 25, 15, None))
    assert held.hold is Hold.STALE
    # Two minutes on, it is newer than anything the list showed: a reset.
    later = apply(held.state, _profile(T0 + timedelta(hours=2, minutes=2), "#A", 26, 16, None))
    assert (later.state.donations_total, later.state.received_total) == (1086, 556)


def test_a_held_join_that_its_endpoint_then_drops_from_was_the_old_seasons() -> None:
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 100, 80, None)).state
    # Moved to #B before the season end and received 30 there; the API is late.
    held = apply(state, _profile(end + timedelta(minutes=10), "#B", 5, 30, None))
    assert held.hold is Hold.UNDECIDED
    after = apply(held.state, _profile(end + timedelta(minutes=20), "#B", 2, 1, None))
    assert (after.state.donations_total, after.state.received_total) == (107, 111)
    assert [(c.season, c.donations, c.received) for c in after.credits] == [
        (season_start(T0), 5, 30),
        (end, 2, 1),
    ]
