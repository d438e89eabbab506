"""What each export holds: its columns, and each database row as cells.

Column names are stable snake_case (scripts read them); every moment is ISO
8601 UTC (``bot.exports.csv_file``). Each kind reads from a streaming query of
``db.exports`` and turns one record into one row here, so nothing holds more
than a row at a time.

The leaderboard export gives, per tracked player, every stat's current value
and its gain over 30 days with exactly the rules of /leaderboard (and
/progress): ``bot.periods`` decides which column a gain is measured on (the
running totals for the donation counters, across their resets), where the
baseline is (the last row at or before the start, else the first row: "since
tracking began"), and that a donation counter's current value is the
season's total.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

import asyncpg

from bot.clangames.credit import month_of
from bot.exports.csv_file import Cell
from bot.periods import Period, gain, gain_column, period_start, uses_season_totals
from bot.tracker.seasons import season_start
from db import exports
from db.history import VALUE_COLUMNS
from db.model import STATS


class Kind(StrEnum):
    HISTORY = "history"
    LEADERBOARD = "leaderboard"
    WARS = "wars"
    RAIDS = "raids"
    CLAN_GAMES = "clangames"


KIND_LABELS: dict[Kind, str] = {
    Kind.HISTORY: "History of one player (needs tag)",
    Kind.LEADERBOARD: "Leaderboard: every stat now and its 30-day gain",
    Kind.WARS: "War attacks of the tracked clans",
    Kind.RAIDS: "Raid weekend members of the tracked clans",
    Kind.CLAN_GAMES: "Clan games points per member and month",
}

# The leaderboard's gain period, as /leaderboard's "Gain over 30 days".
LEADERBOARD_PERIOD = Period.MONTH
# The season totals that stand for a donation counter's current value.
_SEASON_TOTAL = {"donations": "season_donations", "donations_received": "season_received"}

HISTORY_COLUMNS: tuple[str, ...] = ("observed_at", *VALUE_COLUMNS)
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "tag",
    "name",
    "last_read_at",
    "gain_since",
    "gain_partial",
    *(column for stat in STATS for column in (stat, f"{stat}_gain_30d")),
)
WAR_COLUMNS: tuple[str, ...] = (
    "war_end", "war_start", "clan_tag", "clan_name", "opponent_tag", "opponent_name",
    "war_type", "cwl_round", "result", "attack_order", "attacker_side",
    "attacker_tag", "attacker_name", "attacker_th", "attacker_position",
    "defender_tag", "defender_name", "defender_th", "defender_position",
    "stars", "destruction", "duration_s", "seen_at",
)  # fmt: skip
RAID_COLUMNS: tuple[str, ...] = (
    "weekend_start", "weekend_end", "clan_tag", "clan_name", "state", "tag", "name",
    "attacks", "attack_limit", "bonus_attack_limit", "capital_gold_looted",
)  # fmt: skip
CLAN_GAMES_COLUMNS: tuple[str, ...] = (
    "month", "clan_tag", "clan_name", "tag", "name", "points", "maxed_at", "updated_at",
)  # fmt: skip

COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.HISTORY: HISTORY_COLUMNS,
    Kind.LEADERBOARD: LEADERBOARD_COLUMNS,
    Kind.WARS: WAR_COLUMNS,
    Kind.RAIDS: RAID_COLUMNS,
    Kind.CLAN_GAMES: CLAN_GAMES_COLUMNS,
}

Row = Sequence[Cell]


def history_row(r: asyncpg.Record) -> Row:
    return [r["observed_at"], *(r[c] for c in VALUE_COLUMNS)]


def leaderboard_row(r: asyncpg.Record, start: datetime) -> Row:
    """One player: every stat now and its gain since ``start`` (empty without history)."""
    base_at: datetime | None = r["base_at"]
    since: datetime | None = None
    partial: bool | None = None
    cells: list[Cell] = []
    for stat in STATS:
        current = r[_SEASON_TOTAL[stat]] if uses_season_totals(stat, Period.CURRENT) else r[stat]
        change: int | None = None
        if base_at is not None:
            column = gain_column(stat)
            g = gain(int(r[column]), int(r[f"base_{column}"]), base_at, start)
            change, since, partial = g.value, g.since, g.partial
        cells += [int(current), change]
    return [r["tag"], r["name"], r["fetched_at"], since, partial, *cells]


def war_row(r: asyncpg.Record) -> Row:
    return [
        r["end_time"], r["start_time"], r["clan_tag"], r["clan_name"], r["opponent_tag"],
        r["opponent_name"], "cwl" if r["cwl"] else "regular", r["cwl_round"], r["result"],
        r["attack_order"], r["attacker_side"], r["attacker_tag"], r["attacker_name"],
        r["attacker_th"], r["attacker_position"], r["defender_tag"], r["defender_name"],
        r["defender_th"], r["defender_position"], r["stars"], r["destruction"], r["duration"],
        r["seen_at"],
    ]  # fmt: skip


def raid_row(r: asyncpg.Record) -> Row:
    # The limit as /raids shows it: the bonus attack (a completed district) included.
    limit = r["attack_limit"] + r["bonus_attack_limit"]
    return [
        r["start_time"], r["end_time"], r["clan_tag"], r["clan_name"], r["state"], r["tag"],
        r["name"], r["attacks"], limit, r["bonus_attack_limit"], r["looted"],
    ]  # fmt: skip


def clan_games_row(r: asyncpg.Record) -> Row:
    month: date = r["month"]
    return [
        f"{month:%Y-%m}", r["clan_tag"], r["clan_name"], r["tag"], r["name"], r["points"],
        r["maxed_at"], r["updated_at"],
    ]  # fmt: skip


async def rows(
    con: asyncpg.Connection,
    kind: Kind,
    guild_id: int,
    tag: str | None,
    days: int | None,
    now: datetime,
) -> AsyncIterator[Row]:
    """The rows of one export, streamed (inside the caller's transaction)."""
    since = None if days is None else now - timedelta(days=days)
    if kind is Kind.HISTORY:
        assert tag is not None  # checked by the request
        async for r in exports.history(con, tag, since):
            yield history_row(r)
    elif kind is Kind.LEADERBOARD:
        start = period_start(LEADERBOARD_PERIOD, now)
        assert start is not None
        async for r in exports.leaderboard(con, guild_id, start, season_start(now)):
            yield leaderboard_row(r, start)
    elif kind is Kind.WARS:
        async for r in exports.wars(con, guild_id, since, tag):
            yield war_row(r)
    elif kind is Kind.RAIDS:
        async for r in exports.raids(con, guild_id, since, tag):
            yield raid_row(r)
    else:
        # A month counts when it overlaps the period: from the month ``since`` falls in.
        first = None if since is None else month_of(since)
        async for r in exports.clan_games(con, guild_id, first, tag):
            yield clan_games_row(r)
