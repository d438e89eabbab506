"""The fake Clash of Clans API process for ``bench.api_budget``: a large population kept
compact, rendered per request, with the real cache ages and a per-key rate limiter.

``players`` players in ``clans`` clans of equal size. A share of the clans is at war
(battle day, both lineups the clan's members against a made-up opponent; attacks appear
over time); a share of the players is active (ranked battles in their battle log, and
trophies, attack wins and donations that move over time); the rest never change.
Nothing is stored per player but a few integers: profiles, clans (with their member
lists) and battle logs are rendered at each request (``FakeCocApi.set_source``).

Prints its base URL, then reads commands on stdin, one a line:

* ``tick SECONDS SEED``: that much game time passes (battles, donations, war attacks);
  answers ``ok BATTLES DONATIONS ATTACKS``;
* ``stats``: answers one JSON line: requests by kind and status since the start, 429s by
  key, the process's CPU seconds, and how long the active players' battles wait to be
  read (a battle is unread from when it is played until the next battle log answer).

    python -m bench.budget_api PLAYERS CLANS KEYS RATE [WAR_SHARE ACTIVE_SHARE]
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
from array import array
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import stdin_commands
from tests.fakes.battles import make_battle, opponent_tag
from tests.fakes.coc_api import RANKED_WEEK, FakeCocApi, make_clan, make_player
from tests.fakes.wars import ScriptedWar, lineup

ALPHABET = "0289PYLQGRJCUV"
# Tag number ranges: players from 0, clans, opponents and their members further on.
CLAN_BASE = 10_000_000
OPPONENT_BASE = 20_000_000
OPPONENT_MEMBER_BASE = 30_000_000
# The recorded API's cache ages (tests/fakes/payloads/recorded; clans as issue 17 states).
MAX_AGES = {
    "player_max_age": 60,
    "clan_max_age": 120,
    "members_max_age": 120,
    "war_max_age": 120,
    "league_max_age": 600,
    "raid_max_age": 60,
    "battle_log_max_age": 60,
}
WEEK_ANCHOR = 1773032400  # a ranked week's id (Monday 2026-03-09 05:00 UTC)
# An active player battles about this often, and donates about as often.
BATTLE_EVERY = 600.0
# A clan at war: an attack about this often.
ATTACK_EVERY = 60.0


def tag_of(n: int) -> str:
    """A valid tag for each number (never starting with 0; distinct numbers, distinct tags)."""
    first, rest = divmod(n, 14**7)
    head = ALPHABET[1 + first % 13]
    digits = []
    for _ in range(7):
        rest, r = divmod(rest, 14)
        digits.append(ALPHABET[r])
    return "#" + head + "".join(reversed(digits))


def keys(count: int) -> list[str]:
    return [f"bench-key-{i}" for i in range(count)]


def _chosen(n: int, share: float) -> bool:
    """Exactly ``share`` of 0, 1, 2, ... chosen, spread evenly."""
    return int((n + 1) * share) > int(n * share)


class Population:
    """Which players and clans exist, who is active and which clans are at war (the same
    in the benchmark and in this process: a function of the sizes and shares)."""

    def __init__(
        self, players: int, clans: int, war_share: float = 0.3, active_share: float = 0.2
    ) -> None:
        self.players = players
        self.clans = clans
        self.per_clan = players // clans
        if self.per_clan < 1 or self.per_clan > 50:
            raise ValueError("a clan has 1 to 50 members")
        self.war_share = war_share
        self.active_share = active_share

    def player_tag(self, i: int) -> str:
        return tag_of(i)

    def clan_tag(self, c: int) -> str:
        return tag_of(CLAN_BASE + c)

    def members(self, c: int) -> range:
        return range(c * self.per_clan, (c + 1) * self.per_clan)

    def is_active(self, i: int) -> bool:
        return _chosen(i, self.active_share)

    def at_war(self, c: int) -> bool:
        return _chosen(c, self.war_share)

    def active_tags(self) -> list[str]:
        return [tag_of(i) for i in range(self.players) if self.is_active(i)]

    def war_clan_tags(self) -> list[str]:
        return [self.clan_tag(c) for c in range(self.clans) if self.at_war(c)]


def season_of(at: datetime) -> int:
    seconds = int(at.timestamp()) - WEEK_ANCHOR
    return WEEK_ANCHOR + seconds // RANKED_WEEK * RANKED_WEEK


class Game:
    """Every player as a few integers; payloads rendered from templates on request."""

    def __init__(self, pop: Population) -> None:
        self.pop = pop
        n = pop.players
        self.index = {tag_of(i): i for i in range(n)}
        self.clan_index = {pop.clan_tag(c): c for c in range(pop.clans)}
        self.trophies = array("i", (3000 + (i * 37) % 2000 for i in range(n)))
        self.donations = array("i", [0]) * n
        self.received = array("i", [0]) * n
        self.attack_wins = array("i", [0]) * n
        # Battles played (an active player starts with a full log of 50).
        self.battles = array("i", (50 if pop.is_active(i) else 0 for i in range(n)))
        # When the oldest battle not yet in a served battle log was played (0: none).
        self.unread_since = array("d", [0.0]) * n
        self.active = [i for i in range(n) if pop.is_active(i)]
        now = datetime.now(UTC)
        season = season_of(now)
        self.player_template = make_player(
            tag_of(0),
            clan=(pop.clan_tag(0), "Clan"),
            league="Electro League 20",
            league_season=season,
            best_trophies=6000,
        )
        self.achievements = self.player_template["achievements"]
        self.friend_in_need = next(
            k for k, a in enumerate(self.achievements) if a["name"] == "Friend in Need"
        )
        self.clan_template = make_clan(pop.clan_tag(0), [self.player_template], name="Clan")
        self.entry_template = self.clan_template["memberList"][0]
        self.battle_template = make_battle(0)
        self.wars: dict[int, ScriptedWar] = {}
        start = now - timedelta(hours=24)  # battle day began an hour ago
        for c in range(pop.clans):
            if pop.at_war(c):
                ours = lineup([tag_of(i) for i in pop.members(c)])
                theirs = lineup(
                    [tag_of(OPPONENT_MEMBER_BASE + c * 50 + k) for k in range(len(ours))]
                )
                war = ScriptedWar(
                    pop.clan_tag(c),
                    f"Clan {c}",
                    tag_of(OPPONENT_BASE + c),
                    "Opponent",
                    ours,
                    theirs,
                    preparation_start=start,
                )
                war.begin_battle()
                self.wars[c] = war

    # -- rendering -------------------------------------------------------------------

    def player(self, tag: str) -> dict[str, Any] | None:
        i = self.index.get(tag)
        if i is None:
            return None
        c = i // self.pop.per_clan
        p = dict(self.player_template)
        p["tag"] = tag
        p["name"] = f"P{i}"
        p["trophies"] = self.trophies[i]
        p["donations"] = self.donations[i]
        p["donationsReceived"] = self.received[i]
        p["attackWins"] = self.attack_wins[i]
        p["clan"] = dict(p["clan"], tag=self.pop.clan_tag(c), name=f"Clan {c}")
        achievements = list(self.achievements)
        lifetime = achievements[self.friend_in_need]["value"] + self.donations[i]
        achievements[self.friend_in_need] = dict(achievements[self.friend_in_need], value=lifetime)
        p["achievements"] = achievements
        return p

    def clan(self, tag: str) -> dict[str, Any] | None:
        c = self.clan_index.get(tag)
        if c is None:
            return None
        entries = []
        for i in self.pop.members(c):
            entry = dict(self.entry_template)
            entry["tag"] = tag_of(i)
            entry["name"] = f"P{i}"
            entry["trophies"] = self.trophies[i]
            entry["donations"] = self.donations[i]
            entry["donationsReceived"] = self.received[i]
            entries.append(entry)
        entries.sort(key=lambda e: e["trophies"], reverse=True)
        for rank, entry in enumerate(entries, start=1):
            entry["clanRank"] = entry["previousClanRank"] = rank
        payload = dict(self.clan_template)
        payload.update(tag=tag, name=f"Clan {c}", members=len(entries), memberList=entries)
        return payload

    def battle_log(self, tag: str) -> list[dict[str, Any]] | None:
        i = self.index.get(tag)
        if i is None:
            return None
        self.unread_since[i] = 0.0
        played = self.battles[i]
        items = []
        for k in range(played - 1, max(0, played - 50) - 1, -1):
            battle = dict(self.battle_template)
            battle["opponentPlayerTag"] = opponent_tag((i * 1000 + k) % 14**7)
            battle["attack"] = k % 2 == 0
            battle["stars"] = k % 4
            items.append(battle)
        return items

    # -- time passing ----------------------------------------------------------------

    def tick(self, seconds: float, seed: int) -> tuple[int, int, int]:
        rng = random.Random(seed)
        now = time.monotonic()
        chance = min(1.0, seconds / BATTLE_EVERY)
        battles = donations = 0
        per_clan = self.pop.per_clan
        for i in self.active:
            if rng.random() < chance:
                attack = self.battles[i] % 2 == 0
                self.battles[i] += 1
                self.trophies[i] += rng.randint(5, 40) if attack else -rng.randint(5, 30)
                if attack:
                    self.attack_wins[i] += 1
                if not self.unread_since[i]:
                    self.unread_since[i] = now
                battles += 1
            if rng.random() < chance:
                amount = rng.randint(1, 20)
                self.donations[i] += amount
                mate = (i // per_clan) * per_clan + rng.randrange(per_clan)
                self.received[mate] += amount
                donations += 1
        attacks = 0
        war_chance = min(1.0, seconds / ATTACK_EVERY)
        for war in self.wars.values():
            if rng.random() >= war_chance:
                continue
            side = war.clan_tag if rng.random() < 0.5 else war.opponent_tag
            enemy = war.opponent_tag if side == war.clan_tag else war.clan_tag
            ready = [m["tag"] for m in war.lineups[side] if war.attacks_left(m["tag"]) > 0]
            if ready:
                attacker = rng.choice(ready)
                defender = rng.choice(war.lineups[enemy])["tag"]
                stars = rng.randint(0, 3)
                destruction = 100 if stars == 3 else rng.randint(20 * stars + 10, 99)
                war.attack(attacker, defender, stars, destruction)
                attacks += 1
        return battles, donations, attacks

    def unread_ages(self) -> list[float]:
        now = time.monotonic()
        return [now - self.unread_since[i] if self.unread_since[i] else 0.0 for i in self.active]


def route_kind(path: str) -> str:
    parts = path.split("?", 1)[0].split("/")[2:]  # after "/v1"
    if not parts:
        return "other"
    if parts[0] == "players":
        return parts[2] if len(parts) > 2 else "player"
    if parts[0] == "clans":
        if len(parts) == 2:
            return "clan"
        return "/".join(parts[2:])
    if parts[0] == "clanwarleagues":
        return "leaguewar"
    return parts[0]


async def main(args: list[str]) -> None:
    players, clans, key_count = int(args[0]), int(args[1]), int(args[2])
    rate = float(args[3])
    war_share = float(args[4]) if len(args) > 4 else 0.3
    active_share = float(args[5]) if len(args) > 5 else 0.2
    pop = Population(players, clans, war_share, active_share)
    game = Game(pop)
    api = FakeCocApi(
        tokens=keys(key_count), key_rate=rate, seed_maintenance_probe=False, **MAX_AGES
    )
    api.set_source("player", game.player)
    api.set_source("clan", game.clan)
    api.set_source("battlelog", game.battle_log)
    for war in game.wars.values():
        api.serve_war(war)
    await api.start()
    print(api.base_url, flush=True)
    counts: Counter[str] = Counter()
    async for parts in stdin_commands():
        if parts and parts[0] == "tick":
            made = game.tick(float(parts[1]), int(parts[2]))
            print("ok " + " ".join(map(str, made)), flush=True)
        elif parts and parts[0] == "stats":
            for _method, path, status in api.answered:
                counts[f"{route_kind(path)} {status}"] += 1
            api.reset_counts()
            usage = resource.getrusage(resource.RUSAGE_SELF)
            unread = game.unread_ages()
            print(
                json.dumps(
                    {
                        "answered": dict(counts),
                        "throttled": dict(api.throttled),
                        "cpu_s": usage.ru_utime + usage.ru_stime,
                        "maxrss_kib": usage.ru_maxrss,
                        # Active players by whole seconds their oldest unread battle waits.
                        "unread_histogram": Counter(int(a) for a in unread),
                    }
                ),
                flush=True,
            )
    await api.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
