"""/battles' day option."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.battles.days import parse_day
from bot.errors import InvalidOption

NOW = datetime(2026, 11, 26, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "day"),
    [
        (None, datetime(2026, 11, 26, tzinfo=UTC)),
        ("", datetime(2026, 11, 26, tzinfo=UTC)),
        ("0", datetime(2026, 11, 26, tzinfo=UTC)),
        (1, datetime(2026, 11, 25, tzinfo=UTC)),
        (" 3 ", datetime(2026, 11, 23, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T12:00:00Z", datetime(2026, 11, 1, tzinfo=UTC)),
        ("20261125", datetime(2026, 11, 25, tzinfo=UTC)),
    ],
)
def test_a_day_is_today_days_ago_or_a_date(raw: object, day: datetime) -> None:
    assert parse_day(raw, NOW) == day  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "raw", ["yesterday", "2026-13-01", "366", "2026-11-27", "2020-01-01", "²", "9" * 5000]
)
def test_a_day_that_cannot_be_read_or_is_out_of_range_is_refused(raw: str) -> None:
    with pytest.raises(InvalidOption):
        parse_day(raw, NOW)
