"""What the donation counter model reads and answers (bot/tracker/counters.py applies it).

A reading is one endpoint's view of a player's counters: a clan's member list
(cached by the API for 2 minutes) or the full profile (1 minute, and only it
carries the lifetime achievements that witness donations).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from db.model import CounterState, Credit

LIST = "list"
PROFILE = "profile"
# After a season end the API keeps serving pre-reset counters for a while
# (responses are cached, resets are not instant). Past this, a counter that
# did not drop is taken as reset and refilled.
RESET_GRACE = timedelta(hours=2)
# How long each kind of endpoint may serve a cached answer (Cache-Control of
# the recorded responses): a clan's member list 2 minutes, a profile 1 minute.
CACHE_AGE = {LIST: timedelta(minutes=2), PROFILE: timedelta(minutes=1)}


class Hold(enum.Enum):
    STALE = "stale"  # may be older than what is stored: keep all of it out
    UNDECIDED = "undecided"  # after a season end, the counters cannot be placed yet


@dataclass(frozen=True, slots=True)
class CounterReading:
    """One endpoint's view of a player's counters, read at ``at``."""

    source: str  # LIST or PROFILE
    at: datetime
    clan_tag: str | None
    donations: int
    received: int
    lifetime: int | None = None  # the witness; full profiles only
    # A clan's member list that no longer shows the player: ``list_of`` names it.
    left: bool = False
    list_of: str | None = None

    @property
    def endpoint(self) -> str:
        if self.source == PROFILE:
            return PROFILE
        return f"{LIST}:{self.list_of or self.clan_tag}"


@dataclass(frozen=True, slots=True)
class Outcome:
    state: CounterState
    credits: list[Credit]
    hold: Hold | None = None

    @property
    def held(self) -> bool:
        return self.hold is not None

    @property
    def donations(self) -> int:
        return sum(c.donations for c in self.credits)

    @property
    def received(self) -> int:
        return sum(c.received for c in self.credits)
