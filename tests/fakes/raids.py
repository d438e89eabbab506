"""Scripted raid weekends for the fake API's ``/clans/{tag}/capitalraidseasons``.

A :class:`RaidWeekend` is live: served through :meth:`FakeCocApi.serve_raids`, each
request renders it as it stands, in the shape of the recorded answer
(``payloads/recorded/clans_capitalraidseasons_capitalraidseason.json``): totals
computed from the members, members who have not attacked absent, ``attackLog`` and
``defenseLog`` short but well-formed. A running weekend carries raid medals 0 (the game
awards them at the end).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

API_TIME = "%Y%m%dT%H%M%S.000Z"
RECORDED = Path(__file__).parent / "payloads" / "recorded"
ATTACK_LIMIT = 5


def api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(API_TIME)


def recorded_weekend() -> dict[str, Any]:
    """The first weekend of the recorded answer, as the API sent it."""
    data = json.loads((RECORDED / "clans_capitalraidseasons_capitalraidseason.json").read_text())
    return copy.deepcopy(data["body"]["items"][0])


@dataclass
class _Raider:
    tag: str
    name: str
    attacks: int = 0
    bonus: int = 0
    looted: int = 0


@dataclass
class RaidWeekend:
    """One clan's raid weekend, changed by the test between requests."""

    start: datetime
    end: datetime | None = None
    state: str = "ongoing"
    raids_completed: int = 0
    districts_destroyed: int = 0
    offensive_reward: int = 0
    defensive_reward: int = 0
    raiders: dict[str, _Raider] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.end is None:
            self.end = self.start + timedelta(days=3)

    def attack(
        self, tag: str, name: str, looted: int, *, attacks: int = 1, bonus: bool = False
    ) -> None:
        """``tag`` makes ``attacks`` more attacks looting ``looted`` capital gold in all;
        ``bonus``: the member has earned the bonus attack (a sixth)."""
        raider = self.raiders.setdefault(tag, _Raider(tag, name))
        raider.name = name
        if bonus:
            raider.bonus = 1
        if raider.attacks + attacks > ATTACK_LIMIT + raider.bonus:
            raise ValueError(f"{tag} has {ATTACK_LIMIT + raider.bonus} attacks at most")
        raider.attacks += attacks
        raider.looted += looted

    def end_weekend(self, *, offensive_reward: int = 500, defensive_reward: int = 200) -> None:
        self.state = "ended"
        self.offensive_reward = offensive_reward
        self.defensive_reward = defensive_reward

    def body(self) -> dict[str, Any]:
        members = [
            {
                "tag": r.tag,
                "name": r.name,
                "attacks": r.attacks,
                "attackLimit": ATTACK_LIMIT,
                "bonusAttackLimit": r.bonus,
                "capitalResourcesLooted": r.looted,
            }
            for r in self.raiders.values()
            if r.attacks > 0
        ]
        ended = self.state == "ended"
        assert self.end is not None
        return {
            "state": self.state,
            "startTime": api_time(self.start),
            "endTime": api_time(self.end),
            "capitalTotalLoot": sum(m["capitalResourcesLooted"] for m in members),
            "raidsCompleted": self.raids_completed,
            "totalAttacks": sum(m["attacks"] for m in members),
            "enemyDistrictsDestroyed": self.districts_destroyed,
            "offensiveReward": self.offensive_reward if ended else 0,
            "defensiveReward": self.defensive_reward if ended else 0,
            "members": members,
            "attackLog": [
                {
                    "defender": {"tag": "#9YY", "name": "Their Clan", "level": 10},
                    "attackCount": sum(m["attacks"] for m in members),
                    "districtCount": 8,
                    "districtsDestroyed": self.districts_destroyed,
                    "districts": [],
                }
            ],
            "defenseLog": [],
        }
