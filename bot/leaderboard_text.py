"""How a ranked leaderboard reads: its heading and one line per player.

Shared by /leaderboard (paged, for one viewer) and boards (one message in a
channel, for everyone).
"""

from __future__ import annotations

from bot.embeds import literal
from bot.leaderboards import ACTIVITY_BOARDS
from bot.periods import PERIOD_LABELS, Period, Ranked, is_counter
from bot.profile import STAT_LABELS

MINE = "➜"
PARTIAL = "*"


def heading(stat: str, period: Period) -> str:
    if stat in ACTIVITY_BOARDS:
        return ACTIVITY_BOARDS[stat]
    label = STAT_LABELS[stat]
    if is_counter(stat) and period in (Period.CURRENT, Period.SEASON):
        return f"{label} this season"
    if period is Period.CURRENT:
        return label
    return f"{label}: {PERIOD_LABELS[period].lower()}"


def signed(stat: str, period: Period) -> bool:
    """Whether values are gains (shown with their sign)."""
    return period is not Period.CURRENT and not (is_counter(stat) and period is Period.SEASON)


def line(entry: Ranked, signed: bool) -> str:
    s = entry.standing
    value = f"{s.value:+,}" if signed and s.value else f"{s.value:,}"
    text = f"{literal(s.name)} ({s.tag}) — {value}{' ' + PARTIAL if s.partial else ''}"
    if s.mine:
        return f"`{entry.rank:>4}.` **{MINE} {text}**"
    return f"`{entry.rank:>4}.` {text}"
