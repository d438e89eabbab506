"""The clan games credit rule, on hand-picked and generated timelines (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.clangames.credit import credit, in_games_week, month_of
from db.model import GamesState

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
MAX = 4000


def state(value: int, at: datetime, clan: str | None = "#A", points: int = 0) -> GamesState:
    return GamesState(value, at, clan, points, points >= MAX)


def test_the_first_reading_is_a_baseline() -> None:
    out = credit(None, 12_000, "#A", T0)
    assert out is not None and out.points == 0 and out.value == 12_000 and out.rise == 0


def test_a_rise_is_credited_to_the_clan_of_the_reading_before() -> None:
    out = credit(state(12_000, T0), 12_500, "#A", T0 + timedelta(hours=1))
    assert out is not None and (out.points, out.credited_clan) == (500, "#A")
    moved = credit(state(12_000, T0, "#A"), 12_300, "#B", T0 + timedelta(hours=1))
    assert moved is not None and (moved.points, moved.credited_clan, moved.clan_tag) == (
        300,
        "#A",
        "#B",
    )


def test_a_clanless_reading_credits_the_clan_before_and_a_clanless_baseline_the_next() -> None:
    out = credit(state(100, T0, "#A"), 400, None, T0 + timedelta(hours=1))
    assert out is not None and (out.points, out.credited_clan) == (300, "#A")
    out = credit(state(100, T0, None), 400, "#B", T0 + timedelta(hours=1))
    assert out is not None and (out.points, out.credited_clan) == (300, "#B")
    out = credit(state(100, T0, None), 400, None, T0 + timedelta(hours=1))
    assert out is not None and out.points == 0 and out.value == 400


def test_the_cap_holds_across_clans_and_the_maximum_is_reached_once() -> None:
    out = credit(state(0, T0, "#A", points=3_900), 700, "#A", T0 + timedelta(hours=1))
    assert out is not None and out.points == 100 and out.reached_max
    again = credit(state(700, T0, "#A", points=MAX), 900, "#A", T0 + timedelta(hours=2))
    assert again is not None and again.points == 0 and not again.reached_max


def test_an_older_or_lower_reading_changes_nothing() -> None:
    assert credit(state(500, T0), 900, "#A", T0) is None
    assert credit(state(500, T0), 900, "#A", T0 - timedelta(seconds=1)) is None
    # The achievement never falls: a lower value is an answer cached from before the
    # baseline, and neither its clan nor its time becomes the baseline's.
    assert credit(state(500, T0), 400, "#B", T0 + timedelta(minutes=1)) is None


def test_a_baseline_from_an_earlier_month_starts_the_month_afresh() -> None:
    october = datetime(2026, 10, 25, tzinfo=UTC)
    out = credit(state(1_000, october), 5_000, "#A", T0)
    assert out is not None and out.points == 0 and out.value == 5_000
    # Polled across midnight of the 1st: the baseline carries over.
    last = datetime(2026, 11, 30, 23, 50, tzinfo=UTC)
    out = credit(state(1_000, last), 1_050, "#A", last + timedelta(minutes=20))
    assert out is not None and out.points == 50 and out.month == month_of(last + timedelta(hours=1))


def test_the_games_week() -> None:
    assert in_games_week(datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert in_games_week(datetime(2026, 11, 28, 8, 59, tzinfo=UTC))
    assert not in_games_week(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    assert not in_games_week(datetime(2026, 11, 22, 7, 59, tzinfo=UTC))


# -- generated timelines -------------------------------------------------------------------

# A step: minutes later, points earned, the clan the member is in afterwards (a move
# happens after the points), and whether a full profile is read after the step.
steps = st.lists(
    st.tuples(
        st.integers(1, 600),
        st.integers(0, 900),
        st.sampled_from(["#A", "#B", None]),
        st.booleans(),
    ),
    max_size=30,
)


@given(steps, st.integers(0, 50_000), st.sampled_from([1_000, 4_000, 10_000]))
def test_on_any_timeline_points_are_credited_once_never_above_the_maximum(
    timeline: list[tuple[int, int, str | None, bool]], start: int, maximum: int
) -> None:
    """Whatever the readings see, within one month: every point of the rise between the
    first and the last reading is credited once (to some clan) until the maximum, the
    maximum is never passed, and it is reached at most once."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    value, clan = start, "#A"
    games: GamesState | None = None
    credited: dict[str | None, int] = {}
    reached = 0
    baseline: int | None = None
    for minutes, earned, moved_to, read in timeline:
        at += timedelta(minutes=minutes)
        value += earned
        clan = moved_to
        if not read:
            continue
        out = credit(games, value, clan, at, maximum)
        assert out is not None
        if baseline is None:
            baseline = value
        assert out.points >= 0
        if out.points:
            credited[out.credited_clan] = credited.get(out.credited_clan, 0) + out.points
        reached += out.reached_max
        total = (games.month_points if games else 0) + out.points
        maxed = out.reached_max or (games is not None and games.maxed)
        games = GamesState(out.value, out.read_at, out.clan_tag, total, maxed)
    total = sum(credited.values())
    assert total <= maximum
    assert reached <= 1
    assert reached == (total >= maximum and total > 0)
    assert None not in credited
    if baseline is not None and games is not None:
        risen = (games.value or 0) - baseline
        # Everything seen to rise is credited, up to the maximum, unless it rose while
        # the member and the reading before were both clanless.
        assert total <= min(risen, maximum)
        if all(c is not None for _, _, c, _ in timeline):
            assert total == min(risen, maximum)
