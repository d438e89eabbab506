"""Aligning a battle log against the log read before it.

The API lists the latest battles (up to ``LOG_CAPACITY``), newest first, without ids
or times, so two reads overlap: the new read is the battles since, followed by the
start of the old read (its oldest entries may have dropped off the end). Battles are
compared by fingerprint (``bot.battles.parse``).

What polling cannot decide, and what is done instead:

* When the log held ``LOG_CAPACITY`` or more battles since the last read, nothing of
  the old read is left to align by: every battle shown is new, and an unknown number
  (maybe none) before them was never seen. That is recorded as a gap, never guessed.
* Two battles with the same fingerprint (the same opponent, army, stars, destruction
  and loot) cannot be told apart. The smallest shift that aligns the reads is taken,
  so such a repeat may be counted once less, never twice.
* An answer older than the stored read (another of the API's caches) is recognised by
  starting inside the stored read, and ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LOG_CAPACITY = 50


@dataclass(frozen=True, slots=True)
class Alignment:
    """``new``: how many of the log's first entries were not in the stored read."""

    new: int
    gap: bool = False
    stale: bool = False
    baseline: bool = False


def _overlaps(log: Sequence[str], tail: Sequence[str], shift: int) -> bool:
    """``log[shift:]`` is the start of ``tail`` (the rest of the log is the old read)."""
    rest = len(log) - shift
    return rest <= len(tail) and all(log[shift + i] == tail[i] for i in range(rest))


def _older(log: Sequence[str], tail: Sequence[str], skip: int, capacity: int) -> bool:
    """The log starts ``skip`` entries into ``tail``: an answer older than the tail.

    A stored read shorter than the log's capacity held every battle there was then, so an
    older answer lies wholly inside it; one that runs past its end is new battles that
    repeat old ones. A full stored read may have lost its oldest entries off the end, so
    an older answer may run past it, sharing as little as one entry: then it is taken as
    older (a new battle equal to the oldest stored one waits for the next read rather
    than risk storing 49 battles twice)."""
    common = min(len(log), len(tail) - skip)
    if common < 1 or any(log[i] != tail[skip + i] for i in range(common)):
        return False
    return len(log) <= len(tail) - skip or len(tail) >= capacity


def align(
    tail: Sequence[str] | None, log: Sequence[str], capacity: int = LOG_CAPACITY
) -> Alignment:
    """Where ``log`` (fingerprints, newest first) stands against ``tail``, the stored read
    (None: never read; its battles are a baseline of unknown time)."""
    if tail is None:
        return Alignment(new=len(log), baseline=True)
    if not log:
        # An empty answer after battles: the log was not cleared battle by battle, so
        # this says nothing (the stored read stays what the next one is aligned with).
        return Alignment(new=0, stale=bool(tail))
    if not tail:
        return Alignment(new=len(log), gap=len(log) >= capacity)
    if _overlaps(log, tail, 0):
        return Alignment(new=0)
    first = tail[0]
    if any(
        _older(log, tail, skip, capacity) for skip in range(1, len(tail)) if tail[skip] == log[0]
    ):
        return Alignment(new=0, stale=True)
    for shift in range(1, len(log)):
        if log[shift] == first and _overlaps(log, tail, shift):
            return Alignment(new=shift)
    # Nothing of the stored read is left: all new. If the log is full, battles may have
    # been pushed out of it unseen.
    return Alignment(new=len(log), gap=len(log) >= capacity)


def advance(
    tail: Sequence[str] | None, log: Sequence[str], capacity: int = LOG_CAPACITY
) -> tuple[Alignment, list[str] | None]:
    """``align``, and the read to store for the next one: unchanged for a stale answer,
    the longer stored read when nothing is new (an answer whose oldest entries dropped
    off says no more), else the log."""
    result = align(tail, log, capacity)
    if result.stale or (result.new == 0 and tail is not None):
        return result, None if tail is None else list(tail)
    return result, list(log)
