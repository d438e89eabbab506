"""The CSV writer every export uses: RFC 4180, formula-safe, and bounded in size.

* RFC 4180: the csv module's minimal quoting (a field with a comma, a quote, CR
  or LF is quoted, quotes doubled) and CRLF line ends, in UTF-8 (no byte order
  mark: spreadsheets import it as UTF-8, and a BOM would stick to the first
  column's name in scripts that read the file).
* Formula injection (OWASP "CSV injection"): a spreadsheet runs a cell that
  starts with ``=``, ``+``, ``-`` or ``@`` (and some also after a tab or a
  carriage return) as a formula, so such a text cell gets a leading ``'``,
  which spreadsheets take as "this is text". Only text is neutralised: the
  numbers an export produces (a gain of -31) must stay numbers, and a number
  cannot run anything.
* Bounded: rows are encoded one by one into a spooled file (in memory while
  small, on disk past ``SPOOL_BYTES``), and the writer gives up as soon as the
  file passes the limit Discord will accept, instead of sending a file cut
  short.
"""

from __future__ import annotations

import csv
import io
import math
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import IO, Any

from bot.errors import UserFacingError

Cell = str | int | float | datetime | date | None

# Text starting with one of these is a formula to Excel, LibreOffice or Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Bytes kept in memory before the file moves to a temporary file on disk: an export
# can be as large as the guild's upload limit (up to 100 MiB in boosted servers).
SPOOL_BYTES = 1024 * 1024


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it, never run: a leading ``'`` if it would be."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC to the second, e.g. ``2026-11-27T07:19:35Z``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _number(value: float) -> str:
    # "-inf" is not a number to a spreadsheet but a formula: only finite values are.
    return repr(value) if math.isfinite(value) else neutralise(repr(value))


# One lookup per cell by exact type (most cells are ints): a chain of isinstance checks
# was most of the writer's time. Subclasses fall back to the chain in ``_FORMATS``' order.
_FORMATS: dict[type, Callable[[Any], str]] = {
    str: neutralise,
    # bool is an int: "True" would be text to a spreadsheet, 1/0 a number.
    bool: lambda value: "1" if value else "0",
    int: int.__repr__,
    float: _number,
    datetime: iso_utc,
    date: date.isoformat,
    type(None): lambda _: "",
}


def format_cell(value: Cell) -> str:
    """One cell's text. Text is neutralised; numbers and moments are written as such."""
    formatter = _FORMATS.get(type(value))
    if formatter is None:
        kind = next((k for k in _FORMATS if isinstance(value, k)), None)
        if kind is None:
            raise TypeError(f"no CSV form for {type(value).__name__}")
        formatter = _FORMATS[kind]
    return formatter(value)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


class ExportTooLarge(UserFacingError):
    def __init__(self, limit: int, rows: int) -> None:
        super().__init__(
            f"This export is larger than the {human_size(limit)} Discord accepts from the "
            f"bot here (it passed that after {rows:,} row(s)), so nothing was sent. "
            "Ask for fewer `days`, or one player with `tag`."
        )
        self.limit, self.rows = limit, rows


class ExportNotWritten(UserFacingError):
    def __init__(self, error: OSError) -> None:
        super().__init__(
            "The bot could not write the file on its host "
            f"({error.strerror or type(error).__name__}), so nothing was sent. "
            "Try again later, or ask for fewer `days`; the bot's operator may need to "
            "free disk space."
        )


class BoundedCsv:
    """A CSV file written row by row that refuses to grow past ``limit`` bytes.

    ``write`` raises ``ExportTooLarge`` on the row that passes the limit; the
    file is then closed and nothing of it is kept. ``rows`` counts data rows
    (the header is not one).
    """

    def __init__(self, header: Sequence[str], limit: int, *, spool: int = SPOOL_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.rows = 0
        # The csv module writes text; each row is encoded as it comes so that the size
        # checked is the size sent (UTF-8 bytes, not characters).
        self._text = io.StringIO()
        self._writer = csv.writer(self._text, lineterminator="\r\n")
        self._out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=spool, mode="w+b")
        self._emit([neutralise(h) for h in header])

    def write(self, row: Sequence[Cell]) -> None:
        # format_cell, inlined for the exact types: this runs for every cell of a file.
        get = _FORMATS.get
        self._emit([get(type(v), format_cell)(v) for v in row])
        self.rows += 1

    def _emit(self, cells: list[str]) -> None:
        self._writer.writerow(cells)
        chunk = self._text.getvalue().encode("utf-8")
        self._text.seek(0)
        self._text.truncate()
        self.size += len(chunk)
        if self.size > self.limit:
            self.close()
            raise ExportTooLarge(self.limit, self.rows)
        try:
            self._out.write(chunk)
        except OSError as exc:  # the temporary file's disk is full: not the database's
            self.close()
            raise ExportNotWritten(exc) from exc

    def finish(self) -> IO[bytes]:
        """The file, rewound for reading; the caller closes it."""
        self._out.seek(0)
        return self._out

    def close(self) -> None:
        self._out.close()
