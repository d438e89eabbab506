"""An in-process fake of the Clash of Clans REST API (aiohttp), for use with the real coc.py.

Usage::

    api = FakeCocApi()
    await api.start()
    api.set_player(make_player("#2PP", name="Alice", trophies=4100))
    client = coc.Client(base_url=api.base_url, throttle_limit=1000)
    await client.login_with_tokens("test-token")
    player = await client.get_player("#2PP")
    ...
    await client.close()
    await api.stop()

What it serves (everything under ``/v1``; paths are matched after percent-decoding, so
``/v1/players/%23TAG``, ``/v1/players/#TAG`` and ``/v1/players/tag`` all mean ``#TAG``):

* ``GET  /v1/players/{tag}``                  -> the payload given to :meth:`FakeCocApi.set_player`
* ``POST /v1/players/{tag}/verifytoken``      -> ``{"tag", "token", "status": "ok" | "invalid"}``
* ``GET  /v1/players/{tag}/battlelog``        -> ``{"items": [...]}``, the latest 50 battles of
  :meth:`FakeCocApi.serve_battle_log` (live) or :meth:`FakeCocApi.set_battle_log`, newest
  first, ``max-age=60`` as recorded (empty for a known player without one, 404 for an unknown)
* ``GET  /v1/players/{tag}/leaguehistory``    -> ``{"items": [...]}`` of
  :meth:`FakeCocApi.set_league_history` (oldest first, as recorded), ``max-age=300``
* ``GET  /v1/leaguetiers``                    -> the recorded tier list (``max-age=600``).
  Builders for battles and weeks: ``tests/fakes/battles.py``
* ``GET  /v1/clans/{tag}``                    -> the payload given to :meth:`FakeCocApi.set_clan`
* ``GET  /v1/clans/{tag}/members``            -> ``{"items": memberList, "paging": ...}``
  (``limit``/``after``/``before`` work, with the API's base64 ``{"pos":N}`` cursors)
* ``GET  /v1/clans/{tag}/capitalraidseasons`` -> :meth:`FakeCocApi.serve_raids` (live) or
  :meth:`FakeCocApi.set_raid_seasons`, newest first, paged like the member list
  (``limit``/``after``/``before``), ``max-age=60`` as recorded; any other tag, known or not
  (as currentwar), answers ``{"items": [], "paging": {"cursors": {}}}`` (a clan that never
  raided). Builders: ``tests/fakes/raids.py``
* ``GET  /v1/goldpass/seasons/current``       -> the current calendar month, for any tag
  (coc.py's ``EventsClient`` polls it in the background)
* ``GET  /v1/clans/{tag}/currentwar``         -> the war given to :meth:`FakeCocApi.set_war` (or
  :meth:`FakeCocApi.serve_war`), else the recorded ``notInWar`` body (any tag, known or not);
  403 ``{"reason": "accessDenied"}`` while :meth:`FakeCocApi.set_war_log_private` is on
* ``GET  /v1/clans/{tag}/currentwar/leaguegroup`` -> :meth:`FakeCocApi.set_league_group` (or
  :meth:`FakeCocApi.serve_league`), else 404 ``{"reason": "notFound"}``
* ``GET  /v1/clanwarleagues/wars/{warTag}``   -> :meth:`FakeCocApi.set_league_war` (or
  :meth:`FakeCocApi.serve_league`), else 404 ``{"reason": "notFound", ...}``
* ``GET  /v1/clans/{tag}/warlog``             -> ``{"items": ..., "paging": ...}`` of
  :meth:`FakeCocApi.set_war_log` (empty by default; ``limit``/``after``/``before`` as for
  members); 403 while the war log is private
* anything else                               -> 404 ``{"reason": "notFound", ...}``

The war routes answer like the recorded API (``tests/fakes/payloads/recorded``): 200s with
``Cache-Control: max-age=120`` (currentwar, warlog) or ``max-age=600`` (leaguegroup, league
wars). Their 403 ``accessDenied`` and the leaguegroup 404 are the recorded ones too: body
``{"reason": ...}`` only, ``Content-Type: application/json`` without a charset, and a
``Cache-Control`` (currentwar 403 ``max-age=120``, warlog 403 ``max-age=600``, leaguegroup 404
``public max-age=600``), so coc.py caches them like it would the real ones. A league war tag
that is not set answers the fake's usual uncached 404 (no recording shows that answer).
Builders for war bodies and scripted wars live in ``tests/fakes/wars.py``.

The player ``#JY9J2Y99`` (which ``coc.EventsClient`` polls to detect maintenance) is
pre-seeded with a generated payload; :meth:`FakeCocApi.remove_player` removes it like any
other.

Headers mirror the recorded API: ``Content-Type: application/json; charset=utf-8`` and
``Cache-Control: max-age=N`` (players 60, clans 91, members 120, raid seasons 60,
verifytoken ``public max-age=600``, war routes as above).  Other error responses (injected faults,
unknown tags and paths) carry no ``Cache-Control`` unless ``error_max_age`` is given, so
coc.py does not cache injected faults (with the header it caches errors too, for that many
seconds, keyed by URL).

Order of checks for every request: count it, sleep :meth:`set_delay`, maintenance, global
fault, authorisation (403 ``accessDenied``), the per-key limiter (``key_rate``: 429
``requestThrottled`` above that many requests of one token in a sliding second, counted in
``api.throttled``), per-tag/path fault, per-tag/path garbage, route.

Large populations need not be stored as payloads: :meth:`FakeCocApi.set_source` renders
players, clans and battle logs per request from whatever compact state a benchmark keeps.

Payloads are encoded once (orjson when installed) when they are set and served as bytes;
mutating a dict after ``set_player`` (or ``set_war`` ...) does not change what is served. The
exceptions are :meth:`FakeCocApi.serve_war`, :meth:`FakeCocApi.serve_league` and
:meth:`FakeCocApi.serve_raids`: they serve a scripted war, CWL week or raid weekends live,
rendered at each request, so a test's next poll sees its last ``attack()``.

War tags are tag keys of their own for :meth:`FakeCocApi.fail`, :meth:`FakeCocApi.count` and
the like (``api.fail("#82G0JYVGG", 500)``); a clan tag's key covers its currentwar,
leaguegroup, warlog and capitalraidseasons routes. Path keys start with ``/v1``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl, unquote

from aiohttp import web

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

    def _loads(data: bytes | str) -> Any:
        return orjson.loads(data)

except ImportError:  # pragma: no cover - orjson ships with coc.py

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()

    def _loads(data: bytes | str) -> Any:
        return json.loads(data)


__all__ = [
    "DEFAULT_REASONS",
    "MAINTENANCE_PROBE_TAG",
    "FakeCocApi",
    "LiveLeague",
    "LiveWar",
    "load_payload",
    "make_clan",
    "make_player",
    "normalise_tag",
    "set_achievement",
]

PAYLOAD_DIR: Final = Path(__file__).resolve().parent / "payloads"
JSON_CONTENT_TYPE: Final = "application/json; charset=utf-8"
#: The player coc.EventsClient polls to detect maintenance; pre-seeded by FakeCocApi.
MAINTENANCE_PROBE_TAG: Final = "#JY9J2Y99"
# Seconds between two ranked weeks' ids (currentLeagueSeasonId).
RANKED_WEEK: Final = 604_800
# Battles a battle log lists (the latest; recorded/players_battlelog_log.json).
BATTLE_LOG_SIZE: Final = 50

DEFAULT_REASONS: Final[dict[int, str]] = {
    400: "badRequest",
    403: "accessDenied",
    404: "notFound",
    429: "requestThrottled",
    500: "unknownException",
    503: "inMaintenance",
}
_MESSAGES: Final[dict[str, str]] = {
    "badRequest": "Client provided incorrect parameters for the request.",
    "accessDenied": "Invalid authorization",
    "accessDenied.invalidIp": (
        "Invalid authorization: API key does not allow access from IP 127.0.0.1"
    ),
    "notFound": "Not found",
    "requestThrottled": (
        "Request was throttled, because amount of requests was above the threshold "
        "defined for the used API token."
    ),
    "unknownException": "An unknown exception happened when handling the request.",
    "inMaintenance": "API is currently in maintenance, please come back later.",
}
GARBAGE_KINDS: Final = frozenset({"json", "truncated", "html", "empty"})


# --------------------------------------------------------------------------- payloads

_RAW_PAYLOADS: dict[str, bytes] = {}


def load_payload(name: str) -> dict[str, Any]:
    """Return ``tests/fakes/payloads/<name>.json`` as a fresh (deep) copy."""
    raw = _RAW_PAYLOADS.get(name)
    if raw is None:
        raw = (PAYLOAD_DIR / f"{name}.json").read_bytes()
        _RAW_PAYLOADS[name] = raw
    data = _loads(raw)
    if not isinstance(data, dict):  # pragma: no cover - all fixtures are objects
        raise TypeError(f"payload {name!r} is not a JSON object")
    return data


def normalise_tag(tag: str) -> str:
    """Upper-case a tag and make sure it starts with one ``#`` (``"abc"`` -> ``"#ABC"``)."""
    return "#" + tag.strip().lstrip("#").upper()


_ROLE_ALIASES: Final[dict[str, str]] = {
    "member": "member",
    "admin": "admin",
    "elder": "admin",
    "coleader": "coLeader",
    "co_leader": "coLeader",
    "co-leader": "coLeader",
    "leader": "leader",
}

# Approximate hero level caps per town hall (home village): (unlock TH, caps from it to 18).
_HERO_CAPS: Final[dict[str, tuple[int, tuple[int, ...]]]] = {
    "Barbarian King": (7, (10, 20, 30, 40, 50, 65, 75, 80, 90, 95, 100, 105)),
    "Archer Queen": (9, (30, 40, 50, 65, 75, 80, 90, 95, 100, 105)),
    "Minion Prince": (9, (10, 20, 30, 40, 50, 60, 70, 80, 90, 95)),
    "Grand Warden": (11, (20, 40, 50, 55, 65, 70, 75, 80)),
    "Royal Champion": (13, (25, 30, 40, 45, 50, 55)),
    "Dragon Duke": (18, (25,)),
}
_BUILDER_BASE_HEROES: Final = frozenset({"Battle Machine", "Battle Copter"})

_LEAGUE_TIER_BASE: Final = 105_000_000
_LEGEND_TIER: Final = 34
# The member list's legacy ``league`` object: (minimum trophies, id offset, name).
_LEGACY_LEAGUES: Final[tuple[tuple[int, int, str], ...]] = (
    (5000, 22, "Legend League"),
    (4700, 21, "Titan League I"),
    (4400, 20, "Titan League II"),
    (4100, 19, "Titan League III"),
    (3800, 18, "Champion League I"),
    (3500, 17, "Champion League II"),
    (3200, 16, "Champion League III"),
    (3000, 15, "Master League I"),
    (2800, 14, "Master League II"),
    (2600, 13, "Master League III"),
    (2400, 12, "Crystal League I"),
    (2200, 11, "Crystal League II"),
    (2000, 10, "Crystal League III"),
    (1800, 9, "Gold League I"),
    (1600, 8, "Gold League II"),
    (1400, 7, "Gold League III"),
    (1200, 6, "Silver League I"),
    (1000, 5, "Silver League II"),
    (800, 4, "Silver League III"),
    (600, 3, "Bronze League I"),
    (500, 2, "Bronze League II"),
    (400, 1, "Bronze League III"),
)
_TRAILING_NUMBER = re.compile(r"\d+$")


def _league_tier(league: str | None, template: dict[str, Any]) -> dict[str, Any]:
    name = league or "Unranked"
    match = _TRAILING_NUMBER.search(name)
    if match:
        tier = int(match.group())
    elif "legend" in name.lower():
        tier = _LEGEND_TIER
    else:
        tier = 0
    return {
        "id": _LEAGUE_TIER_BASE + tier,
        "name": name,
        "iconUrls": dict(template.get("iconUrls") or {}),
    }


def _legacy_league(trophies: int) -> dict[str, Any]:
    offset, name = 0, "Unranked"
    for minimum, league_offset, league_name in _LEGACY_LEAGUES:
        if trophies >= minimum:
            offset, name = league_offset, league_name
            break
    base = "https://api-assets.clashofclans.com/leagues"
    icon = "e--YMyIexEQQhE4imLoJcwhYn6Uy8KqlgyY3_kFV6t4.png"
    return {
        "id": 29_000_000 + offset,
        "name": name,
        "iconUrls": {"small": f"{base}/72/{icon}", "tiny": f"{base}/36/{icon}"},
    }


def set_achievement(payload: dict[str, Any], name: str, value: int) -> None:
    """Set an achievement's ``value`` (and the number in its ``completionInfo``) in place."""
    for achievement in payload.get("achievements", []):
        if achievement.get("name") == name:
            _set_value(achievement, value)


def _set_value(achievement: dict[str, Any], value: int) -> None:
    achievement["value"] = value
    info = achievement.get("completionInfo")
    if isinstance(info, str) and info[-1:].isdigit():
        achievement["completionInfo"] = _TRAILING_NUMBER.sub(str(value), info)
    if value < achievement.get("target", 0) and achievement.get("stars", 0) == 3:
        achievement["stars"] = 2


def _heroes_for(
    template: list[dict[str, Any]], town_hall: int, heroes: dict[str, int] | None
) -> list[dict[str, Any]]:
    by_name = {hero["name"]: hero for hero in template}
    result: list[dict[str, Any]] = []
    if heroes is not None:
        for hero_name, level in heroes.items():
            hero = by_name.get(hero_name)
            if hero is None:
                village = "builderBase" if hero_name in _BUILDER_BASE_HEROES else "home"
                hero = {"name": hero_name, "level": level, "maxLevel": level, "village": village}
            else:
                hero["level"] = level
            result.append(hero)
        return result
    for hero in template:
        caps = _HERO_CAPS.get(hero["name"])
        if caps is not None:
            unlock, levels = caps
            if town_hall < unlock:
                continue
            cap = levels[min(town_hall, 18) - unlock]
            hero["level"] = min(hero["level"], cap)
        result.append(hero)
    return result


def make_player(
    tag: str,
    *,
    name: str = "Player",
    town_hall: int = 12,
    trophies: int = 3000,
    best_trophies: int | None = None,
    exp_level: int = 150,
    donations: int = 0,
    received: int = 0,
    attack_wins: int = 0,
    defense_wins: int = 0,
    war_stars: int = 0,
    builder_trophies: int = 2000,
    clan: tuple[str, str] | None = None,
    role: str = "member",
    heroes: dict[str, int] | None = None,
    capital_contributions: int = 0,
    league: str | None = None,
    clan_games: int | None = None,
    capital_looted: int | None = None,
    league_season: int | None = None,
) -> dict[str, Any]:
    """A full, realistic ``GET /players/{tag}`` payload built from ``player_th18.json``.

    Troops, spells, hero equipment, labels, player house and achievements are kept from
    the template (so coc.py parses a full model). Overridden: the arguments, plus

    * ``bestTrophies`` = ``best_trophies`` or ``max(trophies, 0)``;
      ``bestBuilderBaseTrophies`` = ``builder_trophies``;
    * ``leagueTier``: ``league`` is a tier name such as ``"Electro League 33"`` (id
      105000000 + the trailing number), ``"Legend League"`` (id 105000034) or ``None``
      for ``"Unranked"`` (id 105000000);
    * ``legendStatistics`` kept only for a Legend league or a best of 5000+ trophies;
    * ``clan=None``: no ``clan`` and no ``role`` key (a clanless player); otherwise
      ``clan`` is ``{tag, name, clanLevel, badgeUrls}`` and ``role`` is the API spelling
      (``member``, ``admin``, ``coLeader``, ``leader``; ``elder`` and ``co_leader`` are
      accepted as aliases);
    * ``heroes=None``: the template heroes unlocked at ``town_hall``, levels clamped to an
      approximate per-TH cap; a dict gives exactly those heroes (name -> level);
    * achievements "Bigger & Better" (TH), "Sweet Victory!" (best trophies), "War Hero"
      (war stars), "Champion Builder", "Most Valuable Clanmate" (capital contributions)
      mirror the stats; "Conqueror", "Unbreakable", "Friend in Need" are raised to at
      least attack wins, defense wins, donations; ``clan_games`` and ``capital_looted``
      (when given) set "Games Champion" and "Aggressive Capitalism". Use
      :func:`set_achievement` for more;
    * ``league_season``: ``currentLeagueSeasonId`` (and the previous week's id), else the
      template's (1773032400).
    """
    payload = load_payload("player_th18")
    tag = normalise_tag(tag)
    best = best_trophies if best_trophies is not None else max(trophies, 0)
    payload["tag"] = tag
    payload["name"] = name
    payload["townHallLevel"] = town_hall
    payload["expLevel"] = exp_level
    payload["trophies"] = trophies
    payload["bestTrophies"] = best
    payload["warStars"] = war_stars
    payload["attackWins"] = attack_wins
    payload["defenseWins"] = defense_wins
    payload["builderBaseTrophies"] = builder_trophies
    payload["bestBuilderBaseTrophies"] = builder_trophies
    payload["donations"] = donations
    payload["donationsReceived"] = received
    payload["clanCapitalContributions"] = capital_contributions
    if clan is None:
        payload.pop("clan", None)
        payload.pop("role", None)
    else:
        clan_tag, clan_name = clan
        template_clan = payload.get("clan") or {}
        payload["clan"] = {
            "tag": normalise_tag(clan_tag),
            "name": clan_name,
            "clanLevel": template_clan.get("clanLevel", 10),
            "badgeUrls": template_clan.get("badgeUrls", {}),
        }
        payload["role"] = _ROLE_ALIASES.get(role.lower(), role)
    payload["leagueTier"] = _league_tier(league, payload.get("leagueTier") or {})
    if league_season is not None:
        payload["currentLeagueSeasonId"] = league_season
        payload["previousLeagueSeasonId"] = league_season - RANKED_WEEK
    if not ((league and "legend" in league.lower()) or best >= 5000):
        payload.pop("legendStatistics", None)
    payload["heroes"] = _heroes_for(payload.get("heroes", []), town_hall, heroes)

    achievements = {a["name"]: a for a in payload.get("achievements", [])}
    for achievement_name, stat, at_least in (
        ("Bigger & Better", town_hall, False),
        ("Sweet Victory!", best, False),
        ("War Hero", war_stars, False),
        ("Champion Builder", builder_trophies, False),
        ("Most Valuable Clanmate", capital_contributions, False),
        ("Conqueror", attack_wins, True),
        ("Unbreakable", defense_wins, True),
        ("Friend in Need", donations, True),
    ):
        achievement = achievements.get(achievement_name)
        if achievement is not None and not (at_least and achievement["value"] >= stat):
            _set_value(achievement, stat)
    for achievement_name, value in (
        ("Games Champion", clan_games),
        ("Aggressive Capitalism", capital_looted),
    ):
        if value is not None:
            set_achievement(payload, achievement_name, value)
    return payload


# Clan points: share of each member's trophies by clan rank (ranks 1-10, 11-20, ...).
_POINT_SHARES: Final = (0.5, 0.25, 0.12, 0.10, 0.03)


def _clan_points(values: list[int]) -> int:
    ordered = sorted(values, reverse=True)
    return int(sum(value * _POINT_SHARES[index // 10] for index, value in enumerate(ordered[:50])))


def make_clan(tag: str, members: list[dict[str, Any]], *, name: str = "Clan") -> dict[str, Any]:
    """A full ``GET /clans/{tag}`` payload from ``clan.json`` whose ``memberList`` is built
    from player payloads (e.g. :func:`make_player` output; the inputs are not modified).

    Members are ranked like the game does now: by league tier, then trophies (``clanRank``;
    ``previousClanRank`` is the same). Each entry also carries the legacy ``league`` object
    derived from trophies, as the real member list does. ``members``, ``clanPoints`` and
    ``clanBuilderBasePoints`` follow the list. Use the same list for ``/members``.
    """
    payload = load_payload("clan")
    entries: list[dict[str, Any]] = []
    for player in members:
        league_tier = player.get("leagueTier") or _league_tier(None, {})
        entry: dict[str, Any] = {
            "tag": normalise_tag(player["tag"]),
            "name": player.get("name", "Player"),
            "role": player.get("role", "member"),
            "townHallLevel": player.get("townHallLevel", 1),
            "expLevel": player.get("expLevel", 1),
            "league": _legacy_league(player.get("trophies", 0)),
            "leagueTier": _loads(_dumps(league_tier)),
            "trophies": player.get("trophies", 0),
            "builderBaseTrophies": player.get("builderBaseTrophies", 0),
            "clanRank": 0,
            "previousClanRank": 0,
            "donations": player.get("donations", 0),
            "donationsReceived": player.get("donationsReceived", 0),
        }
        if "playerHouse" in player:
            entry["playerHouse"] = _loads(_dumps(player["playerHouse"]))
        if "builderBaseLeague" in player:
            entry["builderBaseLeague"] = dict(player["builderBaseLeague"])
        entries.append(entry)
    entries.sort(key=lambda e: (e["leagueTier"].get("id", 0), e["trophies"]), reverse=True)
    for rank, entry in enumerate(entries, start=1):
        entry["clanRank"] = rank
        entry["previousClanRank"] = rank
    payload["tag"] = normalise_tag(tag)
    payload["name"] = name
    payload["members"] = len(entries)
    payload["memberList"] = entries
    payload["clanPoints"] = _clan_points([e["trophies"] for e in entries])
    payload["clanBuilderBasePoints"] = _clan_points([e["builderBaseTrophies"] for e in entries])
    return payload


# --------------------------------------------------------------------------- the server


def _cursor(pos: int) -> str:
    return base64.b64encode(_dumps({"pos": pos})).decode().rstrip("=")


def _cursor_pos(cursor: str) -> int:
    padded = cursor + "=" * (-len(cursor) % 4)
    data = _loads(base64.b64decode(padded))
    return int(data["pos"])


class _Fault:
    __slots__ = ("body", "remaining", "status")

    def __init__(self, status: int, body: bytes, remaining: int | None) -> None:
        self.status = status
        self.body = body
        self.remaining = remaining


class _Clan:
    __slots__ = ("body", "items", "members_body")

    def __init__(self, payload: dict[str, Any]) -> None:
        self.body = _dumps(payload)
        self.items: list[dict[str, Any]] = list(payload.get("memberList") or [])
        self.members_body = _dumps({"items": self.items, "paging": {"cursors": {}}})


_HTML_BODY: Final = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
_Route = tuple[str, str | None]  # (kind, tag)
# Where the tag is in a split path: "", "v1", "players", "#TAG" / "", "v1",
# "clanwarleagues", "wars", "#WARTAG".
_TAG_SEGMENT: Final = 3
_LEAGUE_WAR_TAG_SEGMENT: Final = 4


def _route(path: str) -> _Route:
    """Classify a decoded path: ``("player", "#TAG")``, ``("members", "#TAG")``, ..."""
    if not path.startswith("/v1/"):
        return "unknown", None
    parts = path[4:].split("/")
    count = len(parts)
    head = parts[0]
    if head == "players" and count >= 2 and parts[1]:
        if count == 2:
            return "player", normalise_tag(parts[1])
        if count == 3 and parts[2] == "verifytoken":
            return "verifytoken", normalise_tag(parts[1])
        if count == 3 and parts[2] in ("battlelog", "leaguehistory"):
            return parts[2], normalise_tag(parts[1])
        return "unknown", normalise_tag(parts[1])
    if head == "clans" and count >= 2 and parts[1]:
        if count == 2:
            return "clan", normalise_tag(parts[1])
        if count == 3 and parts[2] in ("members", "capitalraidseasons", "currentwar", "warlog"):
            return parts[2], normalise_tag(parts[1])
        if count == 4 and parts[2] == "currentwar" and parts[3] == "leaguegroup":
            return "leaguegroup", normalise_tag(parts[1])
        return "unknown", normalise_tag(parts[1])
    # A war tag sits one segment deeper than a player's or a clan's tag: see _TAG_SEGMENT.
    if head == "clanwarleagues" and count == 3 and parts[1] == "wars" and parts[2]:
        return "leaguewar", normalise_tag(parts[2])
    if path == "/v1/goldpass/seasons/current":
        return "goldpass", None
    if path == "/v1/leaguetiers":
        return "leaguetiers", None
    return "unknown", None


def _with_tag(path: str, tag: str) -> str:
    """``path`` with its tag segment spelt as ``tag`` (the normalised one)."""
    parts = path.split("/")
    index = _LEAGUE_WAR_TAG_SEGMENT if parts[2] == "clanwarleagues" else _TAG_SEGMENT
    if parts[index] != tag:
        parts[index] = tag
        path = "/".join(parts)
    return path


def _canonical(path: str) -> tuple[str, str | None]:
    """Decode a path and upper-case/``#``-prefix the tag in it; return (path, tag)."""
    if "%" in path:
        path = unquote(path)
    tag = _route(path)[1]
    if tag is None:
        return path, None
    return _with_tag(path, tag), tag


_WAR_KINDS: Final = frozenset({"currentwar", "leaguegroup", "leaguewar", "warlog"})
# The recorded API's own 403 and 404 war answers: a reason and no message.
_ACCESS_DENIED: Final = _dumps({"reason": "accessDenied"})
_NOT_FOUND: Final = _dumps({"reason": "notFound"})
# Content-Type of those recorded error answers: no charset, unlike every 200.
_PLAIN_JSON: Final = "application/json"


class LiveWar(Protocol):
    """What :meth:`FakeCocApi.serve_war` needs of a war (``tests/fakes/wars.ScriptedWar``)."""

    @property
    def clan_tag(self) -> str: ...

    @property
    def opponent_tag(self) -> str: ...

    def body(self, for_clan: str | None = None) -> dict[str, Any]: ...


class LiveLeague(Protocol):
    """What :meth:`FakeCocApi.serve_league` needs of a CWL week (``wars.CwlWeek``)."""

    @property
    def clan_tags(self) -> Sequence[str]: ...

    @property
    def war_tags(self) -> Sequence[str]: ...

    def group_body(self) -> dict[str, Any] | None: ...

    def war_body(self, war_tag: str) -> dict[str, Any] | None: ...


# Served bytes, or a live source rendered at each request (None from it: "not set").
_Source = bytes | Callable[[], dict[str, Any] | None]


def _render(source: _Source | None) -> bytes | None:
    if source is None or isinstance(source, bytes):
        return source
    body = source()
    return None if body is None else _dumps(body)


def _live_war(war: LiveWar, clan_tag: str | None) -> Callable[[], dict[str, Any]]:
    return lambda: war.body(for_clan=clan_tag)


def _live_league_war(league: LiveLeague, war_tag: str) -> Callable[[], dict[str, Any] | None]:
    return lambda: league.war_body(war_tag)


def _clear(table: dict[str, Any], key: str) -> None:
    """Drop ``key``; if it is a tag, also drop every path key of that tag."""
    table.pop(key, None)
    if not key.startswith("/"):
        for other in [k for k in table if k.startswith("/") and _canonical(k)[1] == key]:
            del table[other]


class FakeCocApi:
    """The fake API server. See the module docstring for routes and behaviour."""

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("test-token",),
        player_max_age: int = 60,
        clan_max_age: int = 91,
        members_max_age: int = 120,
        error_max_age: int | None = None,
        seed_maintenance_probe: bool = True,
        war_max_age: int = 120,
        league_max_age: int = 600,
        war_log_max_age: int = 120,
        war_log_private_max_age: int = 600,
        raid_max_age: int = 60,
        battle_log_max_age: int = 60,
        league_history_max_age: int = 300,
        key_rate: float | None = None,
    ) -> None:
        """The ``*_max_age`` values are the recorded API's; ``war_max_age`` covers currentwar's
        200 and 403, ``league_max_age`` leaguegroup's 200 and 404 and league wars' 200. A test
        that polls wars faster than that can pass 0 so coc.py does not answer from its cache.

        ``key_rate``: requests a second each token may make (a sliding one-second window of
        its answered requests); above it the answer is 429 ``requestThrottled``, counted per
        token in :attr:`throttled`. ``None``: no limit."""
        self._auth = frozenset(f"Bearer {token}" for token in tokens)
        self._key_rate = key_rate
        self._key_windows: dict[str, deque[float]] = {}
        #: 429s answered by the per-key limiter, by token.
        self.throttled: dict[str, int] = {}
        # Payload sources consulted for a tag nothing was set for (see set_source).
        self._sources: dict[str, Callable[[str], Any]] = {}
        self._player_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={player_max_age}",
        }
        self._clan_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={clan_max_age}",
        }
        self._members_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={members_max_age}",
        }
        self._verify_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": "public max-age=600",
        }
        self._error_headers: dict[str, str] = {"Content-Type": JSON_CONTENT_TYPE}
        if error_max_age is not None:
            self._error_headers["Cache-Control"] = f"max-age={error_max_age}"
        self._war_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={war_max_age}",
        }
        self._league_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={league_max_age}",
        }
        self._war_log_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={war_log_max_age}",
        }
        self._war_403_headers = {
            "Content-Type": _PLAIN_JSON,
            "Cache-Control": f"max-age={war_max_age}",
        }
        self._war_log_403_headers = {
            "Content-Type": _PLAIN_JSON,
            "Cache-Control": f"max-age={war_log_private_max_age}",
        }
        self._league_404_headers = {
            "Content-Type": _PLAIN_JSON,
            "Cache-Control": f"public max-age={league_max_age}",
        }
        self._raid_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={raid_max_age}",
        }
        self._battle_log_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={battle_log_max_age}",
        }
        self._league_history_headers = {
            "Content-Type": JSON_CONTENT_TYPE,
            "Cache-Control": f"max-age={league_history_max_age}",
        }
        self._league_tiers = load_payload("recorded/leagues_listleaguetiers")
        # A player's battles newest first (raw items, or a live source) and past weeks.
        self._battle_logs: dict[str, list[dict[str, Any]] | Callable[[], list[Any]]] = {}
        self._league_histories: dict[str, list[dict[str, Any]]] = {}
        # A clan's weekends newest first: raw items, or a live source rendered per request.
        self._raids: dict[str, list[dict[str, Any]] | Callable[[], list[dict[str, Any]]]] = {}
        self._not_in_war = _dumps(load_payload("recorded/clans_currentwar_notinwar")["body"])
        self._wars: dict[str, _Source] = {}
        self._private_war_logs: set[str] = set()
        self._league_groups: dict[str, _Source] = {}
        self._league_wars: dict[str, _Source] = {}
        self._war_logs: dict[str, list[Any]] = {}
        self._players: dict[str, bytes] = {}
        self._clans: dict[str, _Clan] = {}
        self._valid_tokens: dict[str, str] = {}
        self._faults: dict[str, _Fault] = {}
        self._garbage: dict[str, str] = {}
        self._global_fault: _Fault | None = None
        self._maintenance = False
        self._delay = 0.0
        self._error_bodies: dict[tuple[int, str], bytes] = {}
        self.requests: list[tuple[str, str]] = []
        # (method, decoded path, status) of every request answered, in answer order.
        self.answered: list[tuple[str, str, int]] = []
        self._by_path: dict[str, int] = {}
        self._by_tag: dict[str, int] = {}
        self._runner: web.ServerRunner | None = None
        self.port: int = 0
        self.base_url: str = ""
        if seed_maintenance_probe:
            self.set_player(make_player(MAINTENANCE_PROBE_TAG, name="Maintenance Probe"))

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port; sets :attr:`port` and :attr:`base_url`."""
        if self._runner is not None:
            return
        server = web.Server(self._answer, access_log=None)
        runner = web.ServerRunner(server, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeCocApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- data

    def set_player(self, payload: dict[str, Any]) -> None:
        """Serve ``payload`` (encoded now) at ``/players/{payload["tag"]}``."""
        self._players[normalise_tag(payload["tag"])] = _dumps(payload)

    def bulk_set_players(self, payloads: Iterable[dict[str, Any]]) -> None:
        players = self._players
        for payload in payloads:
            players[normalise_tag(payload["tag"])] = _dumps(payload)

    def set_source(self, kind: str, source: Callable[[str], Any] | None) -> None:
        """Render payloads per request for tags nothing was set for (large populations
        without a stored payload each): ``kind`` ``"player"`` (``source(tag)`` gives the
        profile, a dict or encoded bytes, or None for 404), ``"clan"`` (the clan payload
        with its ``memberList``, or None) or ``"battlelog"`` (the items, newest first, or
        None for none). A payload set with :meth:`set_player` and the like wins.
        ``None`` removes the source."""
        if kind not in ("player", "clan", "battlelog"):
            raise ValueError(f"unknown source kind {kind!r}")
        if source is None:
            self._sources.pop(kind, None)
        else:
            self._sources[kind] = source

    def remove_player(self, tag: str) -> None:
        """Afterwards the player (and its verify route) answers 404 notFound."""
        tag = normalise_tag(tag)
        self._players.pop(tag, None)
        self._valid_tokens.pop(tag, None)

    def player(self, tag: str) -> dict[str, Any] | None:
        """The payload currently served for ``tag`` (decoded copy), or None."""
        body = self._players.get(normalise_tag(tag))
        return None if body is None else _loads(body)

    def set_clan(self, payload: dict[str, Any]) -> None:
        """Serve ``payload`` at ``/clans/{tag}`` and its ``memberList`` at ``.../members``."""
        self._clans[normalise_tag(payload["tag"])] = _Clan(payload)

    def remove_clan(self, tag: str) -> None:
        self._clans.pop(normalise_tag(tag), None)

    def set_token_valid(self, tag: str, token: str) -> None:
        """``POST /players/{tag}/verifytoken`` with this token answers ``"ok"``, any other
        token ``"invalid"``. A tag is known to the verify route if a player payload or a
        valid token is set for it; an unknown tag answers 404."""
        self._valid_tokens[normalise_tag(tag)] = token

    # ----------------------------------------------------------------- wars

    def set_war(self, clan_tag: str, body: dict[str, Any] | None) -> None:
        """Serve ``body`` (encoded now) at ``/clans/{clan_tag}/currentwar``; ``None``: back to
        the recorded ``notInWar`` body. Only this clan's route: see :meth:`serve_war`."""
        tag = normalise_tag(clan_tag)
        if body is None:
            self._wars.pop(tag, None)
        else:
            self._wars[tag] = _dumps(body)

    def serve_war(self, war: LiveWar) -> None:
        """Serve a scripted war live at both clans' currentwar, each clan seeing itself as
        ``clan`` (the API swaps the sides). ``set_war(tag, None)`` stops it for a clan."""
        for tag in (normalise_tag(war.clan_tag), normalise_tag(war.opponent_tag)):
            self._wars[tag] = _live_war(war, tag)

    def set_war_log_private(self, clan_tag: str, private: bool) -> None:
        """While private, the clan's currentwar and warlog answer the recorded 403
        ``accessDenied`` (coc.py raises :class:`coc.PrivateWarLog`); its CWL group and wars
        stay public, as in the game."""
        tag = normalise_tag(clan_tag)
        if private:
            self._private_war_logs.add(tag)
        else:
            self._private_war_logs.discard(tag)

    def set_league_group(self, clan_tag: str, body: dict[str, Any] | None) -> None:
        """Serve ``body`` at ``/clans/{clan_tag}/currentwar/leaguegroup``; ``None``: 404."""
        tag = normalise_tag(clan_tag)
        if body is None:
            self._league_groups.pop(tag, None)
        else:
            self._league_groups[tag] = _dumps(body)

    def set_league_war(self, war_tag: str, body: dict[str, Any] | None) -> None:
        """Serve ``body`` at ``/clanwarleagues/wars/{war_tag}``; ``None``: 404."""
        tag = normalise_tag(war_tag)
        if body is None:
            self._league_wars.pop(tag, None)
        else:
            self._league_wars[tag] = _dumps(body)

    def serve_league_war(self, war_tag: str, war: LiveWar) -> None:
        """Serve one scripted CWL round war live at its war tag (the API's own side order)."""
        self._league_wars[normalise_tag(war_tag)] = _live_war(war, None)

    def serve_league(self, league: LiveLeague) -> None:
        """Serve a scripted CWL week live: its group at every member clan's leaguegroup and
        each round's wars at their war tags (404 until the round is drawn, as the API)."""
        for tag in league.clan_tags:
            self._league_groups[normalise_tag(tag)] = league.group_body
        for war_tag in league.war_tags:
            self._league_wars[normalise_tag(war_tag)] = _live_league_war(league, war_tag)

    def serve_raids(self, clan_tag: str, weekends: Iterable[Any]) -> None:
        """Serve weekends (``tests/fakes/raids.RaidWeekend``: ``start`` and ``body()``) live at
        ``/clans/{tag}/capitalraidseasons``, sorted newest first at each request. A list
        (``raids.RaidSeasons``) is read at each request too: a weekend appended later shows."""
        source = weekends if isinstance(weekends, list) else list(weekends)
        self._raids[normalise_tag(clan_tag)] = lambda: [
            w.body() for w in sorted(source, key=lambda w: w.start, reverse=True)
        ]

    def set_raid_seasons(self, clan_tag: str, items: Iterable[dict[str, Any]] | None) -> None:
        """Serve raw raid season ``items`` (newest first; copied now); None: none."""
        if items is None:
            self._raids.pop(normalise_tag(clan_tag), None)
        else:
            self._raids[normalise_tag(clan_tag)] = _loads(_dumps(list(items)))

    def serve_battle_log(self, tag: str, log: Any) -> None:
        """Serve a live battle log (``tests/fakes/battles.BattleLog``: ``items()``, newest
        first) at ``/players/{tag}/battlelog``: battles played later show at the next read.
        The route answers the latest 50, as the API; an unknown player answers 404."""
        self._battle_logs[normalise_tag(tag)] = log.items

    def set_battle_log(self, tag: str, items: Iterable[dict[str, Any]]) -> None:
        """Serve raw battle log ``items`` (newest first; copied now)."""
        self._battle_logs[normalise_tag(tag)] = _loads(_dumps(list(items)))

    def set_league_history(self, tag: str, items: Iterable[dict[str, Any]]) -> None:
        """Serve ``items`` (past weeks, oldest first as recorded; copied now) at
        ``/players/{tag}/leaguehistory``."""
        self._league_histories[normalise_tag(tag)] = _loads(_dumps(list(items)))

    def set_war_log(self, clan_tag: str, items: Iterable[dict[str, Any]]) -> None:
        """Serve ``items`` (newest first, as the API; copied now) at ``/clans/{tag}/warlog``."""
        self._war_logs[normalise_tag(clan_tag)] = _loads(_dumps(list(items)))

    # ----------------------------------------------------------------- faults

    def _key(self, tag_or_path: str) -> str:
        if tag_or_path.startswith("/"):
            return _canonical(tag_or_path)[0]
        return normalise_tag(tag_or_path)

    def _error_body(self, status: int, reason: str | None) -> bytes:
        reason = reason or DEFAULT_REASONS.get(status, "unknownException")
        body = self._error_bodies.get((status, reason))
        if body is None:
            message = _MESSAGES.get(reason, reason)
            body = _dumps({"reason": reason, "message": message})
            self._error_bodies[(status, reason)] = body
        return body

    def fail(
        self,
        tag_or_path: str,
        status: int | None,
        reason: str | None = None,
        *,
        times: int | None = None,
    ) -> None:
        """Answer requests for a tag (player, verifytoken, clan, members... of that tag) or an
        exact path (``"/v1/players/#ABC"``; ``%23`` accepted) with ``status`` and the standard
        error body (``reason`` defaults per :data:`DEFAULT_REASONS`, else
        ``unknownException``). ``times=N``: only the next N matching requests. An exact path
        wins over its tag. ``status=None`` clears (for a tag: also every path of that tag)."""
        key = self._key(tag_or_path)
        if status is None or (times is not None and times <= 0):
            _clear(self._faults, key)
            return
        self._faults[key] = _Fault(status, self._error_body(status, reason), times)

    def set_maintenance(self, on: bool) -> None:
        """Every route answers 503 ``inMaintenance`` while on."""
        self._maintenance = on

    def set_global_fault(
        self, status: int | None, *, times: int | None = None, reason: str | None = None
    ) -> None:
        """Every route answers ``status`` (optionally for the next ``times`` requests)."""
        if status is None or (times is not None and times <= 0):
            self._global_fault = None
        else:
            self._global_fault = _Fault(status, self._error_body(status, reason), times)

    def set_delay(self, seconds: float) -> None:
        """Sleep this long before answering any request (0 turns it off)."""
        self._delay = max(0.0, float(seconds))

    def set_garbage(self, tag_or_path: str, kind: str | None) -> None:
        """Answer requests for a tag or exact path with a broken 200 (``None`` clears):

        * ``"json"``: JSON content type and Cache-Control, body is not valid JSON;
        * ``"truncated"``: ``Content-Length`` of the full payload, only the first half of the
          bytes sent, then the connection is closed (the client sees a short body);
        * ``"html"``: ``text/html`` body, no Cache-Control (like a proxy's error page);
        * ``"empty"``: JSON content type and Cache-Control, empty body.

        ``None`` given a tag also clears every path of that tag.
        """
        key = self._key(tag_or_path)
        if kind is None:
            _clear(self._garbage, key)
            return
        if kind not in GARBAGE_KINDS:
            raise ValueError(f"unknown garbage kind {kind!r}; pick one of {sorted(GARBAGE_KINDS)}")
        self._garbage[key] = kind

    # ----------------------------------------------------------------- counting

    def count(self, tag_or_path: str | None = None) -> int:
        """Requests received (since :meth:`reset_counts`): all, for an exact path, or for a tag
        (any route of that tag: player, verifytoken, clan, members, ...)."""
        if tag_or_path is None:
            return len(self.requests)
        if tag_or_path.startswith("/"):
            return self._by_path.get(_canonical(tag_or_path)[0], 0)
        return self._by_tag.get(normalise_tag(tag_or_path), 0)

    def reset_counts(self) -> None:
        self.requests.clear()
        self.answered.clear()
        self._by_path.clear()
        self._by_tag.clear()

    # ----------------------------------------------------------------- handler

    def _error(self, status: int, body: bytes) -> web.Response:
        return web.Response(status=status, body=body, headers=self._error_headers)

    def _not_found(self) -> web.Response:
        return self._error(404, self._error_body(404, None))

    @staticmethod
    def _take(faults: dict[str, _Fault], key: str) -> _Fault | None:
        fault = faults.get(key)
        if fault is not None and fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                del faults[key]
        return fault

    async def _answer(self, request: web.BaseRequest) -> web.StreamResponse:
        response = await self._handle(request)
        path = unquote(request.raw_path.split("?", 1)[0])
        self.answered.append((request.method, path, response.status))
        return response

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raw = request.raw_path
        query_at = raw.find("?")
        if query_at >= 0:
            path, query = raw[:query_at], raw[query_at + 1 :]
        else:
            path, query = raw, ""
        if "%" in path:
            path = unquote(path)
        kind, tag = _route(path)
        if tag is not None:
            path = _with_tag(path, tag)
            self._by_tag[tag] = self._by_tag.get(tag, 0) + 1
        method = request.method
        self.requests.append((method, path))
        self._by_path[path] = self._by_path.get(path, 0) + 1

        if self._delay:
            await asyncio.sleep(self._delay)
        if self._maintenance:
            return self._error(503, self._error_body(503, None))
        if self._global_fault is not None:
            everywhere = self._global_fault
            if everywhere.remaining is not None:
                everywhere.remaining -= 1
                if everywhere.remaining <= 0:
                    self._global_fault = None
            return self._error(everywhere.status, everywhere.body)
        authorization = request.headers.get("Authorization")
        if authorization not in self._auth:
            return self._error(403, self._error_body(403, None))
        if self._key_rate is not None and self._over_rate(authorization):
            return self._error(429, self._error_body(429, None))
        if self._faults:
            fault = self._take(self._faults, path)
            if fault is None and tag is not None:
                fault = self._take(self._faults, tag)
            if fault is not None:
                return self._error(fault.status, fault.body)
        if self._garbage:
            garbage = self._garbage.get(path)
            if garbage is None and tag is not None:
                garbage = self._garbage.get(tag)
            if garbage is not None:
                return await self._garbage_response(request, garbage, kind, tag)

        if kind == "player":
            if method != "GET":
                return self._not_found()
            body = self._players.get(tag or "")
            if body is None:
                body = self._from_source("player", tag)
            if body is None:
                return self._not_found()
            return web.Response(body=body, headers=self._player_headers)
        if kind == "clan" or kind == "members":
            clan = self._clan(tag or "") if method == "GET" else None
            if clan is None:
                return self._not_found()
            if kind == "clan":
                return web.Response(body=clan.body, headers=self._clan_headers)
            if query:
                return self._members_page(clan, query)
            return web.Response(body=clan.members_body, headers=self._members_headers)
        if kind == "verifytoken" and method == "POST":
            return await self._verify(request, tag or "")
        if kind == "capitalraidseasons" and method == "GET" and tag is not None:
            raids = self._raids.get(tag, [])
            return self._page(raids() if callable(raids) else raids, query, self._raid_headers)
        if kind in ("battlelog", "leaguehistory") and method == "GET" and tag is not None:
            return self._player_log_route(kind, tag)
        if kind == "leaguetiers" and method == "GET":
            return web.Response(
                body=_dumps(self._league_tiers["body"]),
                headers={
                    "Content-Type": JSON_CONTENT_TYPE,
                    "Cache-Control": self._league_tiers["headers"]["cache-control"],
                },
            )
        if kind == "goldpass" and method == "GET":
            return web.Response(body=_goldpass(), headers=self._player_headers)
        if kind in _WAR_KINDS and method == "GET" and tag is not None:
            return self._war_route(kind, tag, query)
        return self._not_found()

    def _over_rate(self, authorization: str) -> bool:
        """Whether this request is one too many for its key in the last second."""
        now = time.monotonic()
        window = self._key_windows.get(authorization)
        if window is None:
            window = self._key_windows[authorization] = deque()
        while window and window[0] <= now - 1.0:
            window.popleft()
        assert self._key_rate is not None
        if len(window) >= self._key_rate:
            token = authorization.removeprefix("Bearer ")
            self.throttled[token] = self.throttled.get(token, 0) + 1
            return True
        window.append(now)
        return False

    def _from_source(self, kind: str, tag: str | None) -> bytes | None:
        source = self._sources.get(kind)
        if source is None or tag is None:
            return None
        body = source(tag)
        if body is None or isinstance(body, bytes):
            return body
        return _dumps(body)

    def _clan(self, tag: str) -> _Clan | None:
        clan = self._clans.get(tag)
        if clan is None and "clan" in self._sources:
            payload = self._sources["clan"](tag)
            clan = None if payload is None else _Clan(payload)
        return clan

    def _player_log_route(self, kind: str, tag: str) -> web.Response:
        if tag not in self._players and self._from_source("player", tag) is None:
            return self._not_found()
        if kind == "battlelog":
            source = self._battle_logs.get(tag)
            if source is None:
                source = self._sources.get("battlelog", _no_battles)
                items = source(tag) or []
                return web.Response(
                    body=_dumps({"items": items[:BATTLE_LOG_SIZE]}),
                    headers=self._battle_log_headers,
                )
            items = source() if callable(source) else source
            # The API lists the latest 50 battles only.
            return web.Response(
                body=_dumps({"items": items[:BATTLE_LOG_SIZE]}), headers=self._battle_log_headers
            )
        items = self._league_histories.get(tag, [])
        return web.Response(body=_dumps({"items": items}), headers=self._league_history_headers)

    def _war_route(self, kind: str, tag: str, query: str) -> web.Response:
        if kind == "currentwar":
            if tag in self._private_war_logs:
                return web.Response(status=403, body=_ACCESS_DENIED, headers=self._war_403_headers)
            body = _render(self._wars.get(tag)) or self._not_in_war
            return web.Response(body=body, headers=self._war_headers)
        if kind == "leaguegroup":
            body = _render(self._league_groups.get(tag))
            if body is None:
                return web.Response(status=404, body=_NOT_FOUND, headers=self._league_404_headers)
            return web.Response(body=body, headers=self._league_headers)
        if kind == "leaguewar":
            body = _render(self._league_wars.get(tag))
            if body is None:
                return self._not_found()
            return web.Response(body=body, headers=self._league_headers)
        # warlog
        if tag in self._private_war_logs:
            return web.Response(status=403, body=_ACCESS_DENIED, headers=self._war_log_403_headers)
        items = self._war_logs.get(tag, [])
        return self._page(items, query, self._war_log_headers)

    def _members_page(self, clan: _Clan, query: str) -> web.Response:
        return self._page(clan.items, query, self._members_headers)

    def _page(self, items: list[Any], query: str, headers: dict[str, str]) -> web.Response:
        """``{"items", "paging"}`` of ``items``; ``limit``/``after``/``before`` as the API."""
        if not query:
            return web.Response(
                body=_dumps({"items": items, "paging": {"cursors": {}}}), headers=headers
            )
        params = dict(parse_qsl(query))
        try:
            limit = int(params.get("limit") or 0)
            start, end = 0, len(items)
            if params.get("after"):
                start = _cursor_pos(params["after"])
            if params.get("before"):
                end = _cursor_pos(params["before"])
                if limit:
                    start = max(0, end - limit)
            elif limit:
                end = min(len(items), start + limit)
        except (ValueError, KeyError, TypeError):
            return self._error(400, self._error_body(400, None))
        if limit < 0 or start < 0 or end < start:
            return self._error(400, self._error_body(400, None))
        cursors: dict[str, str] = {}
        if start > 0:
            cursors["before"] = _cursor(start)
        if end < len(items):
            cursors["after"] = _cursor(end)
        body = _dumps({"items": items[start:end], "paging": {"cursors": cursors}})
        return web.Response(body=body, headers=headers)

    async def _verify(self, request: web.BaseRequest, tag: str) -> web.Response:
        try:
            data = _loads(await request.read())
            token = data["token"]
            if not isinstance(token, str):
                raise TypeError(token)
        except (ValueError, KeyError, TypeError):
            return self._error(400, self._error_body(400, None))
        if tag not in self._players and tag not in self._valid_tokens:
            return self._not_found()
        status = "ok" if self._valid_tokens.get(tag) == token else "invalid"
        body = _dumps({"tag": tag, "token": token, "status": status})
        return web.Response(body=body, headers=self._verify_headers)

    async def _garbage_response(
        self, request: web.BaseRequest, garbage: str, kind: str, tag: str | None
    ) -> web.StreamResponse:
        headers = self._player_headers if kind != "clan" else self._clan_headers
        if garbage == "json":
            body = b'{"tag": "' + (tag or "#0").encode() + b'", "name": oops, "trophies": 12'
            return web.Response(body=body, headers=headers)
        if garbage == "empty":
            return web.Response(body=b"", headers=headers)
        if garbage == "html":
            return web.Response(body=_HTML_BODY, content_type="text/html", charset="utf-8")
        # "truncated": promise the whole payload, send half of it, close the connection.
        full = (self._players.get(tag) if tag else None) or _dumps(load_payload("player_th8"))
        response = web.StreamResponse(status=200, headers=headers)
        response.content_length = len(full)
        response.force_close()
        await response.prepare(request)
        await response.write(full[: len(full) // 2])
        transport = request.transport
        if transport is not None:
            transport.close()
        return response


def _no_battles(tag: str) -> list[Any]:
    return []


def _goldpass() -> bytes:
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=8, minute=0, second=0, microsecond=0)
    if start.month == 12:
        end = start.replace(year=start.year + 1, month=1)
    else:
        end = start.replace(month=start.month + 1)
    fmt = "%Y%m%dT%H%M%S.000Z"
    return _dumps({"startTime": start.strftime(fmt), "endTime": end.strftime(fmt)})
