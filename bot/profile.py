"""A player's profile parsed from the API's raw JSON.

The tracker and ``/player`` both read raw JSON rather than coc.py models:
building a full ``coc.Player`` costs about 1.3 ms of CPU, and the raw JSON
keeps heroes that coc.py's hard-coded hero list drops (Dragon Duke).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.model import PlayerProfile

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

# The lifetime achievements that count every unit donated: troops (by housing
# space), spells (by housing space) and siege machines (one each). Together
# they witness the season's donation counter (bot/tracker/counters.py).
DONATION_ACHIEVEMENTS = ("Friend in Need", "Sharing is caring", "Siege Sharer")
# The lifetime clan games points: its rise in a month is that month's points.
GAMES_ACHIEVEMENT = "Games Champion"


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def league_name(data: Mapping[str, Any]) -> str | None:
    """Player payloads carry ``leagueTier`` since Oct 2025; clan member lists still
    carry the older ``league``. Accept both."""
    for key in ("leagueTier", "league"):
        league = data.get(key)
        if isinstance(league, Mapping) and isinstance(league.get("name"), str):
            return league["name"]
    return None


def achievement_values(data: Mapping[str, Any]) -> dict[str, int]:
    """Achievement name -> value, for the well-formed entries of ``achievements``."""
    found: dict[str, int] = {}
    # dict, not Mapping: JSON bodies are dicts, and the ABC check was a tenth of the
    # tracker's parse time (dozens of achievements a profile).
    for item in data.get("achievements") or ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            value = item.get("value")
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                found[item["name"]] = value
    return found


def _donations(values: Mapping[str, int]) -> int | None:
    """The three lifetime donation achievements summed; None unless all three are there."""
    if not all(name in values for name in DONATION_ACHIEVEMENTS):
        return None
    return sum(values[name] for name in DONATION_ACHIEVEMENTS)


def parse_player(data: Mapping[str, Any]) -> PlayerProfile:
    """Parse a ``GET /players/{tag}`` body; missing fields read as 0/None."""
    tag = data.get("tag")
    if not isinstance(tag, str) or not tag:
        raise ValueError("player payload has no tag")
    clan = data.get("clan") if isinstance(data.get("clan"), Mapping) else None
    achievements = achievement_values(data)  # read once: a hundred entries a profile
    heroes: dict[str, int] = {}
    for hero in data.get("heroes") or ():
        if (
            isinstance(hero, Mapping)
            and hero.get("village", "home") == "home"
            and isinstance(hero.get("name"), str)
        ):
            heroes[hero["name"]] = _int(hero, "level")
    return PlayerProfile(
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
        league=league_name(data),
        clan_tag=clan.get("tag") if clan else None,
        clan_name=clan.get("name") if clan else None,
        role=data.get("role") if clan else None,
        heroes=heroes,
        lifetime_donations=_donations(achievements),
        games_champion=achievements.get(GAMES_ACHIEVEMENT),
        league_tier_id=_league_tier_id(data),
        league_season_id=_optional_int(data, "currentLeagueSeasonId"),
        league_previous_season_id=_optional_int(data, "previousLeagueSeasonId"),
    )


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _league_tier_id(data: Mapping[str, Any]) -> int | None:
    tier = data.get("leagueTier")
    return _optional_int(tier, "id") if isinstance(tier, Mapping) else None
