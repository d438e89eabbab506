"""Scripted raid weekends for the fake API's ``/clans/{tag}/capitalraidseasons``.

A :class:`RaidWeekend` is live: served through :meth:`FakeCocApi.serve_raids`, each
request renders it as it stands, in the shape of the recorded answer
(``payloads/recorded/clans_capitalraidseasons_capitalraidseason.json``, whose items are
all ``ended``): totals computed from the members (``capitalTotalLoot`` = looted,
``totalAttacks`` = attacks), members who have not attacked absent, ``attackLog`` one raided
clan whose "Capital Peak" lists every attack (so coc.py's ``RaidMember.attacks`` matches the
count), ``defenseLog`` empty. No recording shows a running weekend: here it carries
``offensiveReward`` 0 and ``defensiveReward`` 0 until :meth:`RaidWeekend.end_weekend`.

:class:`RaidSeasons` is a clan's list of weekends; served, it is read at each request, so a
weekend added later shows up (newest first). :func:`recorded_weekend` is the real shape.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

API_TIME: Final = "%Y%m%dT%H%M%S.000Z"
RECORDED: Final = Path(__file__).parent / "payloads" / "recorded"
ATTACK_LIMIT: Final = 5
STATES: Final = frozenset({"ongoing", "ended"})
# The recorded raided clan's badge, at each size the API lists.
_BADGE: Final = (
    "https://api-assets.clashofclans.com/badges/{}/FDLR7gCJtyjwRpyaKYBwlI5qYdG7vsbFkKa867RnxJw.png"
)
_BADGE_SIZES: Final = (("small", 70), ("large", 512), ("medium", 200))


def api_time(moment: datetime) -> str:
    """``moment`` in the API's spelling (``20230526T070000.000Z``); naive means UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(API_TIME)


def recorded_weekend() -> dict[str, Any]:
    """The first (newest) weekend of the recorded answer, as the API sent it (a fresh copy)."""
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
    """One clan's raid weekend, changed by the test between requests.

    ``start`` is UTC (the game's Friday 07:00); ``end`` defaults to three days later.
    ``raids_completed`` and ``districts_destroyed`` are plain counters to set.
    """

    start: datetime
    end: datetime | None = None
    state: str = "ongoing"
    raids_completed: int = 0
    districts_destroyed: int = 0
    offensive_reward: int = 0
    defensive_reward: int = 0
    raiders: dict[str, _Raider] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"state {self.state!r} is not one of {sorted(STATES)}")
        if self.end is None:
            self.end = self.start + timedelta(days=3)

    def attack(
        self, tag: str, name: str, looted: int, *, attacks: int = 1, bonus: bool = False
    ) -> None:
        """``tag`` makes ``attacks`` more attacks looting ``looted`` capital gold in all.

        Each member has ``attackLimit`` 5; ``bonus``: the member has earned the bonus attack
        (``bonusAttackLimit`` 1, for good). More than limit + bonus raises ValueError and
        changes nothing.
        """
        if attacks < 1 or looted < 0:
            raise ValueError(f"attacks must be 1 or more and looted 0 or more: {attacks}, {looted}")
        raider = self.raiders.get(tag)
        done = raider.attacks if raider is not None else 0
        extra = 1 if bonus or (raider is not None and raider.bonus) else 0
        if done + attacks > ATTACK_LIMIT + extra:
            raise ValueError(f"{tag} has {ATTACK_LIMIT + extra} attacks at most, {done} made")
        if raider is None:
            raider = self.raiders[tag] = _Raider(tag, name)
        raider.name = name
        raider.bonus = extra
        raider.attacks += attacks
        raider.looted += looted

    def end_weekend(self, *, offensive_reward: int = 500, defensive_reward: int = 200) -> None:
        """The weekend is over: state ``ended``, with these raid medal rewards."""
        self.state = "ended"
        self.offensive_reward = offensive_reward
        self.defensive_reward = defensive_reward

    def body(self) -> dict[str, Any]:
        """The weekend as one item of the API's ``items``, as it stands now."""
        raiders = [r for r in self.raiders.values() if r.attacks > 0]
        members = [
            {
                "tag": r.tag,
                "name": r.name,
                "attacks": r.attacks,
                "attackLimit": ATTACK_LIMIT,
                "bonusAttackLimit": r.bonus,
                "capitalResourcesLooted": r.looted,
            }
            for r in raiders
        ]
        ended = self.state == "ended"
        assert self.end is not None
        total_attacks = sum(r.attacks for r in raiders)
        return {
            "state": self.state,
            "startTime": api_time(self.start),
            "endTime": api_time(self.end),
            "capitalTotalLoot": sum(r.looted for r in raiders),
            "raidsCompleted": self.raids_completed,
            "totalAttacks": total_attacks,
            "enemyDistrictsDestroyed": self.districts_destroyed,
            "offensiveReward": self.offensive_reward if ended else 0,
            "defensiveReward": self.defensive_reward if ended else 0,
            "members": members,
            "attackLog": [self._raided_clan(raiders, total_attacks)] if raiders else [],
            "defenseLog": [],
        }

    def _raided_clan(self, raiders: list[_Raider], total_attacks: int) -> dict[str, Any]:
        destroyed = self.districts_destroyed > 0
        attacks = [
            {
                "attacker": {"tag": r.tag, "name": r.name},
                "destructionPercent": 100 if destroyed else 50,
                "stars": 3 if destroyed else 1,
            }
            for r in raiders
            for _ in range(r.attacks)
        ]
        peak = {
            "id": 70000000,
            "name": "Capital Peak",
            "districtHallLevel": 8,
            "destructionPercent": 100 if destroyed else 50,
            "stars": 3 if destroyed else 1,
            "attackCount": total_attacks,
            "totalLooted": sum(r.looted for r in raiders),
            "attacks": attacks,
        }
        return {
            "defender": {
                "tag": "#89L9UYRQ",
                "name": "Treue Schwerter",
                "level": 19,
                "badgeUrls": {size: _BADGE.format(px) for size, px in _BADGE_SIZES},
            },
            "attackCount": total_attacks,
            "districtCount": 8,
            "districtsDestroyed": self.districts_destroyed,
            "districts": [peak],
        }


class RaidSeasons(list[RaidWeekend]):
    """A clan's raid weekends. Served with :meth:`FakeCocApi.serve_raids`, it is read at each
    request: a weekend added (or changed) later is seen by the next request."""

    def add(self, weekend: RaidWeekend) -> RaidWeekend:
        """Add ``weekend`` and return it."""
        self.append(weekend)
        return weekend

    def items(self) -> list[dict[str, Any]]:
        """The weekends' bodies, newest first (by ``start``), as the API lists them."""
        return [w.body() for w in sorted(self, key=lambda w: w.start, reverse=True)]
