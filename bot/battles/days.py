"""/battles' ``day`` option: a UTC day, as a date or as days ago."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from bot.errors import InvalidOption

# How far back a day may be asked for.
MAX_DAYS_AGO = 365
# Days ago: ASCII digits only (str.isdigit() also takes "²", which int() refuses), and
# few of them (a date like 20261125 is read as a date).
DAYS_AGO = re.compile(r"[0-9]{1,4}")


def parse_day(raw: str | int | None, now: datetime) -> datetime:
    """The start (00:00 UTC) of the day ``raw`` names: ``None`` or ``0`` today, ``N`` that
    many days ago, or ``YYYY-MM-DD``."""
    today = now.astimezone(UTC).date()
    text = "" if raw is None else str(raw).strip()
    if not text:
        day = today
    elif DAYS_AGO.fullmatch(text):
        ago = int(text)
        if ago > MAX_DAYS_AGO:
            raise InvalidOption(f"`day` goes back at most {MAX_DAYS_AGO} days.")
        day = today - timedelta(days=ago)
    else:
        try:
            day = date.fromisoformat(text[:10])
        except ValueError:
            raise InvalidOption(
                "`day` is a date like 2026-11-25, or a number of days ago (0 is today)."
            ) from None
        if day > today:
            raise InvalidOption("That day has not come yet (days are UTC).")
        if (today - day).days > MAX_DAYS_AGO:
            raise InvalidOption(f"`day` goes back at most {MAX_DAYS_AGO} days.")
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
