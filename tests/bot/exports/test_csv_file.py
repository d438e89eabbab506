"""The export CSV writer: RFC 4180 through Python's csv module, formula-safe text, numbers
left as numbers, and a size limit that refuses instead of cutting the file short."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.exports.csv_file import (
    FORMULA_STARTS,
    BoundedCsv,
    Cell,
    ExportTooLarge,
    format_cell,
    neutralise,
)

HOSTILE_NAMES = [
    'say "hi"',
    "a,b",
    "two\nlines",
    "cr\r\nlf",
    '=HYPERLINK("http://evil.example","click")',
    "+1",
    "-2",
    "@SUM(A1:A9)",
    "\tTab",
    "\rReturn",
    '=1+1,"x"\n',
    "'already quoted",
    "a=b",
    " =not a formula to anyone",
    "🏆 Lëgend 👨\u200d👩\u200d👧",
    "\u202eright to left",
    "",
]


def read(data: bytes) -> list[list[str]]:
    """How a script reads the file: UTF-8, the csv module, newline='' as it requires."""
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def export(header: Sequence[str], rows: Sequence[Sequence[Cell]], limit: int = 10**6) -> bytes:
    out = BoundedCsv(header, limit)
    for row in rows:
        out.write(row)
    with out.finish() as f:
        return f.read()


def test_hostile_names_round_trip_neutralised() -> None:
    rows = [[name, -31, 2.5] for name in HOSTILE_NAMES]
    table = read(export(["name", "gain", "avg"], rows))
    assert table[0] == ["name", "gain", "avg"]
    assert len(table) == len(HOSTILE_NAMES) + 1
    for name, (cell, gain, avg) in zip(HOSTILE_NAMES, table[1:], strict=True):
        if name.startswith(FORMULA_STARTS):
            assert cell == "'" + name
        else:
            assert cell == name
        assert (int(gain), float(avg)) == (-31, 2.5)  # numbers stay numbers


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('=HYPERLINK("x")', '\'=HYPERLINK("x")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=b", "a=b"),
        ("'x", "'x"),
        ("", ""),
        ("🏆", "🏆"),
    ],
)
def test_only_formula_starts_are_neutralised(text: str, shown: str) -> None:
    assert neutralise(text) == shown
    assert format_cell(text) == shown


def test_numbers_and_moments_are_not_text() -> None:
    assert format_cell(-31) == "-31"
    assert format_cell(0) == "0"
    assert format_cell(-2.5) == "-2.5"
    assert format_cell(87.0) == "87.0"
    assert format_cell(True) == "1" and format_cell(False) == "0"
    assert format_cell(None) == ""
    # Not finite: text to a spreadsheet, and "-inf" would start a formula.
    assert format_cell(float("-inf")) == "'-inf"
    assert format_cell(float("nan")) == "nan"
    paris = timezone(timedelta(hours=1))
    moment = datetime(2026, 11, 27, 8, 19, 35, 999_999, tzinfo=paris)
    assert format_cell(moment) == "2026-11-27T07:19:35Z"
    assert format_cell(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
    assert format_cell(date(2026, 11, 1)) == "2026-11-01"
    with pytest.raises(TypeError):
        format_cell(object())  # type: ignore[arg-type]


def test_rfc4180_bytes() -> None:
    data = export(["name", "n"], [["a,b", 1], ['say "hi"', -2], ["x\ny", 3], ["-4", 4]])
    assert data == (b'name,n\r\n"a,b",1\r\n"say ""hi""",-2\r\n"x\ny",3\r\n\'-4,4\r\n')


def test_header_cells_are_neutralised_too() -> None:
    assert read(export(["=bad", "ok"], []))[0] == ["'=bad", "ok"]


def test_a_file_over_the_limit_is_refused_not_cut() -> None:
    rows: list[list[Cell]] = [["🏆" * 10, i] for i in range(100)]  # 4 bytes per trophy
    full = export(["name", "i"], rows)
    # Exactly at the limit: the whole file.
    assert export(["name", "i"], rows, limit=len(full)) == full
    # One byte less: refused on the last row, which is the one that passes the limit.
    out = BoundedCsv(["name", "i"], len(full) - 1)
    with pytest.raises(ExportTooLarge) as refused:
        for row in rows:
            out.write(row)
    assert refused.value.rows == 99 and refused.value.limit == len(full) - 1
    assert out._out.closed  # nothing kept
    assert (
        "larger than the" in refused.value.message and "nothing was sent" in refused.value.message
    )


def test_the_limit_stops_early() -> None:
    out = BoundedCsv(["n"], 1000)
    written = 0
    with pytest.raises(ExportTooLarge):
        for i in range(10**6):
            out.write([i])
            written += 1
    assert written < 400  # stopped at about 1,000 bytes, not after a million rows
    assert out.size > 1000 and out.size < 1000 + 10


def test_a_large_file_spools_to_disk() -> None:
    rows: list[list[Cell]] = [[f"player {i}", i] for i in range(1000)]
    out = BoundedCsv(["name", "i"], 10**6, spool=1024)
    for row in rows:
        out.write(row)
    assert out._out._rolled  # type: ignore[attr-defined]
    with out.finish() as f:
        table = read(f.read())
    assert len(table) == 1001 and table[-1] == ["player 999", "999"]
    assert out.size == sum(len(",".join(r).encode()) + 2 for r in table)


# Any text the database can hold (PostgreSQL text: no lone surrogates, which UTF-8 cannot
# encode either), with the formula starts, separators and line ends over-represented.
hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(["=", "+", "-", "@", "\t", "\r", "\n", ",", '"', "'", " ", "🏆"]),
        st.characters(exclude_categories=("Cs",)),
    ),
    max_size=30,
)
cells = st.one_of(hostile_text, st.integers(-(2**63), 2**63), st.none())


@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=5), max_size=20),
    limit=st.integers(min_value=1, max_value=2000),
)
def test_every_cell_reads_back_as_written_or_neutralised(
    rows: list[list[Cell]], limit: int
) -> None:
    header = [f"c{i}" for i in range(5)]
    width_rows = [row + [None] * (5 - len(row)) for row in rows]
    full = export(header, width_rows)
    if len(full) > limit:
        with pytest.raises(ExportTooLarge):
            export(header, width_rows, limit=limit)
        return
    assert export(header, width_rows, limit=limit) == full
    table = read(full)
    assert table[0] == header
    assert len(table) == len(rows) + 1
    for row, back in zip(width_rows, table[1:], strict=True):
        for value, cell in zip(row, back, strict=True):
            if value is None:
                assert cell == ""
            elif isinstance(value, int):
                assert int(cell) == value  # never neutralised, even when negative
            elif value.startswith(FORMULA_STARTS):
                assert cell == "'" + value
            else:
                assert cell == value
