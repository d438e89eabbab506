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


@given(MOMENTS)
def test_the_clan_games_a_summary_shows(now: datetime) -> None:
    """Games that are over ended during the season (or after it, before the post);
    games still running are the season's last month's."""
    start, end = season_due(now)
    month, over = season_games(start, end, now)
    finished = games_end(month)
    if over:
        assert start < finished <= now
    else:
        assert (month.year, month.month) == (end.year, end.month) and finished > now


def test_clan_games_examples() -> None:
    # Ends on the 26th: October's games still run; September's ended in the season.
    start, end = datetime(2026, 9, 28, 5, tzinfo=UTC), datetime(2026, 10, 26, 5, tzinfo=UTC)
    assert season_games(start, end, end + SUMMARY_DELAY) == (date(2026, 9, 1), True)
    # Ends on the 30th: November's games are over.
    start, end = end, datetime(2026, 11, 30, 5, tzinfo=UTC)
    assert season_games(start, end, end + SUMMARY_DELAY) == (date(2026, 11, 1), True)
    # Began on the 30th of March, ends on the 27th of April: no games ended in it.
    start, end = datetime(2026, 3, 30, 5, tzinfo=UTC), datetime(2026, 4, 27, 5, tzinfo=UTC)
    assert season_games(start, end, end + SUMMARY_DELAY) == (date(2026, 4, 1), False)
