"""Signs of play: what a reading shows that only a player at the keyboard could cause.

A player's last activity is the last reading that showed one of these. What a
defense alone explains is not a sign: defense wins, and trophies that fell
(a lost defense) or rose with a defense win. A clan's member list shows
trophies but not defense wins, so its trophies are no sign (the next full
profile shows the attack wins of an attack). A lost attack that changes
nothing else is invisible to polling (its trophies fall as a lost defense's
would); see RELIABILITY.md.
"""

from __future__ import annotations

from db.model import PlayerProfile

# Reason keys, stored in players.last_active_by (comma-separated), with their labels.
SIGN_LABELS: dict[str, str] = {
    "donations": "donated",
    "received": "received donations",
    "attack_wins": "won attacks",
    "trophies": "attacked (trophies)",
    "builder_trophies": "builder base battles",
    "exp_level": "gained experience",
    "upgrade": "upgraded",
    "war_stars": "war stars",
    "war_attack": "war attack",
    "raid_attacks": "raid attacks",
    "clan_games": "clan games points",
    "capital": "capital contributions",
    "name": "renamed",
    # Kinds of events that migration 0007 backfilled from.
    "town_hall": "upgraded",
    "hero": "upgraded",
}


def label(reasons: str | None) -> str:
    """``players.last_active_by`` in words."""
    if not reasons:
        return "unknown"
    words: list[str] = []
    for key in reasons.split(","):
        word = SIGN_LABELS.get(key, key.replace("_", " "))
        if word not in words:
            words.append(word)
    return ", ".join(words)


def signs_of_play(
    old: PlayerProfile,
    new: PlayerProfile,
    donated: int = 0,
    received: int = 0,
    *,
    full: bool = True,
) -> tuple[str, ...]:
    """The signs of play between two readings of one player (``donated`` and
    ``received``: what the counter model credited between them; ``full``: ``new`` is
    a full profile, not a clan's member list, which lacks defense wins)."""
    signs: list[str] = []
    if donated > 0:
        signs.append("donations")
    if received > 0:
        signs.append("received")
    if new.attack_wins > old.attack_wins:
        signs.append("attack_wins")
    if full and new.trophies > old.trophies and new.defense_wins <= old.defense_wins:
        signs.append("trophies")
    if new.builder_trophies != old.builder_trophies:
        signs.append("builder_trophies")
    if new.exp_level > old.exp_level:
        signs.append("exp_level")
    if (
        new.town_hall > old.town_hall
        or new.builder_hall > old.builder_hall
        or any(level > old.heroes.get(hero, 0) for hero, level in new.heroes.items())
    ):
        signs.append("upgrade")
    if new.war_stars > old.war_stars:
        signs.append("war_stars")
    if new.capital_contributions > old.capital_contributions:
        signs.append("capital")
    if new.name != old.name and old.name:
        signs.append("name")
    return tuple(signs)
