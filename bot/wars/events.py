"""Feed events of wars: each attack of the tracked clan, and each war's end."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.model import CLAN_SIDE, Event, WarSnapshot


def result_of(war: WarSnapshot) -> str:
    """Win, lose or tie: more stars wins; equal stars, more destruction."""
    ours = (war.clan_stars, war.clan_destruction)
    theirs = (war.opponent_stars, war.opponent_destruction)
    if ours == theirs:
        return "tie"
    return "win" if ours > theirs else "lose"


def attack_events(war: WarSnapshot, orders: Sequence[int], at: datetime) -> list[Event]:
    """A ``war_attack`` event per new attack of the tracked clan's members."""
    members = {m.tag: m for m in war.members}
    wanted = set(orders)
    events = []
    for attack in war.attacks:
        attacker = members.get(attack.attacker_tag)
        if attack.order not in wanted or attacker is None or attacker.side != CLAN_SIDE:
            continue
        defender = members.get(attack.defender_tag)
        detail: dict[str, Any] = {
            "clan": war.clan_tag,
            "clan_name": war.clan_name,
            "opponent": war.opponent_tag,
            "opponent_name": war.opponent_name,
            "attacker_name": attacker.name,
            "attacker_th": attacker.town_hall,
            "defender": attack.defender_tag,
            "defender_name": defender.name if defender else None,
            "defender_th": defender.town_hall if defender else None,
            "destruction": attack.destruction,
            "cwl": war.is_cwl,
        }
        events.append(
            Event(attack.attacker_tag, at, "war_attack", None, None, attack.stars, detail)
        )
    return events


def end_event(war: Any, missed: Sequence[Any], at: datetime) -> Event:
    """The ``war_end`` event of a closed war (a ``wars`` row) with its missed attacks."""
    detail: dict[str, Any] = {
        "war_id": war["id"],
        "clan": war["clan_tag"],
        "clan_name": war["clan_name"],
        "opponent": war["opponent_tag"],
        "opponent_name": war["opponent_name"],
        "result": war["result"],
        "clan_stars": war["clan_stars"],
        "opponent_stars": war["opponent_stars"],
        "clan_destruction": war["clan_destruction"],
        "opponent_destruction": war["opponent_destruction"],
        "closed_how": war["closed_how"],
        "attacks_unseen": war["attacks_unseen"],
        "missed": [{"tag": m["tag"], "name": m["name"], "missed": m["missed"]} for m in missed],
        "cwl": war["war_tag"] is not None,
    }
    return Event(war["clan_tag"], at, "war_end", None, war["result"], None, detail)
