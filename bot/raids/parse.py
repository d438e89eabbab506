"""``/clans/{tag}/capitalraidseasons`` items parsed from raw JSON (newest first)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.wars.parse import WarPayloadError, api_time
from db.model import RaidMember, RaidWeekend

RAID_STATES = ("ongoing", "ended")


class RaidPayloadError(ValueError):
    """A raid season the API sent that cannot be read."""


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _member(data: object) -> RaidMember | None:
    if not isinstance(data, Mapping) or not isinstance(data.get("tag"), str):
        return None
    name = data.get("name")
    return RaidMember(
        tag=data["tag"],
        name=name if isinstance(name, str) else data["tag"],
        attacks=_int(data, "attacks"),
        attack_limit=_int(data, "attackLimit"),
        bonus_attack_limit=_int(data, "bonusAttackLimit"),
        looted=_int(data, "capitalResourcesLooted"),
    )


def parse_weekend(data: object, clan_tag: str) -> RaidWeekend:
    if not isinstance(data, Mapping):
        raise RaidPayloadError("a raid season is not an object")
    state = data.get("state")
    if state not in RAID_STATES:
        raise RaidPayloadError(f"unknown raid state {state!r}")
    try:
        start, end = api_time(data.get("startTime")), api_time(data.get("endTime"))
    except WarPayloadError as exc:
        raise RaidPayloadError(str(exc)) from exc
    members: dict[str, RaidMember] = {}
    for item in data.get("members") or ():
        member = _member(item)
        if member is not None:
            members[member.tag] = member
    return RaidWeekend(
        clan_tag=clan_tag,
        state=state,
        start_time=start,
        end_time=end,
        capital_total_loot=_int(data, "capitalTotalLoot"),
        raids_completed=_int(data, "raidsCompleted"),
        total_attacks=_int(data, "totalAttacks"),
        districts_destroyed=_int(data, "enemyDistrictsDestroyed"),
        offensive_reward=_int(data, "offensiveReward"),
        defensive_reward=_int(data, "defensiveReward"),
        members=tuple(sorted(members.values(), key=lambda m: m.tag)),
    )


def parse_seasons(body: Mapping[str, Any], clan_tag: str) -> list[RaidWeekend]:
    """The weekends of one answer; an unreadable item is an error (nothing is stored
    from a body that cannot be trusted whole)."""
    items = body.get("items")
    if not isinstance(items, list):
        raise RaidPayloadError("no items in the raid seasons")
    return [parse_weekend(item, clan_tag) for item in items]
