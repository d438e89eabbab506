from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.periods import (
    HistoryPoint,
    Period,
    Standing,
    build_series,
    gain,
    gain_column,
    pages,
    period_start,
    rank,
    season_to_date,
    uses_season_totals,
)
from bot.tracker.seasons import season_start

# The season that starts on Monday 2026-10-26 05:00 UTC (the last Monday of October).
BOUNDARY = datetime(2026, 10, 26, 5, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def test_the_boundary_is_a_season_start() -> None:
    assert season_start(BOUNDARY) == BOUNDARY
    assert season_start(BOUNDARY - timedelta(microseconds=1)) < BOUNDARY


@pytest.mark.parametrize(
    ("now", "period", "expected"),
    [
        (BOUNDARY + HOUR, Period.SEASON, BOUNDARY),
        (BOUNDARY, Period.SEASON, BOUNDARY),
        (BOUNDARY - timedelta(microseconds=1), Period.SEASON, datetime(2026, 9, 28, 5, tzinfo=UTC)),
        (BOUNDARY + HOUR, Period.WEEK, BOUNDARY + HOUR - 7 * DAY),
        (BOUNDARY + HOUR, Period.MONTH, BOUNDARY + HOUR - 30 * DAY),
        (BOUNDARY + HOUR, Period.CURRENT, None),
    ],
)
def test_period_start(now: datetime, period: Period, expected: datetime | None) -> None:
    assert period_start(period, now) == expected


def test_counters_gain_from_their_running_totals() -> None:
    assert gain_column("donations") == "donations_total"
    assert gain_column("donations_received") == "received_total"
    assert gain_column("trophies") == "trophies"
    assert uses_season_totals("donations", Period.SEASON)
    assert uses_season_totals("donations_received", Period.CURRENT)
    assert not uses_season_totals("donations", Period.WEEK)
    assert not uses_season_totals("trophies", Period.SEASON)


def test_gain_from_a_row_before_the_start_is_whole() -> None:
    start = BOUNDARY
    g = gain(5200, 5000, start - DAY, start)
    assert (g.value, g.since, g.partial) == (200, start, False)
    g = gain(5200, 5000, start, start)  # a row exactly at the start counts as "at the start"
    assert not g.partial


def test_gain_from_a_first_row_after_the_start_is_partial() -> None:
    g = gain(5200, 5100, BOUNDARY + HOUR, BOUNDARY)
    assert (g.value, g.since, g.partial) == (100, BOUNDARY + HOUR, True)


def test_rank_shares_ranks_on_ties_and_orders_them_by_name_then_tag() -> None:
    ranked = rank(
        [
            Standing("#Q", "bob", 8),
            Standing("#P", "Alice", 10),
            Standing("#R", "Bob", 8),
            Standing("#L", "bob", 8),
            Standing("#Y", "zed", 5),
        ]
    )
    assert [(r.rank, r.standing.tag) for r in ranked] == [
        (1, "#P"),
        (2, "#R"),  # "Bob" < "bob" once the case-blind comparison ties
        (2, "#L"),
        (2, "#Q"),
        (5, "#Y"),
    ]


def test_rank_is_stable_whatever_the_input_order() -> None:
    standings = [Standing(f"#{i}", f"p{i % 3}", i % 4) for i in range(20)]
    assert rank(standings) == rank(list(reversed(standings)))


def test_pages_of_ten() -> None:
    assert [len(p) for p in pages(list(range(23)))] == [10, 10, 3]
    assert pages([]) == [[]]


def test_season_to_date_survives_the_season_reset_and_a_leave_and_rejoin() -> None:
    rows = [
        # Tracking began mid-season with 300 already given (the game's counter).
        HistoryPoint(BOUNDARY - 5 * DAY, 300, 300),
        HistoryPoint(BOUNDARY - 2 * DAY, 500, 500),
        # New season: the game reset the counter; 40 given since.
        HistoryPoint(BOUNDARY + HOUR, 40, 540),
        # Left and rejoined a clan: the counter reset again, 10 given after.
        HistoryPoint(BOUNDARY + 2 * DAY, 10, 590),
    ]
    assert season_to_date(rows) == [
        (BOUNDARY - 5 * DAY, 300),
        (BOUNDARY - 2 * DAY, 500),
        (BOUNDARY, 0),
        (BOUNDARY + HOUR, 40),
        (BOUNDARY + 2 * DAY, 90),
    ]


def test_series_needs_two_rows() -> None:
    now = BOUNDARY + 3 * DAY
    assert build_series("trophies", [], now - DAY, now) is None
    one = [HistoryPoint(now - HOUR, 5000)]
    assert build_series("trophies", one, now - DAY, now) is None
    # One row from before the window: the value never changed inside it.
    old = [HistoryPoint(now - 10 * DAY, 5000)]
    assert build_series("trophies", old, now - DAY, now) is None


def test_series_starts_at_the_window_with_the_carried_value() -> None:
    now = BOUNDARY + 3 * DAY
    rows = [
        HistoryPoint(now - 10 * DAY, 5000),
        HistoryPoint(now - 2 * DAY, 5100),
        HistoryPoint(now - DAY, 4900),
    ]
    series = build_series("trophies", rows, now - 5 * DAY, now)
    assert series is not None
    assert series.points == [(now - 5 * DAY, 5000), (now - 2 * DAY, 5100), (now - DAY, 4900)]
    assert (series.start_value, series.end_value, series.change, series.best) == (
        5000,
        4900,
        -100,
        5100,
    )
    assert not series.partial


def test_series_of_a_player_tracked_inside_the_window_is_partial() -> None:
    now = BOUNDARY + 3 * DAY
    rows = [HistoryPoint(now - 2 * DAY, 5000), HistoryPoint(now - DAY, 5050)]
    series = build_series("trophies", rows, now - 30 * DAY, now)
    assert series is not None
    assert series.partial and series.start == now - 2 * DAY
    assert series.change == 50


def test_donation_series_across_a_season_boundary() -> None:
    window_start = BOUNDARY - 3 * DAY
    now = BOUNDARY + 3 * DAY
    rows = [
        HistoryPoint(BOUNDARY - 20 * DAY, 100, 1000),  # the row at the window's season start
        HistoryPoint(BOUNDARY - 4 * DAY, 400, 1300),  # carried into the window
        HistoryPoint(BOUNDARY - DAY, 600, 1500),
        HistoryPoint(BOUNDARY + DAY, 70, 1570),
    ]
    series = build_series("donations", rows, window_start, now)
    assert series is not None
    assert series.points == [
        (window_start, 400),
        (BOUNDARY - DAY, 600),
        (BOUNDARY, 0),
        (BOUNDARY + DAY, 70),
    ]
    # Given over the window: 200 before the season end and 70 after it.
    assert series.change == 270
    assert (series.start_value, series.end_value, series.best) == (400, 70, 600)
