"""The battle log and league history bodies, parsed (raw JSON, as the recorded API answers).

A battle has no id: its fingerprint is a hash of what identifies it (type, side,
opponent, army share code, stars, destruction, and the gold, elixir and dark elixir
looted, extra-looted and available), which two different battles practically never
share. Resources are read by name: the order the API lists them in (it varies, see
the recorded log) does not change the fingerprint, nor does a resource the game adds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from db.model import Battle, LeagueWeek

LOOT_NAMES = {"Gold": "gold", "Elixir": "elixir", "DarkElixir": "dark_elixir"}


class BattlePayloadError(ValueError):
    """A body the API should not send: not a list of battles or of weeks."""


# What tells two battles apart. Only these fields: an entry also lists every resource
# of the game (available loot, event currencies), and a resource or key the API adds
# later would change every fingerprint at once, making 50 stored battles look new.
IDENTITY = ("battleType", "attack", "opponentPlayerTag", "armyShareCode", "stars",
            "destructionPercentage")  # fmt: skip
RESOURCE_LISTS = ("lootedResources", "extraLootedResources", "availableLoot")


def _resources(value: Any) -> str:
    """``gold,elixir,dark`` amounts as text (``None`` for one not listed; the last entry of
    a name wins). Stored fingerprints depend on this exact text."""
    if not isinstance(value, list):
        return ""
    gold = elixir = dark = None
    # One pass, no dict: 50 battles a log, three lists each (a tenth of a poll's CPU).
    for item in value:
        if isinstance(item, dict):
            name = item.get("name")
            if name == "Gold":
                gold = item.get("amount")
            elif name == "Elixir":
                elixir = item.get("amount")
            elif name == "DarkElixir":
                dark = item.get("amount")
    return f"{gold},{elixir},{dark}"


def fingerprint(entry: Mapping[str, Any]) -> str:
    parts = [repr(entry.get(key)) for key in IDENTITY]
    parts += [_resources(entry.get(key)) for key in RESOURCE_LISTS]
    return hashlib.blake2b("|".join(parts).encode(), digest_size=12).hexdigest()


def _int(entry: Mapping[str, Any], key: str) -> int:
    value = entry.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _loot(entry: Mapping[str, Any]) -> dict[str, int]:
    loot = dict.fromkeys(LOOT_NAMES.values(), 0)
    for item in entry.get("lootedResources") or ():
        # dict, not Mapping: JSON bodies are dicts, and the ABC check is slow.
        if isinstance(item, dict) and item.get("name") in LOOT_NAMES:
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
