"""The kinds of event the tracker derives, with their user-facing names."""

from __future__ import annotations

EVENT_KINDS: dict[str, str] = {
    "trophies": "Trophies",
    "best_trophies": "New best trophies",
    "builder_trophies": "Builder base trophies",
    "town_hall": "Town Hall upgrade",
    "hero": "Hero upgrade",
    "exp_level": "Experience level",
    "war_stars": "War stars",
    "donations": "Donations",
    "received": "Donations received",
    "capital": "Capital contributions",
    "clan_join": "Joined a clan",
    "clan_leave": "Left a clan",
    "name": "Renamed",
    "league": "League changed",
    "role": "Clan role changed",
    "gone": "Account no longer found",
    "war_attack": "War attack",
    "war_end": "War ended",
    "raid_end": "Raid weekend ended",
    "clan_games": "Clan games maximum reached",
    "ranked_week": "Ranked week ended",
}

# Stat columns whose change is an event of the same-named kind, with its delta.
NUMERIC_EVENTS: dict[str, str] = {
    "trophies": "trophies",
    "best_trophies": "best_trophies",
    "builder_trophies": "builder_trophies",
    "town_hall": "town_hall",
    "exp_level": "exp_level",
    "war_stars": "war_stars",
    "capital_contributions": "capital",
}
