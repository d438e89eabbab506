"""Battle logs and league weeks in the recorded shapes, scripted between polls.

``make_battle(n)`` is the first entry of ``recorded/players_battlelog_log.json`` with
its opponent, stars, destruction and loot set from the arguments (``n`` makes the
opponent tag, so battles with different ``n`` are different battles, as real ones
practically always are). ``BattleLog`` keeps every battle a player made; the fake API
serves the latest 50, newest first (``FakeCocApi.serve_battle_log``).
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.coc_api import load_payload

_TEMPLATE: dict[str, Any] | None = None
_TAG_ALPHABET = "0289PYLQGRJCUV"


def _template() -> dict[str, Any]:
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = load_payload("recorded/players_battlelog_log")["body"]["items"][0]
    return copy.deepcopy(_TEMPLATE)


def opponent_tag(n: int) -> str:
    """A valid tag, a different one for each ``n`` (a fixed width of digits after a
    fixed first character: no two numbers spell the same tag)."""
    digits = []
    for _ in range(7):
        n, r = divmod(n, len(_TAG_ALPHABET))
        digits.append(_TAG_ALPHABET[r])
    if n:
        raise ValueError("battle number too large")
    return "#Q" + "".join(reversed(digits))


def make_battle(
    n: int,
    *,
    attack: bool = True,
    battle_type: str = "ranked",
    stars: int = 2,
    destruction: int = 80,
    gold: int = 500_000,
    elixir: int = 400_000,
    dark_elixir: int = 5_000,
) -> dict[str, Any]:
    entry = _template()
    entry["battleType"] = battle_type
    entry["attack"] = attack
    entry["opponentPlayerTag"] = opponent_tag(n)
    entry["stars"] = stars
    entry["destructionPercentage"] = destruction
    amounts = {"Gold": gold, "Elixir": elixir, "DarkElixir": dark_elixir}
    for item in entry["lootedResources"]:
        if item["name"] in amounts:
            item["amount"] = amounts[item["name"]]
    return entry


class BattleLog:
    """A player's battles, oldest first; ``items()`` is the log as the API lists it."""

    def __init__(self) -> None:
        self.battles: list[dict[str, Any]] = []

    def play(self, *battles: dict[str, Any]) -> None:
        self.battles.extend(battles)

    def items(self) -> list[dict[str, Any]]:
        return list(reversed(self.battles))


def make_week(
    season_id: int,
    tier_id: int,
    *,
    placement: int = 10,
    league_trophies: int = 1000,
    attack_wins: int = 20,
    max_battles: int = 30,
) -> dict[str, Any]:
    """One league history entry, shaped as ``recorded/players_leaguehistory_log.json``."""
    week = dict(load_payload("recorded/players_leaguehistory_log")["body"]["items"][0])
    week.update(
        leagueSeasonId=season_id,
        leagueTierId=tier_id,
        placement=placement,
        leagueTrophies=league_trophies,
        attackWins=attack_wins,
        maxBattles=max_battles,
    )
    return week
