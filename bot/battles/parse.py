"""The battle log and league history bodies, parsed (raw JSON, as the recorded API answers).

A battle has no id: its fingerprint is a hash of the whole entry as the API sent it
(opponent, army share code, stars, destruction, every resource), which two different
battles practically never share. Keys and resources are sorted first, so the order the
API lists them in (resources vary, see the recorded log) does not change it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from db.model import Battle, LeagueWeek

LOOT_NAMES = {"Gold": "gold", "Elixir": "elixir", "DarkElixir": "dark_elixir"}


class BattlePayloadError(ValueError):
    """A body the API should not send: not a list of battles or of weeks."""


_RESOURCE = itemgetter("name", "amount")


def fingerprint(entry: Mapping[str, Any]) -> str:
    parts: list[Any] = []
    for key in sorted(entry):
        value = entry[key]
        if isinstance(value, list):
            try:
                # Resources ({"name", "amount"}) come in any order: sorted.
                value = sorted(map(_RESOURCE, value))
            except (TypeError, KeyError):
                value = json.dumps(value, sort_keys=True)
        elif isinstance(value, dict):
            value = json.dumps(value, sort_keys=True)
        parts.append(key)
        parts.append(value)
    return hashlib.blake2b(str(parts).encode(), digest_size=12).hexdigest()


def _int(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _loot(entry: Mapping[str, Any]) -> dict[str, int]:
    loot = dict.fromkeys(LOOT_NAMES.values(), 0)
    for item in entry.get("lootedResources") or ():
        if isinstance(item, Mapping) and item.get("name") in LOOT_NAMES:
            loot[LOOT_NAMES[item["name"]]] += _int(item, "amount")
    return loot


def _items(body: object, what: str) -> list[Mapping[str, Any]]:
    items = body.get("items") if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
        raise BattlePayloadError(f"{what}: no list of items")
    return items


def parse_battle_log(body: object) -> list[Battle]:
    """The log's battles, newest first, as the API lists them."""
    battles: list[Battle] = []
    for entry in _items(body, "battle log"):
        opponent = entry.get("opponentPlayerTag")
        code = entry.get("armyShareCode")
        battles.append(
            Battle(
                fingerprint=fingerprint(entry),
                battle_type=str(entry.get("battleType") or "unknown"),
                attack=entry.get("attack") is True,
                opponent_tag=opponent if isinstance(opponent, str) else "",
                stars=max(0, min(3, _int(entry, "stars"))),
                destruction=max(0, min(100, _int(entry, "destructionPercentage"))),
                army_share_code=code if isinstance(code, str) else None,
                **_loot(entry),
            )
        )
    return battles


def parse_league_history(body: object) -> list[LeagueWeek]:
    """Past ranked weeks, oldest first (the API's order is not relied on)."""
    weeks: dict[int, LeagueWeek] = {}
    for entry in _items(body, "league history"):
        season = entry.get("leagueSeasonId")
        tier = entry.get("leagueTierId")
        if not isinstance(season, int) or not isinstance(tier, int):
            continue
        placement = entry.get("placement")
        max_battles = entry.get("maxBattles")
        weeks[season] = LeagueWeek(
            season_id=season,
            tier_id=tier,
            placement=placement if isinstance(placement, int) else None,
            league_trophies=_int(entry, "leagueTrophies"),
            attack_wins=_int(entry, "attackWins"),
            attack_losses=_int(entry, "attackLosses"),
            attack_stars=_int(entry, "attackStars"),
            defense_wins=_int(entry, "defenseWins"),
            defense_losses=_int(entry, "defenseLosses"),
            defense_stars=_int(entry, "defenseStars"),
            max_battles=max_battles if isinstance(max_battles, int) else None,
        )
    return [weeks[s] for s in sorted(weeks)]


def league_tiers(body: object) -> dict[int, str]:
    """``/leaguetiers``: tier names by id."""
    return {
        i["id"]: i["name"]
        for i in _items(body, "league tiers")
        if isinstance(i.get("id"), int) and isinstance(i.get("name"), str)
    }
