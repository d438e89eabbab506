"""Which season a summary is for, and when the next falls due, for any moment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import coc.utils
from hypothesis import given
from hypothesis import strategies as st

from bot.season_end.poster import summary_nonce
from bot.season_end.summary import (
    SUMMARY_DELAY,
    games_end,
    next_due_at,
    season_due,
    season_games,
)

MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@given(MOMENTS)
def test_the_latest_season_whose_summary_is_due(now: datetime) -> None:
    start, end = season_due(now)
    assert start < end <= now - SUMMARY_DELAY
    # coc.py's own rule: the season that ended at ``end`` began at the previous boundary.
    naive = coc.utils.get_season_start(end.month, end.year).replace(tzinfo=UTC)
    assert naive == end
    following = next_due_at(now)
    assert now < following <= now + timedelta(days=36)
    assert season_due(following)[0] == end  # at that moment the next season is due
    assert season_due(following - timedelta(microseconds=1)) == (start, end)


@given(st.integers(0, 2**63 - 1), MOMENTS)
def test_a_nonce_is_short_and_stable(guild_id: int, end: datetime) -> None:
    nonce = summary_nonce(guild_id, end)
    assert len(nonce) <= 25 and nonce == summary_nonce(guild_id, end)


def test_each_months_clan_games_are_in_exactly_one_season() -> None:
    """Over ten years of seasons: every month's games are shown once, by the season in
    which they ended, and are over when its summary is posted."""
    seen: list[date] = []
    end = season_due(datetime(2026, 1, 10, tzinfo=UTC))[1]
    while end < datetime(2036, 1, 1, tzinfo=UTC):
        start, end = end, next_due_at(end + SUMMARY_DELAY) - SUMMARY_DELAY
        for month in season_games(start, end):
            assert start <= games_end(month) < end <= end + SUMMARY_DELAY
            seen.append(month)
    assert len(seen) == len(set(seen)) == 120
    assert seen[0] == date(2026, 1, 1)


def test_clan_games_examples() -> None:
    # Ends on the 26th: September's games ended in it (hours after it began).
    start, end = datetime(2026, 9, 28, 5, tzinfo=UTC), datetime(2026, 10, 26, 5, tzinfo=UTC)
    assert season_games(start, end) == [date(2026, 9, 1)]
    # Ends on the 30th: October's games (ended on the 28th) and November's.
    start, end = end, datetime(2026, 11, 30, 5, tzinfo=UTC)
    assert season_games(start, end) == [date(2026, 10, 1), date(2026, 11, 1)]
    # Began on the 30th of March, ends on the 27th of April: no games ended in it.
    start, end = datetime(2026, 3, 30, 5, tzinfo=UTC), datetime(2026, 4, 27, 5, tzinfo=UTC)
    assert season_games(start, end) == []
