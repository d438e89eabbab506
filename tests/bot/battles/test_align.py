"""The alignment of consecutive battle logs, on generated battle sequences and reads.

The model: battles happen between reads; a read answers the log (the latest 50, newest
first) as it stood at that read, or as it stood a few steps earlier (another of the
API's caches; never 50 battles older, as the cache lasts 60 s and a battle minutes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import example, given
from hypothesis import strategies as st

from bot.battles.align import LOG_CAPACITY, Alignment, advance, align


@dataclass
class Model:
    alphabet: int | None = None  # fingerprints repeat when set
    played: int = 0
    snapshots: list[int] = field(default_factory=lambda: [0])
    tail: list[str] | None = None
    tail_count: int = 0  # battles the stored read had seen
    stored: list[int] = field(default_factory=list)
    baseline: list[int] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)  # (battles before, after)
    overflows: list[tuple[int, int]] = field(default_factory=list)

    def fp(self, battle: int) -> str:
        return f"b{battle % self.alphabet if self.alphabet else battle}"

    def log_at(self, count: int) -> list[str]:
        first = max(0, count - LOG_CAPACITY)
        return [self.fp(b) for b in reversed(range(first, count))]

    def read(self, lag: int) -> Alignment:
        count = self.snapshots[max(0, len(self.snapshots) - 1 - lag)]
        if self.tail is not None and self.tail_count - count >= LOG_CAPACITY:
            count = self.played  # an answer 50 battles old: not what a 60 s cache serves
        result, keep = advance(self.tail, self.log_at(count))
        if not result.stale and keep is not None:
            fresh = list(range(count - result.new, count))
            if result.baseline:
                self.baseline += fresh
            else:
                self.stored += fresh
                if count - self.tail_count >= LOG_CAPACITY:
                    self.overflows.append((self.tail_count, count))
            if result.gap:
                self.gaps.append((self.tail_count, count))
            if result.new or result.baseline:
                self.tail_count = count
            self.tail = keep
        self.snapshots.append(self.played)
        return result

    def play(self, n: int) -> None:
        self.played += n
        self.snapshots.append(self.played)


ops = st.lists(
    st.one_of(
        st.tuples(st.just("play"), st.integers(0, 70)),
        st.tuples(st.just("read"), st.integers(0, 2)),
    ),
    max_size=40,
)


def run(steps: list[tuple[str, int]], alphabet: int | None = None) -> Model:
    model = Model(alphabet)
    for kind, value in steps:
        if kind == "play":
            model.play(value)
        else:
            model.read(value)
    return model


# An answer 49 battles older than a full stored read shares one entry with it.
@example([("play", 2), ("play", 49), ("read", 0), ("read", 2)])
@given(ops)
def test_each_battle_is_stored_once_and_a_gap_exactly_when_the_log_overflowed(
    steps: list[tuple[str, int]],
) -> None:
    model = run(steps)
    stored = model.baseline + model.stored
    assert len(stored) == len(set(stored)), "a battle stored twice"
    assert stored == sorted(stored), "battles stored out of order"
    # A gap is recorded exactly at the reads that came 50 or more battles after the last.
    assert model.gaps == model.overflows
    # Every battle after the baseline is stored, except those pushed out of a full log
    # between two reads; those lie in a recorded gap.
    if model.tail is not None:
        first = min(model.baseline, default=model.tail_count - len(model.stored))
        missing = set(range(first, model.tail_count)) - set(stored)
        for battle in missing:
            assert any(before <= battle < after - LOG_CAPACITY for before, after in model.gaps)
        if not model.gaps:
            assert not missing


@given(ops, st.integers(1, 4))
def test_repeated_battles_are_never_counted_twice(
    steps: list[tuple[str, int]], alphabet: int
) -> None:
    """Battles with equal fingerprints cannot be told apart: fewer may be counted,
    never more than happened, in any read."""
    model = run(steps, alphabet)
    stored = model.baseline + model.stored
    assert len(stored) == len(set(stored))
    assert len(stored) <= model.played


def test_the_first_read_is_a_baseline() -> None:
    assert align(None, ["a", "b"]) == Alignment(new=2, baseline=True)


def test_battles_since_the_last_read_are_new() -> None:
    assert align(["a", "b", "c"], ["x", "y", "a", "b", "c"]) == Alignment(new=2)


def test_old_battles_dropping_off_the_end_are_not_new() -> None:
    assert align(["a", "b", "c"], ["x", "a"]) == Alignment(new=1)


def test_an_answer_older_than_the_stored_read_is_ignored() -> None:
    assert align(["x", "a", "b"], ["a", "b"]).stale
    # A full stored read lost its oldest entries: an older answer runs past its end.
    full = [f"n{i}" for i in range(LOG_CAPACITY)]
    assert align(full, [*full[2:], "older1", "older2"]).stale


def test_an_empty_answer_after_battles_says_nothing() -> None:
    result, keep = advance(["a", "b"], [])
    assert result.stale and keep == ["a", "b"]


def test_a_full_log_without_overlap_is_a_gap() -> None:
    log = [f"n{i}" for i in range(LOG_CAPACITY)]
    assert align(["a"], log) == Alignment(new=LOG_CAPACITY, gap=True)
    # A short log without overlap: the old battles aged out, nothing was lost.
    assert align(["a"], log[:10]) == Alignment(new=10)


def test_a_repeat_of_the_same_battle_is_counted_once_less_never_twice() -> None:
    """The documented limit: two identical battles in a row, the second read after the
    first: the smallest shift (nothing new) is taken."""
    assert align(["a", "b"], ["a", "a", "b"]) == Alignment(new=1)
    assert align(["a", "a"], ["a", "a"]) == Alignment(new=0)


def test_of_several_shifts_that_align_the_smallest_is_taken() -> None:
    # "c" is new; whether one "a" is too cannot be known: it is not counted.
    assert align(["a", "a", "a"], ["c", "a", "a"]) == Alignment(new=1)


def test_a_new_battle_equal_to_an_old_one_is_not_taken_for_an_older_answer() -> None:
    # "A" is played again after "X": the answer starts with an entry of the stored read,
    # but runs past what that read held, so it is not an older answer.
    assert align(["x", "a"], ["a", "x", "a"]) == Alignment(new=1)
    # An older answer lies inside a stored read that was not full.
    assert align(["x", "a"], ["a"]).stale
