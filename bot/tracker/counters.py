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
or neither. Two kinds of endpoint show them: a clan's member list (cached 2
minutes) and the full profile (cached 1 minute). Each endpoint's answers
come in order, but a reading of one endpoint may be older than a reading of
another taken before it.

How a reading is added up, against the baseline (what was credited so far
in the current *epoch*, the stretch between two resets):

- a rise is credited to the epoch's season (within an epoch a counter only
  grows, so a higher value is never an old one);
- a clan change (join, leave, move) starts a new epoch: the reading's
  counter is all new;
- a drop is a reset (a leave and rejoin between two readings) when it is
  certainly newer than what the baseline came from: the same endpoint
  dropped, or the reading is from later than that endpoint's cache age
  after the last placed reading. Otherwise it may be an old answer, and is
  held;
- for an endpoint's cache age after an epoch began, the other endpoints may
  still answer from before it: their readings are held when they show a
  clan the player left within that age (the old clan after a move), or,
  after a reset in the same clan (a season end, a rejoin), that clan with
  the counters from before the reset;
- after a season end, a drop placed as above is the reset; a counter not
  lower than before is either a reset that the API does not show yet
  (late) or a real one followed by as many donations: the lifetime witness
  proves the first when the counter rose by exactly what was donated, and
  otherwise the reading is held until ``RESET_GRACE`` after the season end,
  when the reset is taken as done. A held reading that the same endpoint
  then drops from was from before the reset: what it showed is the old
  season's;
- a full profile with achievements is a *witness*: between two witnesses the
  achievements rose by exactly what was donated, so any donations the
  counter missed (a leave and rejoin between polls, the end of a season seen
  late) are credited then. A witness never takes anything back: if the
  counter already credited more than the achievements show (a siege machine
  counted as more than one unit, or achievements that did not move), the
  counter stands.

A reading is held *stale* when it may be older than what is stored (the
caller then keeps everything else of it out too), or *undecided* after a
season end (its other stats are fine). Nothing here ever credits more than
was donated; what polling cannot see is lost, and RELIABILITY.md lists these
limits with the tests that pin them.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from datetime import datetime, timedelta

from bot.tracker.counter_readings import (
    CACHE_AGE,
    LIST,
    PROFILE,
    RESET_GRACE,
    CounterReading,
    Hold,
    Outcome,
)
from bot.tracker.seasons import previous_season_start, season_start
from db.model import CounterState, Credit, Pending, Witness

__all__ = [
    "CACHE_AGE",
    "LIST",
    "PROFILE",
    "RESET_GRACE",
    "CounterReading",
    "Hold",
    "Outcome",
    "apply",
    "first_reading",
    "is_ordered",
]


class _Boundary(enum.Enum):
    RESET = "reset"
    LATE = "late"
    UNDECIDED = "undecided"
    UNPLACED = "unplaced"


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
        anchor=reading.endpoint,
        anchor_at=reading.at,
    )
    return Outcome(state, _credits(season, *pair))


def apply(
    state: CounterState, reading: CounterReading, *, grace: timedelta = RESET_GRACE
) -> Outcome:
    """Add one reading to the state. Pure: the caller stores the result."""
    witness = state.witness
    if reading.lifetime is not None and witness is not None and reading.lifetime < witness.lifetime:
        # Lifetime achievements only go up: this profile was cached from before the witness.
        return Outcome(state, [], Hold.STALE)
    if _before_the_epoch(state, reading):
        return Outcome(state, [], Hold.STALE)
    if reading.left:
        if state.clan_tag is None or reading.list_of != state.clan_tag:
            return Outcome(state, [])
        # The game zeroed both counters when the player left; nothing was donated by
        # leaving. The epoch's season stays: a leave says nothing of a season end.
        # The anchor stays too: a leave shows no counter to order later readings by,
        # and a join seen in the same poll (a move between two tracked clans) is ordered
        # after what the player was last seen with, not after this list's answer.
        left = replace(
            state,
            clan_tag=None,
            donations=0,
            received=0,
            last_list=None,
            last_profile=None,
            epoch_source=reading.endpoint,
            epoch_at=reading.at,
            recent_clans=_ended(state, reading.at),
            pending=None,
        )
        return Outcome(left, [])

    season = season_start(reading.at)
    pair = (reading.donations, reading.received)
    if reading.clan_tag != state.clan_tag:
        if (
            state.season < season
            and not _past_grace(reading, season, grace)
            and not _pending_dropped(state, reading)
        ):
            # A join seen after a season end, before the reset showed: the reading may be
            # from before the season end, its counters soon reset.
            return _undecided(state, reading)
        outcome = _new_epoch(state, reading, season, _tail(state, reading))
    elif state.season < season:
        boundary = _boundary(state, reading, season, grace)
        if boundary is _Boundary.UNDECIDED:
            return _undecided(_seen(state, reading), reading)
        if boundary is _Boundary.UNPLACED:
            return Outcome(_seen(state, reading), [], Hold.STALE)
        if boundary is _Boundary.RESET:
            outcome = _new_epoch(state, reading, season, _tail(state, reading))
        else:
            outcome = _rise(_seen(state, reading), pair)
    elif pair[0] < state.donations or pair[1] < state.received:
        if not _drop_placed(state, reading):
            return Outcome(_seen(state, reading), [], Hold.STALE)
        outcome = _new_epoch(state, reading, season)  # left and rejoined between readings
    else:
        outcome = _rise(_seen(state, reading), pair)
    outcome = replace(outcome, state=_placed(outcome.state, reading))
    return _witnessed(outcome, witness, reading)


def _before_the_epoch(state: CounterState, reading: CounterReading) -> bool:
    """An answer that may be cached from before the epoch began.

    - A reading that would end the epoch (another clan, or "not in the list" of the
      epoch's clan) must be certainly newer than the last placed reading: an answer
      taken earlier (by another endpoint, or by another caller of the API's shared
      cache) may show a clan or a leave that is already over.
    - Another endpoint than the one that showed the epoch, within its cache age, may
      show: a clan of an epoch that ended that recently (the old clan after a move);
      the epoch's clan without the player (from before the join); or a clan the player
      was in lately with its counters from before a reset there (a season end, a
      rejoin, a move away and back). A clan the player was not in lately cannot be an
      old answer: a move there is real.
    """
    ends_epoch = (
        reading.list_of == state.clan_tag if reading.left else reading.clan_tag != state.clan_tag
    )
    if ends_epoch and not is_ordered(state, reading):
        return True
    if reading.endpoint == state.epoch_source:
        return False
    age = CACHE_AGE[reading.source]
    if reading.left:
        return state.epoch_at is not None and reading.at - state.epoch_at < age
    return any(
        clan == reading.clan_tag and reading.at - ended < age for clan, ended in state.recent_clans
    )


def _ended(state: CounterState, at: datetime) -> tuple[tuple[str | None, datetime], ...]:
    """``recent_clans`` with the current epoch's clan ending at ``at``."""
    keep = max(CACHE_AGE.values())
    return (*(c for c in state.recent_clans if at - c[1] < keep), (state.clan_tag, at))


def is_ordered(state: CounterState, reading: CounterReading) -> bool:
    """The reading is certainly not older than the last placed one: the same endpoint, or
    read later than its cache age after it. (An unordered reading's other stats may be
    older than the stored ones: the caller keeps those.)"""
    if state.anchor is None or state.anchor_at is None or reading.endpoint == state.anchor:
        return True
    return reading.at - CACHE_AGE[reading.source] >= state.anchor_at


def _drop_placed(state: CounterState, reading: CounterReading) -> bool:
    """A drop is newer than the baseline: the reading is certainly not older than the
    last placed one. (A drop on the same endpoint proves a reset only after that
    endpoint's previous answer, not after a baseline another endpoint raised since.)"""
    return is_ordered(state, reading)


def _boundary(
    state: CounterState, reading: CounterReading, season: datetime, grace: timedelta
) -> _Boundary:
    """Has the season-end reset happened by this reading (both counters reset together)?"""
    if reading.donations < state.donations or reading.received < state.received:
        if _drop_placed(state, reading):
            return _Boundary.RESET
        if _past_grace(reading, season, grace):
            return _Boundary.UNPLACED
        return _Boundary.UNDECIDED
    w = state.witness
    if reading.lifetime is not None and w is not None and w.season < season:
        donated = reading.lifetime - w.lifetime
        # Exactly the old counter plus what was donated since: nothing reset it yet.
        # (Fewer would prove a reset, but not which one: a leave and rejoin before the
        # season end looks the same, so that case waits for a drop or the grace.)
        if reading.donations == w.counter + donated and w.counter > 0:
            return _Boundary.LATE
    if _past_grace(reading, season, grace):
        return _Boundary.RESET
    return _Boundary.UNDECIDED


def _past_grace(reading: CounterReading, season: datetime, grace: timedelta) -> bool:
    """The answer's data is surely from after the grace (the API shows a season's reset
    within it): read that long after the season began, plus its cache age, since a
    cached answer shows data up to that much older than its reading."""
    return reading.at - CACHE_AGE[reading.source] - season >= grace


def _undecided(state: CounterState, reading: CounterReading) -> Outcome:
    pending = Pending(reading.endpoint, reading.clan_tag, reading.donations, reading.received)
    return Outcome(replace(state, pending=pending), [], Hold.UNDECIDED)


def _pending_dropped(state: CounterState, reading: CounterReading) -> bool:
    """The endpoint of a held reading now shows less, in the same clan: the reset came
    after that reading, which was the old season's."""
    p = state.pending
    return (
        p is not None
        and p.endpoint == reading.endpoint
        and p.clan_tag == reading.clan_tag
        and (reading.donations < p.donations or reading.received < p.received)
    )


def _tail(state: CounterState, reading: CounterReading) -> Credit | None:
    """What a held reading showed before the reset its endpoint then dropped from,
    beyond what was credited: the season that ended gets it."""
    p = state.pending
    if p is None or not _pending_dropped(state, reading):
        return None
    # A held join counted from the zero of its join; a held reading of the epoch's
    # clan from the baseline.
    base = (state.donations, state.received) if p.clan_tag == state.clan_tag else (0, 0)
    gained, got = max(0, p.donations - base[0]), max(0, p.received - base[1])
    return Credit(state.season, gained, got) if gained or got else None


def _seen(state: CounterState, reading: CounterReading) -> CounterState:
    """Remember what the epoch clan's list or the profile showed (in this epoch)."""
    pair = (reading.donations, reading.received)
    if reading.source == LIST:
        return replace(state, last_list=pair)
    return replace(state, last_profile=pair)


def _placed(state: CounterState, reading: CounterReading) -> CounterState:
    return replace(state, anchor=reading.endpoint, anchor_at=reading.at)


def _new_epoch(
    state: CounterState, reading: CounterReading, season: datetime, tail: Credit | None = None
) -> Outcome:
    """Counters restarted (a leave, a join, a season end): the reading is all new.

    ``tail``: what the old epoch showed before the reset beyond its baseline.
    """
    pair = (reading.donations, reading.received)
    credits = ([tail] if tail else []) + _credits(season, *pair)
    # A tail comes from a held join: its clan showed the old epoch's counters until the
    # reset, and a cached answer of it may still show them.
    joined_before: tuple[tuple[str | None, datetime], ...] = ()
    if tail and reading.clan_tag != state.clan_tag:
        joined_before = ((reading.clan_tag, reading.at),)
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
        epoch_source=reading.endpoint,
        epoch_at=reading.at,
        recent_clans=_ended(state, reading.at) + joined_before,
        pending=None,
    )
    return Outcome(new, credits)


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
        pending=None,
    )
    return Outcome(new, _credits(state.season, gained, got))


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
            # A reset the counter did not show happened before this answer: for their
            # cache age, the other endpoints may still show the clan from before it.
            state = replace(
                state,
                donations_total=state.donations_total + extra,
                epoch_source=reading.endpoint,
                epoch_at=reading.at,
                recent_clans=_ended(state, reading.at),
                last_list=None,
            )
    state = replace(state, witness=_witness(reading, state.donations_total, state.season))
    return Outcome(state, credits, outcome.hold)


def _witness(reading: CounterReading, total: int, season: datetime) -> Witness | None:
    if reading.lifetime is None:
        return None
    return Witness(reading.lifetime, reading.donations, total, season, reading.at)


def _credits(season: datetime, donations: int, received: int) -> list[Credit]:
    return [Credit(season, donations, received)] if donations or received else []
