"""The donation counters: what the game does to them, and how readings add up.

The model (README, "Donations: which source wins"):

=====================  ===========  ============  ==========================================
counter                season end   leaving clan  lifetime witness (full profile only)
=====================  ===========  ============  ==========================================
donations              reset to 0   reset to 0    Friend in Need + Sharing is caring +
                                                  Siege Sharer: every unit donated raises it
donations_received     reset to 0   reset to 0    none
=====================  ===========  ============  ==========================================

Joining a clan starts from the zero the leave left; a move is a leave and a
join. Both counters reset at the same moment, so a reading shows both reset
or neither. The clan's member list and the full profile show the same
counters, cached for different times (2 minutes and 1 minute), so one can
lag the other.

How a reading is added up, against the baseline (what was credited so far
in the current *epoch*, the stretch between two resets):

- a rise is credited to the epoch's season;
- a clan change (join, leave, move) starts a new epoch: the reading's
  counter is all new (after a season end, once the reset has shown or the
  grace is over: before that, the join may be from the old season's data);
- a drop is a reset (the player left and rejoined between two readings)
  only when the same endpoint shows it; lower than the other endpoint's
  reading alone means a reading cached from before it, and is held; so is
  the other endpoint showing the old clan again within its cache age of a
  move (the old clan's counters were counted already);
- after a season end, a drop is the reset; a counter not lower than before
  is either a reset that the API does not show yet (late) or a real one
  followed by as many donations: the lifetime witness proves the first when
  the counter rose by exactly what was donated, and otherwise the reading is
  held until ``RESET_GRACE`` after the season end, when the reset is taken
  as done;
- a full profile with achievements is a *witness*: between two witnesses the
  achievements rose by exactly what was donated, so any donations the
  counter missed (a leave and rejoin between polls, the end of a season seen
  late) are credited then. A witness never takes anything back: if the
  counter already credited more than the achievements show (a siege machine
  counted as more than one unit, or achievements that did not move), the
  counter stands.

A held reading changes nothing but the memory of what its endpoint showed.
Nothing here ever credits more than was donated; what polling cannot see
(a donation by a player who then leaves before the next reading, with no
witness) is lost, and RELIABILITY.md lists these limits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.tracker.seasons import previous_season_start, season_start
from db.model import CounterState, Credit, Witness

LIST = "list"
PROFILE = "profile"
# After a season end the API keeps serving pre-reset counters for a while
# (responses are cached, resets are not instant). Past this, a counter that
# did not drop is taken as reset and refilled.
RESET_GRACE = timedelta(hours=2)
# How long each endpoint may serve a cached answer (Cache-Control of the
# recorded responses): a clan's member list 2 minutes, a profile 1 minute.
CACHE_AGE = {LIST: timedelta(minutes=2), PROFILE: timedelta(minutes=1)}


@dataclass(frozen=True, slots=True)
class CounterReading:
    """One endpoint's view of a player's counters at ``at``."""

    source: str  # LIST or PROFILE
    at: datetime
    clan_tag: str | None
    donations: int
    received: int
    lifetime: int | None = None  # the witness; full profiles only
    left: bool = False  # the clan's member list no longer shows the player


@dataclass(frozen=True, slots=True)
class Outcome:
    state: CounterState
    credits: list[Credit]
    held: bool  # the counters were not updated: the reading was stale or undecided

    @property
    def donations(self) -> int:
        return sum(c.donations for c in self.credits)

    @property
    def received(self) -> int:
        return sum(c.received for c in self.credits)


class _Boundary(enum.Enum):
    RESET = "reset"
    LATE = "late"
    UNDECIDED = "undecided"


def first_reading(reading: CounterReading) -> Outcome:
    """The baseline: counters a player already has when first seen count as this season's."""
    season = season_start(reading.at)
    pair = (reading.donations, reading.received)
    state = CounterState(
        season=season,
        clan_tag=reading.clan_tag,
        donations=reading.donations,
        received=reading.received,
        donations_total=reading.donations,
        received_total=reading.received,
        last_list=pair if reading.source == LIST else None,
        last_profile=pair if reading.source == PROFILE else None,
        witness=_witness(reading, reading.donations, season),
    )
    return Outcome(state, _credits(season, *pair), held=False)


def apply(
    state: CounterState, reading: CounterReading, *, grace: timedelta = RESET_GRACE
) -> Outcome:
    """Add one reading to the state. Pure: the caller stores the result."""
    witness = state.witness
    if reading.lifetime is not None and witness is not None and reading.lifetime < witness.lifetime:
        # Lifetime achievements only go up: this profile was cached from before the witness.
        return Outcome(state, [], held=True)
    if reading.left:
        if state.clan_tag is None:
            return Outcome(state, [], held=False)
        # The game zeroed both counters when the player left; nothing was donated by
        # leaving. The epoch's season stays: a leave says nothing of a season end.
        left = replace(
            state,
            clan_tag=None,
            donations=0,
            received=0,
            last_list=None,
            last_profile=None,
            epoch_source=reading.source,
            epoch_at=reading.at,
            previous_clan=state.clan_tag,
        )
        return Outcome(left, [], held=False)

    season = season_start(reading.at)
    pair = (reading.donations, reading.received)
    seen = _seen(state, reading)
    if reading.clan_tag != state.clan_tag:
        if _cached_from_before_the_move(state, reading):
            return Outcome(seen, [], held=True)
        if state.season < season and reading.at - season < grace:
            # A join seen after a season end, before the reset showed: the reading may
            # be from before the season end, its counters soon reset. Held until the
            # grace ends; the clan itself is recorded at once.
            return Outcome(seen, [], held=True)
        outcome = _new_epoch(seen, reading, season)
    elif state.season < season:
        boundary = _boundary(state, reading, season, grace)
        if boundary is _Boundary.UNDECIDED:
            return Outcome(seen, [], held=True)
        if boundary is _Boundary.RESET:
            tail = _held_tail(state, reading)
            outcome = _new_epoch(seen, reading, season, tail)
        else:
            outcome = _rise(seen, pair)
    elif pair[0] < state.donations or pair[1] < state.received:
        if not _same_endpoint_dropped(state, reading):
            return Outcome(seen, [], held=True)
        outcome = _new_epoch(seen, reading, season)
    else:
        outcome = _rise(seen, pair)
    return _witnessed(outcome, witness, reading)


def _cached_from_before_the_move(state: CounterState, reading: CounterReading) -> bool:
    """The other endpoint, within its cache age of the move, still showing the old clan:
    a stale answer, whose counters were already counted in that clan."""
    return (
        state.epoch_source is not None
        and state.epoch_at is not None
        and reading.source != state.epoch_source
        and reading.clan_tag == state.previous_clan
        and reading.at - state.epoch_at < CACHE_AGE[reading.source]
    )


def _seen(state: CounterState, reading: CounterReading) -> CounterState:
    pair = (reading.donations, reading.received)
    if reading.source == LIST:
        return replace(state, last_list=pair)
    return replace(state, last_profile=pair)


def _held_tail(state: CounterState, reading: CounterReading) -> Credit | None:
    """What held readings showed before a reset that their endpoint then dropped from.

    A reading held after a season end (undecided) was pre-reset if the same
    endpoint later shows a drop: what it showed above the baseline belongs to
    the season that ended.
    """
    last = state.last_list if reading.source == LIST else state.last_profile
    if last is None or not _same_endpoint_dropped(state, reading):
        return None
    gained = max(0, last[0] - state.donations)
    got = max(0, last[1] - state.received)
    return Credit(state.season, gained, got) if gained or got else None


def _same_endpoint_dropped(state: CounterState, reading: CounterReading) -> bool:
    last = state.last_list if reading.source == LIST else state.last_profile
    return last is not None and (reading.donations < last[0] or reading.received < last[1])


def _boundary(
    state: CounterState, reading: CounterReading, season: datetime, grace: timedelta
) -> _Boundary:
    """Has the season-end reset happened by this reading (both counters reset together)?"""
    dropped = reading.donations < state.donations or reading.received < state.received
    if dropped and _same_endpoint_dropped(state, reading):
        return _Boundary.RESET
    w = state.witness
    if reading.lifetime is not None and w is not None and w.season < season:
        donated = reading.lifetime - w.lifetime
        # Exactly the old counter plus what was donated since: nothing reset it yet.
        # (Fewer would prove a reset, but not which one: a leave and rejoin before the
        # season end looks the same, so that case waits for a drop or the grace.)
        if reading.donations == w.counter + donated and w.counter > 0:
            return _Boundary.LATE
    if reading.at - season >= grace:
        return _Boundary.RESET
    return _Boundary.UNDECIDED


def _new_epoch(
    state: CounterState, reading: CounterReading, season: datetime, tail: Credit | None = None
) -> Outcome:
    """Counters restarted (a leave, a join, a season end): the reading is all new.

    ``tail``: what the old epoch showed before the reset beyond its baseline.
    """
    pair = (reading.donations, reading.received)
    credits = ([tail] if tail else []) + _credits(season, *pair)
    new = replace(
        state,
        season=season,
        clan_tag=reading.clan_tag,
        donations=pair[0],
        received=pair[1],
        donations_total=state.donations_total + sum(c.donations for c in credits),
        received_total=state.received_total + sum(c.received for c in credits),
        # The other endpoint's last reading belongs to the old epoch.
        last_list=pair if reading.source == LIST else None,
        last_profile=pair if reading.source == PROFILE else None,
        epoch_source=reading.source,
        epoch_at=reading.at,
        previous_clan=state.clan_tag,
    )
    return Outcome(new, credits, held=False)


def _rise(state: CounterState, pair: tuple[int, int]) -> Outcome:
    """Same epoch: what the counters rose by, credited to the epoch's season."""
    gained = max(0, pair[0] - state.donations)
    got = max(0, pair[1] - state.received)
    new = replace(
        state,
        donations=max(state.donations, pair[0]),
        received=max(state.received, pair[1]),
        donations_total=state.donations_total + gained,
        received_total=state.received_total + got,
    )
    return Outcome(new, _credits(state.season, gained, got), held=False)


def _witnessed(outcome: Outcome, witness: Witness | None, reading: CounterReading) -> Outcome:
    """Credit what the lifetime achievements show was donated beyond what was counted."""
    if reading.lifetime is None:
        return outcome
    state, credits = outcome.state, list(outcome.credits)
    if witness is not None:
        donated = reading.lifetime - witness.lifetime
        counted = state.donations_total - witness.total
        extra = donated - counted
        if extra > 0:
            # Missed by the counter: before a reset it did not show (a leave and rejoin
            # between readings, the end of a season), so it belongs where the witness was
            # taken, or to the season that just ended.
            target = (
                witness.season
                if witness.season == state.season
                else previous_season_start(state.season)
            )
            credits.append(Credit(target, extra, 0))
            state = replace(state, donations_total=state.donations_total + extra)
    state = replace(state, witness=_witness(reading, state.donations_total, state.season))
    return Outcome(state, credits, held=outcome.held)


def _witness(reading: CounterReading, total: int, season: datetime) -> Witness | None:
    if reading.lifetime is None:
        return None
    return Witness(reading.lifetime, reading.donations, total, season, reading.at)


def _credits(season: datetime, donations: int, received: int) -> list[Credit]:
    return [Credit(season, donations, received)] if donations or received else []
