"""War records for the commands: a player's record over a period, the guild's ranking.

A player's wars are those fought for a tracked clan whose battle day began in
the period: a war in preparation has nothing to count yet, and a war still
running has missed nothing yet (its attacks so far count).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import asyncpg

from bot.periods import Ranked, Standing, rank
from db import war_stats


@dataclass(frozen=True, slots=True)
class AttackFigures:
    attacks: int
    stars: int
    three_stars: int
    avg_destruction: float

    @property
    def avg_stars(self) -> float:
        return self.stars / self.attacks if self.attacks else 0.0

    @property
    def three_star_rate(self) -> float:
        return self.three_stars / self.attacks if self.attacks else 0.0


NO_ATTACKS = AttackFigures(0, 0, 0, 0.0)


class Direction(Enum):
    """The defender's Town Hall against the attacker's."""

    UP = 1
    EQUAL = 0
    DOWN = -1


@dataclass(frozen=True, slots=True)
class WarRecord:
    tag: str
    name: str | None
    days: int
    wars: int
    cwl_wars: int
    available: int  # attacks the player could make (CWL: one a round)
    missed: int  # in wars that ended
    unseen: int  # wars that ended between two polls (missed counted from the last poll)
    running: int  # wars still running
    total: AttackFigures
    by_direction: dict[Direction, AttackFigures]

    @property
    def used(self) -> int:
        return self.total.attacks


def _figures(row: asyncpg.Record | None) -> AttackFigures:
    if row is None:
        return NO_ATTACKS
    return AttackFigures(
        row["attacks"], row["stars"], row["three_stars"], float(row["avg_destruction"])
    )


async def player_record(con: asyncpg.Connection, tag: str, days: int, now: datetime) -> WarRecord:
    since = now - timedelta(days=days)
    wars = await war_stats.player_wars(con, tag, since, now)
    attacks = await war_stats.player_attacks(con, tag, since)
    return WarRecord(
        tag=tag,
        name=await war_stats.player_name(con, tag),
        days=days,
        wars=wars["wars"],
        cwl_wars=wars["cwl_wars"],
        available=wars["available"],
        missed=wars["missed"],
        unseen=wars["unseen"],
        running=wars["running"],
        total=_figures(attacks.get(None)),
        by_direction={d: _figures(attacks.get(d.value)) for d in Direction},
    )


class Metric(Enum):
    STARS = "stars"
    THREE_STARS = "three_stars"
    AVG_DESTRUCTION = "avg_destruction"
    MISSED = "missed"


METRIC_LABELS = {
    Metric.STARS: "War stars",
    Metric.THREE_STARS: "Three-star attacks",
    Metric.AVG_DESTRUCTION: "Average destruction",
    Metric.MISSED: "Missed attacks",
}


@dataclass(frozen=True, slots=True)
class WarBoard:
    metric: Metric
    days: int
    ranked: list[Ranked]
    without_attacks: int  # ranked by average destruction: players with wars but no attack


async def war_board(
    con: asyncpg.Connection, guild_id: int, metric: Metric, days: int, now: datetime, user_id: int
) -> WarBoard:
    """The guild's tracked players with a war in the period, ranked by ``metric`` (most
    first; for missed attacks, the most missed first)."""
    rows = await war_stats.leaderboard(con, guild_id, now - timedelta(days=days), now, user_id)
    standings = []
    without = 0
    for r in rows:
        if metric is Metric.AVG_DESTRUCTION:
            if not r["attacks"]:
                without += 1
                continue
            value: float = round(float(r["avg_destruction"]), 2)
        else:
            value = r[metric.value]
        standings.append(Standing(r["tag"], r["name"] or r["tag"], value, r["mine"]))
    return WarBoard(metric, days, rank(standings), without)
