"""A player's profile parsed from the API's raw JSON.

The tracker and ``/player`` both read raw JSON rather than coc.py models:
building a full ``coc.Player`` costs about 1.3 ms of CPU (NOTES.md), and the
raw JSON keeps heroes that coc.py's hard-coded list drops.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The stats the bot tracks, in display order. Names match the DESIGN.md
# command choices and the columns of the ``players`` table.
STATS: tuple[str, ...] = (
    "trophies",
    "best_trophies",
    "donations",
    "donations_received",
    "attack_wins",
    "defense_wins",
    "war_stars",
    "exp_level",
    "town_hall",
    "builder_trophies",
    "capital_contributions",
)

STAT_LABELS: dict[str, str] = {
    "trophies": "Trophies",
    "best_trophies": "Best trophies",
    "donations": "Donations",
    "donations_received": "Donations received",
    "attack_wins": "Attack wins",
    "defense_wins": "Defense wins",
    "war_stars": "War stars",
    "exp_level": "Experience level",
    "town_hall": "Town Hall",
    "builder_trophies": "Builder base trophies",
    "capital_contributions": "Capital contributions",
}

_API_KEYS: dict[str, str] = {
    "trophies": "trophies",
    "best_trophies": "bestTrophies",
    "donations": "donations",
    "donations_received": "donationsReceived",
    "attack_wins": "attackWins",
    "defense_wins": "defenseWins",
    "war_stars": "warStars",
    "exp_level": "expLevel",
    "town_hall": "townHallLevel",
    "builder_trophies": "builderBaseTrophies",
    "capital_contributions": "clanCapitalContributions",
}


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _league_name(data: Mapping[str, Any]) -> str | None:
    # Player payloads carry ``leagueTier`` since Oct 2025; clan member lists
    # still carry the older ``league``. Accept both.
    for key in ("leagueTier", "league"):
        league = data.get(key)
        if isinstance(league, Mapping) and isinstance(league.get("name"), str):
            return league["name"]
    return None


@dataclass(frozen=True, slots=True)
class PlayerProfile:
    tag: str
    name: str
    town_hall: int
    exp_level: int
    trophies: int
    best_trophies: int
    war_stars: int
    attack_wins: int
    defense_wins: int
    donations: int
    donations_received: int
    builder_trophies: int
    best_builder_trophies: int
    builder_hall: int
    capital_contributions: int
    league: str | None
    clan_tag: str | None
    clan_name: str | None
    role: str | None
    heroes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> PlayerProfile:
        """Parse a ``GET /players/{tag}`` body; missing fields read as 0/None."""
        tag = data.get("tag")
        if not isinstance(tag, str) or not tag:
            raise ValueError("player payload has no tag")
        clan = data.get("clan") if isinstance(data.get("clan"), Mapping) else None
        heroes: dict[str, int] = {}
        for hero in data.get("heroes") or ():
            if (
                isinstance(hero, Mapping)
                and hero.get("village", "home") == "home"
                and isinstance(hero.get("name"), str)
            ):
                heroes[hero["name"]] = _int(hero, "level")
        return cls(
            tag=tag,
            name=str(data.get("name") or ""),
            town_hall=_int(data, "townHallLevel"),
            exp_level=_int(data, "expLevel"),
            trophies=_int(data, "trophies"),
            best_trophies=_int(data, "bestTrophies"),
            war_stars=_int(data, "warStars"),
            attack_wins=_int(data, "attackWins"),
            defense_wins=_int(data, "defenseWins"),
            donations=_int(data, "donations"),
            donations_received=_int(data, "donationsReceived"),
            builder_trophies=_int(data, "builderBaseTrophies"),
            best_builder_trophies=_int(data, "bestBuilderBaseTrophies"),
            builder_hall=_int(data, "builderHallLevel"),
            capital_contributions=_int(data, "clanCapitalContributions"),
            league=_league_name(data),
            clan_tag=clan.get("tag") if clan else None,
            clan_name=clan.get("name") if clan else None,
            role=data.get("role") if clan else None,
            heroes=heroes,
        )

    def stat(self, name: str) -> int:
        return int(getattr(self, name))


def api_key_for(stat: str) -> str:
    return _API_KEYS[stat]
