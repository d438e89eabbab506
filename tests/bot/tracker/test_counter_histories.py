"""Hand-picked donation counter histories (pure): the timelines the issues and reviews
named, each a regression test of the counter model. The generated timelines are in
test_counters.py (pure) and test_timeline_model.py (end to end).

Several need an answer of one endpoint taken between two of the bot's reads of it:
the API's cache is shared, so another caller's request takes the snapshot the bot is
served later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.tracker.counters import LIST, PROFILE, CounterReading, Hold, apply, first_reading
from bot.tracker.seasons import season_end, season_start
from db.model import LEGACY_ANCHOR, CounterState


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


# -- the second review of the counter model (issue 10) ---------------------------------------


def _totals(state: CounterState) -> tuple[int, int]:
    return state.donations_total, state.received_total


def _left(at: datetime, clan: str) -> CounterReading:
    return CounterReading(LIST, at, None, 0, 0, left=True, list_of=clan)


def _feed(state: CounterState, *readings: CounterReading) -> CounterState:
    for reading in readings:
        state = apply(state, reading).state
    return state


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def test_a_to_b_to_a_within_the_lists_cache_age_is_not_a_rise() -> None:
    """#A's list cached at T0-5s (A 300/40) is read after P went to #B and back to #A
    (A 2/0 on a fresh profile): the old epoch's counters, not a rise. Truth 307/41."""
    state = first_reading(_profile(T0 - timedelta(minutes=10), "#A", 300, 40, 10_300)).state
    state = _feed(
        state,
        _list(T0 - _s(5), "#A", 300, 40),
        _list(T0 + _s(10), "#B", 5, 1),
        _profile(T0 + _s(75), "#A", 2, 0, 10_307),
    )
    assert state.donations_total == 307
    stale = apply(state, _list(T0 + _s(80), "#A", 300, 40))
    assert stale.hold is Hold.STALE
    assert _totals(stale.state)[0] == 307 and _totals(stale.state)[1] <= 41


def test_a_to_nothing_to_a_the_leave_seen_by_the_profile() -> None:
    state = first_reading(_profile(T0 - timedelta(minutes=10), "#A", 300, 40, 10_300)).state
    state = _feed(
        state,
        _list(T0 - _s(5), "#A", 300, 40),
        _profile(T0 + _s(10), None, 0, 0, 10_300),
        _profile(T0 + _s(75), "#A", 2, 0, 10_302),
        _list(T0 + _s(80), "#A", 300, 40),
    )
    assert _totals(state) == (302, 40)


def test_the_held_joins_clan_list_from_before_the_reset_after_its_tail() -> None:
    """P moved to #B before the season end; both endpoints showed B 5/30 late (held);
    the profile then shows B 2/1 (tail and new epoch); #B's list then serves its late
    answer again. Truth 107/111."""
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 100, 80, 10_100)).state
    state = _feed(
        state,
        _list(end + timedelta(minutes=9, seconds=50), "#B", 5, 30),
        _profile(end + timedelta(minutes=10), "#B", 5, 30, 10_105),
        _profile(end + timedelta(minutes=11, seconds=10), "#B", 2, 1, 10_107),
    )
    assert _totals(state) == (107, 111)
    state = apply(state, _list(end + timedelta(minutes=11, seconds=20), "#B", 5, 30)).state
    assert _totals(state) == (107, 111)


def test_a_clan_seen_only_in_held_readings_is_remembered() -> None:
    """Held joins of #B after a season end, then P back in #A (placed as the reset);
    #B's late answer served again, then #A's profile again. Truth 108/112."""
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 100, 80, 10_100)).state
    assert apply(state, _profile(end + timedelta(minutes=5), "#B", 5, 30, 10_105)).held
    state = _feed(
        state,
        _profile(end + timedelta(minutes=5), "#B", 5, 30, 10_105),
        _list(end + timedelta(minutes=9, seconds=50), "#B", 5, 30),
        _profile(end + timedelta(minutes=11, seconds=10), "#A", 3, 2, 10_108),
        _list(end + timedelta(minutes=11, seconds=20), "#B", 5, 30),
        _profile(end + timedelta(minutes=13, seconds=30), "#A", 3, 2, 10_108),
    )
    assert state.donations_total <= 108 and state.received_total <= 112


def test_a_first_reading_then_the_old_clans_cached_list() -> None:
    """#B's list was cached a minute before P's first profile (P in #A by then): it is
    not a move back to #B."""
    state = first_reading(_profile(T0, "#A", 100, 0, 10_600)).state
    state = _feed(
        state, _list(T0 + _s(10), "#B", 500, 0), _profile(T0 + _s(80), "#A", 100, 0, 10_600)
    )
    assert state.donations_total == 100


def test_a_legacy_rows_cached_list_from_before_its_last_reading() -> None:
    """A row stored before the counter model: its last reading (150) came from an
    endpoint nobody recorded; a list answer cached before it (100) is no reset."""
    legacy = CounterState(
        season_start(T0), "#A", 150, 0, 150, 0, anchor=LEGACY_ANCHOR, anchor_at=T0
    )
    held = apply(legacy, _list(T0 + _s(30), "#A", 100, 0))
    assert held.hold is Hold.STALE
    state = apply(held.state, _list(T0 + _s(200), "#A", 160, 0)).state
    assert _totals(state) == (160, 0)


def test_a_drop_older_than_the_other_endpoints_raised_baseline() -> None:
    """#A's list answer taken by another caller after a leave and rejoin (A 5) is read
    after the profile showed A 150 (witnessed: 250): not a reset."""
    state = first_reading(_profile(T0 - timedelta(minutes=10), "#A", 100, 0, 10_100)).state
    state = _feed(state, _list(T0, "#A", 100, 0), _profile(T0 + _s(160), "#A", 150, 0, 10_250))
    assert state.donations_total == 250
    state = _feed(
        state, _list(T0 + _s(170), "#A", 5, 0), _profile(T0 + _s(300), "#A", 150, 0, 10_250)
    )
    assert state.donations_total == 250


def test_a_profile_drop_older_than_the_lists_raised_baseline() -> None:
    state = first_reading(_profile(T0, "#A", 100, 40, 10_100)).state
    state = _feed(
        state,
        _list(T0 + _s(40), "#A", 150, 45),
        _profile(T0 + _s(50), "#A", 90, 45, 10_190),
        _list(T0 + _s(200), "#A", 150, 45),
        _profile(T0 + _s(210), "#A", 150, 45, 10_250),
    )
    assert state.donations_total <= 250 and state.received_total <= 85


def test_a_cached_leave_older_than_the_anchor_is_no_leave() -> None:
    state = first_reading(_profile(T0 - timedelta(hours=1), "#B", 0, 0, 10_000)).state
    state = _feed(
        state,
        _list(T0 - timedelta(minutes=10), "#A", 100, 0),
        _profile(T0 + _s(60), "#A", 150, 0, 10_250),
    )
    assert state.donations_total == 250
    stale = apply(state, _left(T0 + _s(70), "#A"))
    assert stale.hold is Hold.STALE
    assert _feed(stale.state, _list(T0 + _s(200), "#A", 150, 0)).donations_total == 250


def test_a_cached_leave_after_a_first_reading() -> None:
    state = first_reading(_profile(T0, "#A", 30, 0, 10_030)).state
    state = _feed(state, _left(T0 + _s(20), "#A"), _list(T0 + _s(150), "#A", 40, 0))
    assert state.donations_total == 40


def test_a_cached_other_clan_older_than_the_anchor_is_no_move() -> None:
    state = first_reading(_profile(T0 - timedelta(minutes=10), "#A", 100, 0, 10_100)).state
    state = _feed(state, _profile(T0 + _s(40), "#A", 150, 0, 10_270))
    assert state.donations_total == 270
    state = _feed(
        state, _list(T0 + _s(50), "#B", 20, 0), _profile(T0 + _s(120), "#A", 150, 0, 10_270)
    )
    assert state.donations_total == 270


def test_a_late_answer_read_just_past_the_grace_is_judged_by_its_data() -> None:
    """The API shows the season's reset 1h59m30s late; #A's list answer taken just before
    that is served 70 s later, past the 2 h grace by its reading, not by its data."""
    end = season_end(T0)
    state = first_reading(_profile(end - timedelta(hours=1), "#A", 400, 30, 10_400)).state
    late = apply(state, _list(end + timedelta(hours=1, minutes=59, seconds=20), "#A", 400, 30))
    assert late.held
    state = apply(late.state, _list(end + timedelta(hours=2, seconds=30), "#A", 400, 30)).state
    assert _totals(state) == (400, 30)


def test_a_cached_list_from_before_a_rejoin_only_the_witness_showed() -> None:
    # The profile shows no drop (the counter was at 0 before), only the achievements
    # rose: a leave and rejoin hid the donation. The clan's list, cached from before the
    # rejoin, still shows it on the counter: it was credited by the witness already.
    state = first_reading(_profile(T0, "#A", 0, 0, 10_000)).state
    witnessed = apply(state, _profile(T0 + timedelta(minutes=1), "#A", 0, 0, 10_001))
    assert witnessed.donations == 1
    cached = apply(
        witnessed.state, CounterReading(LIST, T0 + timedelta(minutes=2), "#A", 1, 0, list_of="#A")
    )
    assert cached.hold is Hold.STALE and cached.state.donations_total == 1
    # Past its cache age the list is fresh again: a new donation counts.
    later = apply(
        cached.state, CounterReading(LIST, T0 + timedelta(minutes=4), "#A", 2, 0, list_of="#A")
    )
    assert later.donations == 2 and later.state.donations_total == 3
