"""/export's work: which options each kind takes, and the file, streamed from the database.

``make_request`` checks the options without touching the database (so a bad
one is refused at once, before the command defers); ``build`` runs one
streaming query in a read-only, repeatable-read transaction and writes each
row into a ``BoundedCsv`` as it arrives. Decisions:

* ``history`` needs a ``tag`` the server tracks: a player's history is kept
  because some server tracks them, and a server exports its own players.
* ``wars``, ``raids`` and ``clangames`` take ``tag`` as a filter (the attacks,
  raids or points of that player) on the server's own tracked clans, so any
  valid tag is fine: a member who left is still in those clans' past wars.
* ``leaderboard`` is every tracked player now and over 30 days, as
  /leaderboard: ``tag`` and ``days`` mean nothing to it and are refused.
* Without ``days``, everything stored; the size limit guards the rest.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import IO

import asyncpg

from bot.embeds import literal
from bot.errors import InvalidOption, NoData
from bot.exports.csv_file import BoundedCsv, human_size
from bot.exports.kinds import COLUMNS, Kind, rows
from bot.tags import parse_tag
from db import exports, guild_tracking

log = logging.getLogger(__name__)

_TITLES = {
    Kind.WARS: "War attacks of this server's tracked clans",
    Kind.RAIDS: "Raid weekend members of this server's tracked clans",
    Kind.CLAN_GAMES: "Clan games points of this server's tracked clans",
}


@dataclass(frozen=True, slots=True)
class ExportRequest:
    kind: Kind
    guild_id: int
    tag: str | None  # canonical
    days: int | None  # None: everything stored
    now: datetime


@dataclass(frozen=True, slots=True)
class Export:
    file: IO[bytes]  # rewound; the caller closes it
    filename: str
    rows: int
    size: int
    summary: str  # the reply's text


def make_request(
    kind: str, tag: str | None, days: int | None, guild_id: int, now: datetime
) -> ExportRequest:
    """The request, or the ``UserFacingError`` that says which option does not fit."""
    try:
        chosen = Kind(kind)
    except ValueError:
        raise InvalidOption("Choose a kind from the list.") from None
    canonical = parse_tag(tag) if tag is not None and tag.strip() else None
    if chosen is Kind.HISTORY and canonical is None:
        raise InvalidOption("The history export is one player's: give their `tag`.")
    if chosen is Kind.LEADERBOARD and canonical is not None:
        raise InvalidOption(
            "The leaderboard export covers every tracked player: leave `tag` out "
            "(`kind:history` exports one player)."
        )
    if chosen is Kind.LEADERBOARD and days is not None:
        raise InvalidOption(
            "The leaderboard export always has each stat now and its gain over 30 days, "
            "as `/leaderboard` shows them: leave `days` out."
        )
    return ExportRequest(chosen, guild_id, canonical, days, now)


async def build(con: asyncpg.Connection, request: ExportRequest, limit: int) -> Export:
    """The CSV file of ``request``, at most ``limit`` bytes (``ExportTooLarge`` past it).

    Raises ``NoData`` for an export with no row: an empty file says less than a reply.
    """
    name: str | None = None
    if request.kind is Kind.HISTORY:
        assert request.tag is not None
        tracked, name = await exports.tracked_player(con, request.guild_id, request.tag)
        if not tracked:
            raise NoData(
                f"`{request.tag}` is not tracked in this server, so it has no history to "
                "export here. Someone with Manage Server can add it with `/track add`."
            )
    out = BoundedCsv(COLUMNS[request.kind], limit)
    try:
        # One snapshot for the whole file; a cursor needs a transaction anyway.
        async with con.transaction(isolation="repeatable_read", readonly=True):
            stream = rows(
                con, request.kind, request.guild_id, request.tag, request.days, request.now
            )
            # Closed at once when the writer gives up (the cursor is the transaction's).
            async with contextlib.aclosing(stream):
                async for row in stream:
                    out.write(row)
    except BaseException:
        out.close()
        raise
    if not out.rows:
        out.close()
        raise await _nothing(con, request, name)
    log.info(
        "export %s for guild %s: %d rows, %d bytes",
        request.kind.value,
        request.guild_id,
        out.rows,
        out.size,
    )
    return Export(out.finish(), filename(request), out.rows, out.size, _summary(request, name, out))


def filename(request: ExportRequest) -> str:
    who = f"-{request.tag.lstrip('#')}" if request.tag else ""
    return f"{request.kind.value}{who}-{request.now:%Y-%m-%d}.csv"


def _period(days: int | None) -> str:
    return "everything stored" if days is None else f"the last {days} day(s)"


def _who(tag: str, name: str | None) -> str:
    return f"{literal(name)} ({tag})" if name else tag


def _summary(request: ExportRequest, name: str | None, out: BoundedCsv) -> str:
    size = human_size(out.size)
    if request.kind is Kind.HISTORY:
        assert request.tag is not None
        return (
            f"History of {_who(request.tag, name)}: {out.rows:,} rows ({size}), "
            f"{_period(request.days)}. Each row is a change; its values hold until the next."
        )
    if request.kind is Kind.LEADERBOARD:
        return (
            f"Leaderboard of this server's tracked players: {out.rows:,} players ({size}), "
            "every stat now and its gain over 30 days."
        )
    only = f", player {request.tag} only" if request.tag else ""
    return f"{_TITLES[request.kind]}{only}: {out.rows:,} rows ({size}), {_period(request.days)}."


async def _nothing(con: asyncpg.Connection, request: ExportRequest, name: str | None) -> NoData:
    when = "yet" if request.days is None else f"in the last {request.days} day(s)"
    if request.kind is Kind.HISTORY:
        assert request.tag is not None
        return NoData(
            f"No history of {_who(request.tag, name)} is stored {when}. A row is written "
            "each time one of the player's stats changes."
        )
    if request.kind is Kind.LEADERBOARD:
        tracked = await guild_tracking.count_guild_players(con, request.guild_id)
        if not tracked:
            return NoData(
                "This server tracks no players yet. Someone with Manage Server can add them "
                "with `/track add` or `/track clan`."
            )
        return NoData(
            f"None of the {tracked} tracked players has been read yet; the tracker reads "
            "them shortly after they are added."
        )
    if not await guild_tracking.count_guild_clans(con, request.guild_id):
        return NoData(
            "This server tracks no clan yet: wars, raid weekends and clan games are "
            "recorded for clans tracked with `/track clan`."
        )
    by = f" of {request.tag}" if request.tag else ""
    what = {
        Kind.WARS: f"No war attack{by} is recorded for this server's tracked clans {when}.",
        Kind.RAIDS: f"No raid weekend{by} is recorded for this server's tracked clans {when}.",
        Kind.CLAN_GAMES: f"No clan games points{by} are recorded for this server's tracked "
        f"clans {when}.",
    }[request.kind]
    return NoData(what + " They are recorded while they run, from when a clan is tracked.")
