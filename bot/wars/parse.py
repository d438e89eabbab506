"""War payloads (``/clans/{tag}/currentwar``, ``/clanwarleagues/wars/{tag}``) parsed.

Read from raw JSON, like profiles: coc.py's war models are not needed, and a
payload may show the tracked clan on either side (a CWL round war lists the
two clans in whatever order): it is turned to the tracked clan's side here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from db.model import CLAN_SIDE, OPPONENT_SIDE, WarAttack, WarMember, WarSnapshot

WAR_STATES = ("preparation", "inWar", "warEnded")
API_TIME = "%Y%m%dT%H%M%S.%fZ"


class WarPayloadError(ValueError):
    """A war payload that cannot be read (a broken body, or a war of other clans)."""


def api_time(value: object) -> datetime:
    """``20230528T144240.000Z`` as an aware datetime."""
    if not isinstance(value, str):
        raise WarPayloadError(f"not a time: {value!r}")
    try:
        return datetime.strptime(value, API_TIME).replace(tzinfo=UTC)
    except ValueError as exc:
        raise WarPayloadError(f"not a time: {value!r}") from exc


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return 0.0


def _side(data: object) -> Mapping[str, Any]:
    return data if isinstance(data, Mapping) else {}


def _members(side: Mapping[str, Any], label: str) -> list[WarMember]:
    found = []
    for m in side.get("members") or ():
        if isinstance(m, Mapping) and isinstance(m.get("tag"), str):
            found.append(
                WarMember(
                    side=label,
                    tag=m["tag"],
                    name=str(m.get("name") or ""),
                    town_hall=_int(m, "townhallLevel") or _int(m, "townHallLevel"),
                    map_position=_int(m, "mapPosition"),
                )
            )
    return found


def _attacks(sides: tuple[Mapping[str, Any], ...]) -> list[WarAttack]:
    found: dict[int, WarAttack] = {}
    for side in sides:
        for m in side.get("members") or ():
            if not isinstance(m, Mapping):
                continue
            for a in m.get("attacks") or ():
                if not isinstance(a, Mapping):
                    continue
                order, attacker = a.get("order"), a.get("attackerTag")
                defender = a.get("defenderTag")
                if not isinstance(order, int) or not isinstance(attacker, str):
                    continue
                found[order] = WarAttack(
                    order=order,
                    attacker_tag=attacker,
                    defender_tag=defender if isinstance(defender, str) else "",
                    stars=_int(a, "stars"),
                    destruction=_float(a, "destructionPercentage"),
                    duration=_int(a, "duration"),
                )
    return [found[o] for o in sorted(found)]


def parse_war(
    data: Mapping[str, Any],
    *,
    clan_tag: str,
    war_tag: str | None = None,
    league_season: str | None = None,
    cwl_round: int | None = None,
) -> WarSnapshot | None:
    """The war in ``data`` from ``clan_tag``'s side; None when the clan is not at war.

    Raises ``WarPayloadError`` for a body that is not a war of ``clan_tag``.
    """
    state = data.get("state")
    if state in ("notInWar", None):
        return None
    if state not in WAR_STATES:
        raise WarPayloadError(f"unknown war state {state!r}")
    ours, theirs = _side(data.get("clan")), _side(data.get("opponent"))
    if theirs.get("tag") == clan_tag:
        ours, theirs = theirs, ours
    if ours.get("tag") != clan_tag or not isinstance(theirs.get("tag"), str):
        raise WarPayloadError(f"not a war of {clan_tag}")
    per_member = data.get("attacksPerMember")
    return WarSnapshot(
        clan_tag=clan_tag,
        clan_name=str(ours.get("name") or ""),
        opponent_tag=theirs["tag"],
        opponent_name=str(theirs.get("name") or ""),
        state=state,
        preparation_start=api_time(data.get("preparationStartTime")),
        start_time=api_time(data.get("startTime")),
        end_time=api_time(data.get("endTime")),
        team_size=_int(data, "teamSize"),
        # A CWL round war carries none: one attack each.
        attacks_per_member=per_member if isinstance(per_member, int) and per_member > 0 else 1,
        clan_stars=_int(ours, "stars"),
        clan_destruction=_float(ours, "destructionPercentage"),
        clan_attacks=_int(ours, "attacks"),
        opponent_stars=_int(theirs, "stars"),
        opponent_destruction=_float(theirs, "destructionPercentage"),
        opponent_attacks=_int(theirs, "attacks"),
        members=(*_members(ours, CLAN_SIDE), *_members(theirs, OPPONENT_SIDE)),
        attacks=tuple(_attacks((ours, theirs))),
        war_tag=war_tag,
        league_season=league_season,
        cwl_round=cwl_round,
    )
