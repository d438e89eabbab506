"""Clan war, Clan War League (CWL) and war log bodies in the recorded API's shapes, and wars a
test can script from preparation to the end.

Shapes follow the recorded responses in ``tests/fakes/payloads/recorded`` key for key (and in
their key order); badges come from them. What the recordings show and the builders keep:

* a war member is ``tag, name, townhallLevel (lower-case h), mapPosition, [attacks],
  opponentAttacks, [bestOpponentAttack]``: ``attacks`` only once the member has attacked,
  ``bestOpponentAttack`` only once the base was attacked (a war in preparation has neither);
* ``order`` counts the attacks of both clans together (1, 2, 3, ... in the order made);
* a clan's ``stars`` counts each enemy base once, at the most stars any attack took from it;
  its ``destructionPercentage`` is the mean over the enemy team of the highest destruction
  each base suffered (an unattacked base counts 0) -- a number, written as an integer when
  whole (``96``), else a float64 (``72.93333333333334``);
* a regular war has ``attacksPerMember``; a CWL round war has no such key (one attack each)
  and has ``warStartTime`` (= ``startTime``) last;
* the league group lists members with ``townHallLevel`` (capital H, unlike a war member) and
  shows rounds not drawn yet as ``{"warTags": ["#0", "#0", "#0", "#0"]}``;
* a war log entry's ``opponent`` has no ``attacks`` and the ``clan`` has ``expEarned``; the
  log's percentages are float32 values (``97.333336``); a CWL season appears as one entry with
  ``result: null``, an opponent with only a placeholder badge, ``clanLevel: 0`` and
  ``destructionPercentage: 0``, and the clan's totals over the week;
* times are ``20230528T144240.000Z`` (UTC).

Usage::

    war = ScriptedWar("#CLAN", "Us", "#OPP", "Them", lineup(["#A1", "#A2"]),
                      lineup(["#B1", "#B2"]), preparation_start=start)
    api.serve_war(war)               # both clans' currentwar, live
    war.begin_battle()
    war.attack("#A1", "#B1", stars=2, destruction=87)
    war.end()
    api.set_war_log("#CLAN", [war.log_entry(for_clan="#CLAN")])

    week = CwlWeek("2026-03", [(tag, name, roster), ...], start=start, team_size=5)
    api.serve_league(week)           # every clan's leaguegroup and every round's war tags
    week.advance()                   # round 1 battle day, round 2 preparation
    week.war_of("#CLAN", 1).attack(...)
"""

from __future__ import annotations

import random
import struct
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from .coc_api import load_payload, normalise_tag

__all__ = [
    "API_TIME_FORMAT",
    "DEFAULT_CLAN_LEVEL",
    "LEAGUE_GROUP_STATES",
    "WAR_STATES",
    "CwlWeek",
    "ScriptedWar",
    "api_time",
    "attack",
    "badge_urls",
    "lineup",
    "make_league_group",
    "make_war",
    "not_in_war",
    "war_member",
]

API_TIME_FORMAT: Final = "%Y%m%dT%H%M%S.000Z"
WAR_STATES: Final = ("preparation", "inWar", "warEnded")
#: The league group's states seen in recordings (the group says ``ended``, a war ``warEnded``).
LEAGUE_GROUP_STATES: Final = ("preparation", "inWar", "ended")
DEFAULT_CLAN_LEVEL: Final = 10
#: The empty war tag the API puts in rounds not drawn yet.
UNUSED_WAR_TAG: Final = "#0"
# The characters tags are made of (the game's alphabet).
_TAG_ALPHABET: Final = "0289PYLQGRJCUV"

MemberLike = Mapping[str, Any] | tuple[str, str, int]
ClanEntry = tuple[str, str, Sequence[MemberLike]]


# --------------------------------------------------------------------------- small pieces


def api_time(moment: datetime) -> str:
    """``moment`` in the API's format; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def _number(value: float) -> int | float:
    # The API writes a whole percentage as an integer (``96``), else a float.
    return int(value) if value == int(value) else value


def _float32(value: float) -> int | float:
    """``value`` as the war log writes it: a float32, in its shortest decimal spelling."""
    single: float = struct.unpack("f", struct.pack("f", value))[0]
    if single == int(single):
        return int(single)
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            return float(text)
    return single  # pragma: no cover - 9 significant digits always round-trip a float32


_BADGES: list[dict[str, str]] = []


def badge_urls(clan_tag: str) -> dict[str, str]:
    """A recorded badge, the same for a tag wherever it appears (group, war, war log)."""
    if not _BADGES:
        for name in ("clans_leaguegroup_inwar", "clans_leaguegroup_ended"):
            for clan in load_payload(f"recorded/{name}")["body"]["clans"]:
                if clan["badgeUrls"] not in _BADGES:
                    _BADGES.append(clan["badgeUrls"])
    chosen = _BADGES[zlib.crc32(normalise_tag(clan_tag).encode()) % len(_BADGES)]
    return dict(chosen)


def _placeholder_badge() -> dict[str, str]:
    # notInWar sides and a CWL season's "opponent" carry this default badge.
    return dict(not_in_war()["clan"]["badgeUrls"])


def not_in_war() -> dict[str, Any]:
    """The recorded ``notInWar`` currentwar body (what the fake serves by default)."""
    body: dict[str, Any] = load_payload("recorded/clans_currentwar_notinwar")["body"]
    return body


def attack(
    attacker: str, defender: str, stars: int, destruction: int, order: int, duration: int
) -> dict[str, Any]:
    """One attack, as in a member's ``attacks`` and as ``bestOpponentAttack``."""
    if not 0 <= stars <= 3:
        raise ValueError(f"stars must be 0..3, not {stars}")
    if not 0 <= destruction <= 100:
        raise ValueError(f"destruction must be 0..100, not {destruction}")
    if stars == 3 and destruction != 100:
        raise ValueError("three stars means 100% destruction")
    return {
        "attackerTag": normalise_tag(attacker),
        "defenderTag": normalise_tag(defender),
        "stars": stars,
        "destructionPercentage": destruction,
        "order": order,
        "duration": duration,
    }


def war_member(
    tag: str,
    name: str,
    town_hall: int,
    map_position: int,
    attacks: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A war member before :func:`make_war` adds ``opponentAttacks``/``bestOpponentAttack``.
    ``attacks`` are :func:`attack` results made by this member."""
    member: dict[str, Any] = {
        "tag": normalise_tag(tag),
        "name": name,
        "townhallLevel": town_hall,
        "mapPosition": map_position,
    }
    if attacks:
        member["attacks"] = [dict(a) for a in attacks]
    return member


def lineup(
    tags: Sequence[str],
    *,
    names: Sequence[str] | None = None,
    town_hall: int | Sequence[int] = 15,
) -> list[dict[str, Any]]:
    """War members for ``tags`` at map positions 1, 2, ... (names default to the tags)."""
    members = []
    for index, tag in enumerate(tags):
        name = names[index] if names is not None else normalise_tag(tag).lstrip("#")
        th = town_hall if isinstance(town_hall, int) else town_hall[index]
        members.append(war_member(tag, name, th, index + 1))
    return members


# --------------------------------------------------------------------------- wars


def _best(attacks: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    # Most stars, then most destruction; on a tie the earlier attack stays the best (a later
    # one that only equals it gains nothing in the game).
    return max(attacks, key=lambda a: (a["stars"], a["destructionPercentage"], -a["order"]))


def _war_side(
    tag: str,
    name: str,
    level: int,
    members: Sequence[Mapping[str, Any]],
    defenses_by_tag: Mapping[str, list[Mapping[str, Any]]],
    enemy_team: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One side of a war body. ``defenses_by_tag``: the enemy's attacks on each member."""
    own_attacks = [a for m in members for a in m.get("attacks", ())]
    on_enemy: dict[str, list[Mapping[str, Any]]] = {}
    for made in own_attacks:
        on_enemy.setdefault(normalise_tag(made["defenderTag"]), []).append(made)
    stars = sum(max(a["stars"] for a in hits) for hits in on_enemy.values())
    destruction = sum(max(a["destructionPercentage"] for a in hits) for hits in on_enemy.values())
    team_size = len(enemy_team)
    entries = []
    for member in members:
        entry: dict[str, Any] = {
            "tag": member["tag"],
            "name": member["name"],
            "townhallLevel": member["townhallLevel"],
            "mapPosition": member["mapPosition"],
        }
        made = sorted(member.get("attacks", ()), key=lambda a: a["order"])
        if made:
            entry["attacks"] = [dict(a) for a in made]
        defenses = defenses_by_tag.get(member["tag"], [])
        entry["opponentAttacks"] = len(defenses)
        if defenses:
            entry["bestOpponentAttack"] = dict(_best(defenses))
        entries.append(entry)
    return {
        "tag": normalise_tag(tag),
        "name": name,
        "badgeUrls": badge_urls(tag),
        "clanLevel": level,
        "attacks": len(own_attacks),
        "stars": stars,
        "destructionPercentage": _number(destruction / team_size if team_size else 0),
        "members": entries,
    }


def _checked_members(
    members: Sequence[Mapping[str, Any]],
    enemy: Sequence[Mapping[str, Any]],
    limit: int,
    state: str,
) -> dict[str, list[Mapping[str, Any]]]:
    """Validate one side's attacks; return them grouped by the defender they hit."""
    enemy_tags = {normalise_tag(m["tag"]) for m in enemy}
    by_defender: dict[str, list[Mapping[str, Any]]] = {}
    for member in members:
        made = member.get("attacks") or ()
        if made and state == "preparation":
            raise ValueError("a war in preparation has no attacks")
        if len(made) > limit:
            raise ValueError(f"{member['tag']} made {len(made)} attacks; the limit is {limit}")
        for one in made:
            if normalise_tag(one["attackerTag"]) != normalise_tag(member["tag"]):
                raise ValueError(f"attack {one} is listed under {member['tag']}")
            defender = normalise_tag(one["defenderTag"])
            if defender not in enemy_tags:
                raise ValueError(f"{defender} is not in the enemy lineup")
            by_defender.setdefault(defender, []).append(one)
    return by_defender


def make_war(
    clan_tag: str,
    clan_name: str,
    opponent_tag: str,
    opponent_name: str,
    members: Sequence[Mapping[str, Any]],
    opponent_members: Sequence[Mapping[str, Any]],
    *,
    state: str,
    preparation_start: datetime,
    preparation: timedelta = timedelta(hours=23),
    battle: timedelta = timedelta(hours=24),
    attacks_per_member: int | None = 2,
    cwl_war_start: bool = False,
    clan_level: int = DEFAULT_CLAN_LEVEL,
    opponent_level: int = DEFAULT_CLAN_LEVEL,
) -> dict[str, Any]:
    """A currentwar (or, with ``cwl_war_start``, a CWL round war) body.

    ``members``/``opponent_members`` are :func:`war_member` results (equal in number: that is
    ``teamSize``) carrying their own attacks; the totals, ``opponentAttacks`` and
    ``bestOpponentAttack`` are computed. ``startTime`` = ``preparation_start`` +
    ``preparation``, ``endTime`` = ``startTime`` + ``battle``. ``attacks_per_member=None``
    leaves the key out. A CWL round war (``cwl_war_start=True``) allows one attack a member,
    has no ``attacksPerMember`` key whatever ``attacks_per_member`` says, and ends with
    ``warStartTime``. Invalid wars (attacks in preparation, more than allowed, at a base not
    in the enemy lineup, duplicate orders or tags) raise ``ValueError``.
    """
    if state not in WAR_STATES:
        raise ValueError(f"state must be one of {WAR_STATES} (see not_in_war()), not {state!r}")
    if len(members) != len(opponent_members):
        raise ValueError("both lineups must have the same size (the war's teamSize)")
    home = [dict(m, tag=normalise_tag(m["tag"])) for m in members]
    away = [dict(m, tag=normalise_tag(m["tag"])) for m in opponent_members]
    tags = [m["tag"] for m in (*home, *away)]
    if len(set(tags)) != len(tags):
        raise ValueError("a player appears twice in the war")
    limit = 1 if cwl_war_start else (attacks_per_member or 1)
    on_away = _checked_members(home, away, limit, state)
    on_home = _checked_members(away, home, limit, state)
    orders = [a["order"] for hits in (*on_away.values(), *on_home.values()) for a in hits]
    if len(set(orders)) != len(orders):
        raise ValueError("two attacks share an order")

    start = preparation_start + preparation
    body: dict[str, Any] = {"state": state, "teamSize": len(home)}
    if attacks_per_member is not None and not cwl_war_start:
        body["attacksPerMember"] = attacks_per_member
    body["preparationStartTime"] = api_time(preparation_start)
    body["startTime"] = api_time(start)
    body["endTime"] = api_time(start + battle)
    body["clan"] = _war_side(clan_tag, clan_name, clan_level, home, on_home, away)
    body["opponent"] = _war_side(opponent_tag, opponent_name, opponent_level, away, on_away, home)
    if cwl_war_start:
        body["warStartTime"] = api_time(start)
    return body


class ScriptedWar:
    """A war a test drives: preparation -> :meth:`begin_battle` -> :meth:`attack` ... ->
    :meth:`end`. The schedule (times) is fixed at creation; the state moves only when told.

    ``cwl=True`` makes a CWL round war (one attack each, ``warStartTime``, no
    ``attacksPerMember``); ``war_tag`` is then its tag. :meth:`body` renders the current
    state, from either clan's side; :meth:`log_entry` the war log entry once it has ended.
    """

    def __init__(
        self,
        clan_tag: str,
        clan_name: str,
        opponent_tag: str,
        opponent_name: str,
        members: Sequence[Mapping[str, Any]],
        opponent_members: Sequence[Mapping[str, Any]],
        *,
        preparation_start: datetime,
        preparation: timedelta = timedelta(hours=23),
        battle: timedelta = timedelta(hours=24),
        attacks_per_member: int | None = 2,
        cwl: bool = False,
        war_tag: str | None = None,
        clan_level: int = DEFAULT_CLAN_LEVEL,
        opponent_level: int = DEFAULT_CLAN_LEVEL,
        battle_modifier: str = "none",
    ) -> None:
        self.clan_tag = normalise_tag(clan_tag)
        self.opponent_tag = normalise_tag(opponent_tag)
        if self.clan_tag == self.opponent_tag:
            raise ValueError("a clan cannot war itself")
        self.names = {self.clan_tag: clan_name, self.opponent_tag: opponent_name}
        self.levels = {self.clan_tag: clan_level, self.opponent_tag: opponent_level}
        self.lineups: dict[str, list[dict[str, Any]]] = {
            self.clan_tag: [dict(m, tag=normalise_tag(m["tag"])) for m in members],
            self.opponent_tag: [dict(m, tag=normalise_tag(m["tag"])) for m in opponent_members],
        }
        for team in self.lineups.values():
            for member in team:
                if member.pop("attacks", None):
                    raise ValueError("a scripted war starts in preparation: no attacks yet")
        self._side_of = {m["tag"]: side for side, team in self.lineups.items() for m in team}
        if len(self._side_of) != len(members) + len(opponent_members):
            raise ValueError("a player appears twice in the war")
        if len(members) != len(opponent_members):
            raise ValueError("both lineups must have the same size (the war's teamSize)")
        self.preparation_start = preparation_start
        self.preparation = preparation
        self.battle = battle
        self.cwl = cwl
        self.attacks_per_member = None if cwl else attacks_per_member
        self.war_tag = None if war_tag is None else normalise_tag(war_tag)
        self.battle_modifier = battle_modifier
        self.state = "preparation"
        self.attacks: list[dict[str, Any]] = []  # every attack, in order

    # ----------------------------------------------------------------- schedule

    @property
    def team_size(self) -> int:
        return len(self.lineups[self.clan_tag])

    @property
    def start_time(self) -> datetime:
        return self.preparation_start + self.preparation

    @property
    def end_time(self) -> datetime:
        return self.start_time + self.battle

    @property
    def attack_limit(self) -> int:
        return 1 if self.cwl else (self.attacks_per_member or 1)

    # ----------------------------------------------------------------- driving

    def begin_battle(self) -> None:
        if self.state != "preparation":
            raise ValueError(f"battle day follows preparation, the war is {self.state}")
        self.state = "inWar"

    def end(self) -> None:
        if self.state != "inWar":
            raise ValueError(f"a war ends from battle day, the war is {self.state}")
        self.state = "warEnded"

    def attacks_left(self, player_tag: str) -> int:
        tag = normalise_tag(player_tag)
        return self.attack_limit - sum(1 for a in self.attacks if a["attackerTag"] == tag)

    def attack(
        self,
        attacker_tag: str,
        defender_tag: str,
        stars: int,
        destruction: int,
        duration: int = 150,
    ) -> dict[str, Any]:
        """Record an attack (battle day only) with the next ``order``; return it."""
        if self.state != "inWar":
            raise ValueError(f"attacks happen on battle day, the war is {self.state}")
        attacker, defender = normalise_tag(attacker_tag), normalise_tag(defender_tag)
        side = self._side_of.get(attacker)
        if side is None:
            raise ValueError(f"{attacker} is not in the war")
        if self._side_of.get(defender) in (None, side):
            raise ValueError(f"{defender} is not in {attacker}'s enemy lineup")
        if self.attacks_left(attacker) <= 0:
            raise ValueError(f"{attacker} has no attack left")
        made = attack(attacker, defender, stars, destruction, len(self.attacks) + 1, duration)
        self.attacks.append(made)
        return dict(made)

    def play(self, seed: int = 0) -> None:
        """Every member with attacks left uses them (on the enemy at the same rank, then the
        next), with stars and destruction drawn from ``random.Random(seed)``: a quick way
        to fill a war whose details a test does not care about."""
        rng = random.Random(seed)
        ranked = {
            side: sorted(team, key=lambda m: m["mapPosition"])
            for side, team in self.lineups.items()
        }
        enemy_of = {self.clan_tag: self.opponent_tag, self.opponent_tag: self.clan_tag}
        for round_ in range(self.attack_limit):
            for index in range(self.team_size):
                for side in (self.clan_tag, self.opponent_tag):
                    attacker = ranked[side][index]["tag"]
                    if self.attacks_left(attacker) <= 0:
                        continue
                    enemy = ranked[enemy_of[side]]
                    defender = enemy[(index + round_) % len(enemy)]["tag"]
                    stars = rng.choices((0, 1, 2, 3), weights=(1, 3, 6, 5))[0]
                    low, high = {0: (5, 49), 1: (30, 90), 2: (50, 99), 3: (100, 100)}[stars]
                    destruction = rng.randint(low, high)
                    self.attack(attacker, defender, stars, destruction, rng.randint(60, 180))

    # ----------------------------------------------------------------- rendering

    def _check_clan(self, clan_tag: str) -> str:
        tag = normalise_tag(clan_tag)
        if tag not in self.lineups:
            raise ValueError(f"{tag} is not in this war")
        return tag

    def _members_with_attacks(self, side: str) -> list[dict[str, Any]]:
        result = []
        for member in self.lineups[side]:
            made = [a for a in self.attacks if a["attackerTag"] == member["tag"]]
            result.append(
                war_member(
                    member["tag"],
                    member["name"],
                    member["townhallLevel"],
                    member["mapPosition"],
                    made,
                )
            )
        return result

    def body(self, for_clan: str | None = None) -> dict[str, Any]:
        """The war now, as ``/clans/{for_clan}/currentwar`` shows it (``for_clan`` is
        ``clan``); ``None``: in the order the war was made (a league war tag's view)."""
        home = self.clan_tag if for_clan is None else self._check_clan(for_clan)
        away = self.opponent_tag if home == self.clan_tag else self.clan_tag
        return make_war(
            home,
            self.names[home],
            away,
            self.names[away],
            self._members_with_attacks(home),
            self._members_with_attacks(away),
            state=self.state,
            preparation_start=self.preparation_start,
            preparation=self.preparation,
            battle=self.battle,
            attacks_per_member=self.attacks_per_member,
            cwl_war_start=self.cwl,
            clan_level=self.levels[home],
            opponent_level=self.levels[away],
        )

    def totals(self, for_clan: str) -> tuple[int, int | float, int]:
        """``(stars, destructionPercentage, attacks)`` of ``for_clan`` now."""
        side = self.body(for_clan)["clan"]
        return side["stars"], side["destructionPercentage"], side["attacks"]

    def result(self, for_clan: str) -> str:
        """``win``, ``lose`` or ``tie`` for ``for_clan``: stars first, then destruction."""
        tag = self._check_clan(for_clan)
        body = self.body(tag)
        ours = (body["clan"]["stars"], body["clan"]["destructionPercentage"])
        theirs = (body["opponent"]["stars"], body["opponent"]["destructionPercentage"])
        return "win" if ours > theirs else "lose" if ours < theirs else "tie"

    def log_entry(self, for_clan: str, *, exp_earned: int | None = None) -> dict[str, Any]:
        """The ``/clans/{for_clan}/warlog`` item of this (ended, regular) war.

        ``exp_earned`` defaults to a stand-in (5 per star, plus 50 for a win), not the
        game's formula. CWL round wars are not logged one by one: see
        :meth:`CwlWeek.log_entry`."""
        if self.cwl:
            raise ValueError("the war log shows a CWL season as one entry: CwlWeek.log_entry")
        if self.state != "warEnded":
            raise ValueError("only an ended war is in the war log")
        home = self._check_clan(for_clan)
        body = self.body(home)
        clan, opponent = body["clan"], body["opponent"]
        result = self.result(home)
        if exp_earned is None:
            exp_earned = 5 * clan["stars"] + (50 if result == "win" else 0)
        return {
            "result": result,
            "endTime": body["endTime"],
            "teamSize": body["teamSize"],
            "attacksPerMember": self.attack_limit,
            "battleModifier": self.battle_modifier,
            "clan": {
                "tag": clan["tag"],
                "name": clan["name"],
                "badgeUrls": clan["badgeUrls"],
                "clanLevel": clan["clanLevel"],
                "attacks": clan["attacks"],
                "stars": clan["stars"],
                "destructionPercentage": _float32(clan["destructionPercentage"]),
                "expEarned": exp_earned,
            },
            "opponent": {
                "tag": opponent["tag"],
                "name": opponent["name"],
                "badgeUrls": opponent["badgeUrls"],
                "clanLevel": opponent["clanLevel"],
                "stars": opponent["stars"],
                "destructionPercentage": _float32(opponent["destructionPercentage"]),
            },
        }


# --------------------------------------------------------------------------- CWL


def _roster_entry(member: MemberLike) -> tuple[str, str, int]:
    if isinstance(member, tuple):
        tag, name, town_hall = member
        return normalise_tag(tag), name, town_hall
    town_hall = member.get("townHallLevel", member.get("townhallLevel"))
    return normalise_tag(member["tag"]), member["name"], int(town_hall or 1)


def make_league_group(
    season: str,
    clans: Sequence[ClanEntry],
    rounds: Sequence[Sequence[str]],
    state: str,
    *,
    number_of_rounds: int = 7,
    clan_levels: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """A ``/clans/{tag}/currentwar/leaguegroup`` body.

    ``clans``: ``(tag, name, members)`` with members as ``(tag, name, town_hall)`` or dicts
    (war members or roster entries); ``rounds``: the war tags of the rounds drawn so far,
    padded to ``number_of_rounds`` with ``#0`` rounds (as many tags as the first round, or
    half the clans). ``state``: ``preparation``, ``inWar`` or ``ended`` as recorded.
    """
    levels = clan_levels or {}
    wars_per_round = len(rounds[0]) if rounds else max(1, len(clans) // 2)
    if len(rounds) > number_of_rounds:
        raise ValueError(f"{len(rounds)} rounds drawn of {number_of_rounds}")
    body_clans = []
    for tag, name, members in clans:
        clan_tag = normalise_tag(tag)
        entries = [_roster_entry(m) for m in members]
        body_clans.append(
            {
                "tag": clan_tag,
                "name": name,
                "clanLevel": levels.get(clan_tag, DEFAULT_CLAN_LEVEL),
                "badgeUrls": badge_urls(clan_tag),
                "members": [{"tag": t, "name": n, "townHallLevel": th} for t, n, th in entries],
            }
        )
    body_rounds = [{"warTags": [normalise_tag(t) for t in tags]} for tags in rounds]
    while len(body_rounds) < number_of_rounds:
        body_rounds.append({"warTags": [UNUSED_WAR_TAG] * wars_per_round})
    return {"state": state, "season": season, "clans": body_clans, "rounds": body_rounds}


def _encode_tag(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, digit = divmod(number, len(_TAG_ALPHABET))
        digits.append(_TAG_ALPHABET[digit])
    return "".join(reversed(digits))


def _pairings(tags: Sequence[str], rounds: int) -> list[list[tuple[str, str]]]:
    """Round robin by the circle method: with 8 clans, 7 rounds of 4 wars, each pair once.
    An odd count sits one clan out each round; fewer than 8 clans meet again after a cycle."""
    slots: list[str | None] = list(tags)
    if len(slots) % 2:
        slots.append(None)
    count = len(slots)
    result = []
    for round_index in range(rounds):
        shift = round_index % (count - 1)
        rest = slots[1:]
        circle = [slots[0], *rest[shift:], *rest[:shift]]
        pairs = [(circle[i], circle[count - 1 - i]) for i in range(count // 2)]
        result.append([(a, b) for a, b in pairs if a is not None and b is not None])
    return result


class CwlWeek:
    """A scripted CWL week: up to 8 clans, ``number_of_rounds`` (7) rounds, each round's wars
    as :class:`ScriptedWar` objects keyed by war tag (one attack a member).

    Round ``r`` (1-based) is prepared from ``start + (r - 1) * battle`` and fought for
    ``battle`` after ``preparation``. :meth:`advance` moves a day on: day 0 is round 1's
    preparation (group ``preparation``); on day ``d`` round ``d`` is at war, round ``d - 1``
    has ended and round ``d + 1`` is in preparation (group ``inWar``); after the last round the
    group is ``ended``. The group shows the rounds drawn so far, the rest as ``#0``; a war
    tag of a round not drawn yet answers 404 when served by ``FakeCocApi.serve_league``.

    Each clan fields the first ``team_size`` members of its roster, at map positions 1.. in
    roster order; the group lists the whole roster.
    """

    def __init__(
        self,
        season: str,
        clans: Sequence[ClanEntry],
        *,
        start: datetime,
        team_size: int = 15,
        number_of_rounds: int = 7,
        preparation: timedelta = timedelta(hours=24),
        battle: timedelta = timedelta(hours=24),
        war_tags: Sequence[Sequence[str]] | None = None,
        tag_seed: int = 0,
        clan_levels: Mapping[str, int] | None = None,
    ) -> None:
        if not 2 <= len(clans) <= 8:
            raise ValueError("a CWL group has 2 to 8 clans")
        self.season = season
        self.clans = [(normalise_tag(tag), name, list(members)) for tag, name, members in clans]
        self.clan_levels = {tag: DEFAULT_CLAN_LEVEL for tag, _, _ in self.clans}
        self.clan_levels.update({normalise_tag(t): v for t, v in (clan_levels or {}).items()})
        self.number_of_rounds = number_of_rounds
        self.team_size = team_size
        self.start = start
        self.preparation = preparation
        self.battle = battle
        self.day = 0
        names = {tag: name for tag, name, _ in self.clans}
        teams = {}
        for tag, _, members in self.clans:
            roster = [_roster_entry(m) for m in members]
            if len(roster) < team_size:
                raise ValueError(f"{tag} has {len(roster)} members, fewer than {team_size}")
            teams[tag] = [
                war_member(t, n, th, position)
                for position, (t, n, th) in enumerate(roster[:team_size], start=1)
            ]
        pairings = _pairings([tag for tag, _, _ in self.clans], number_of_rounds)
        base = (zlib.crc32(f"{season}/{tag_seed}".encode()) % 10**6) * 100
        self.rounds: list[dict[str, ScriptedWar]] = []
        for round_index, pairs in enumerate(pairings):
            wars: dict[str, ScriptedWar] = {}
            for war_index, (home, away) in enumerate(pairs):
                if war_tags is not None:
                    war_tag = normalise_tag(war_tags[round_index][war_index])
                else:
                    war_tag = "#8" + _encode_tag(base + round_index * 10 + war_index, 8)
                wars[war_tag] = ScriptedWar(
                    home,
                    names[home],
                    away,
                    names[away],
                    teams[home],
                    teams[away],
                    preparation_start=start + round_index * battle,
                    preparation=preparation,
                    battle=battle,
                    cwl=True,
                    war_tag=war_tag,
                    clan_level=self.clan_levels[home],
                    opponent_level=self.clan_levels[away],
                )
            self.rounds.append(wars)
        self._wars = {tag: war for wars in self.rounds for tag, war in wars.items()}

    # ----------------------------------------------------------------- what LiveLeague needs

    @property
    def clan_tags(self) -> list[str]:
        return [tag for tag, _, _ in self.clans]

    @property
    def war_tags(self) -> list[str]:
        return list(self._wars)

    def group_body(self) -> dict[str, Any]:
        drawn = [list(wars) for wars in self.rounds[: self.rounds_drawn]]
        return make_league_group(
            self.season,
            self.clans,
            drawn,
            self.state,
            number_of_rounds=self.number_of_rounds,
            clan_levels=self.clan_levels,
        )

    def war_body(self, war_tag: str) -> dict[str, Any] | None:
        """The round war's body (the API's side order), or None before its round is drawn."""
        tag = normalise_tag(war_tag)
        for wars in self.rounds[: self.rounds_drawn]:
            if tag in wars:
                return wars[tag].body()
        return None

    # ----------------------------------------------------------------- driving

    @property
    def state(self) -> str:
        if self.day == 0:
            return "preparation"
        return "inWar" if self.day <= self.number_of_rounds else "ended"

    @property
    def rounds_drawn(self) -> int:
        return min(self.day + 1, self.number_of_rounds)

    @property
    def battle_round(self) -> int | None:
        """The round (1-based) at war now, or None (day 0, or the week has ended)."""
        return self.day if 1 <= self.day <= self.number_of_rounds else None

    def advance(self) -> None:
        """One day on: the round at war ends, the prepared round goes to war."""
        if self.state == "ended":
            raise ValueError("the week has ended")
        if self.battle_round is not None:
            for war in self.rounds[self.battle_round - 1].values():
                war.end()
        self.day += 1
        if self.battle_round is not None:
            for war in self.rounds[self.battle_round - 1].values():
                war.begin_battle()

    def war(self, war_tag: str) -> ScriptedWar:
        return self._wars[normalise_tag(war_tag)]

    def war_of(self, clan_tag: str, round_number: int) -> ScriptedWar:
        """``clan_tag``'s war in round ``round_number`` (1-based)."""
        tag = normalise_tag(clan_tag)
        for war in self.rounds[round_number - 1].values():
            if tag in (war.clan_tag, war.opponent_tag):
                return war
        raise KeyError(f"{tag} sits round {round_number} out")

    def wars_of(self, clan_tag: str) -> list[ScriptedWar]:
        tag = normalise_tag(clan_tag)
        return [
            war
            for wars in self.rounds
            for war in wars.values()
            if tag in (war.clan_tag, war.opponent_tag)
        ]

    def log_entry(self, clan_tag: str) -> dict[str, Any]:
        """The war log's season entry for ``clan_tag`` once the week has ended: ``result``
        null, the clan's attacks, stars and destruction summed over its wars, ``expEarned``
        0, and an opponent of only a placeholder badge, level 0, the stars taken from the
        clan, and destruction 0 -- as recorded."""
        if self.state != "ended":
            raise ValueError("the season is logged once the week has ended")
        tag = normalise_tag(clan_tag)
        wars = self.wars_of(tag)
        attacks = stars = lost_stars = 0
        destruction = 0.0
        for war in wars:
            body = war.body(tag)
            attacks += body["clan"]["attacks"]
            stars += body["clan"]["stars"]
            destruction += body["clan"]["destructionPercentage"]
            lost_stars += body["opponent"]["stars"]
        name = {t: n for t, n, _ in self.clans}[tag]
        return {
            "result": None,
            "endTime": api_time(wars[-1].end_time),
            "teamSize": self.team_size,
            "attacksPerMember": 1,
            "battleModifier": "none",
            "clan": {
                "tag": tag,
                "name": name,
                "badgeUrls": badge_urls(tag),
                "clanLevel": self.clan_levels[tag],
                "attacks": attacks,
                "stars": stars,
                "destructionPercentage": _float32(destruction),
                "expEarned": 0,
            },
            "opponent": {
                "badgeUrls": _placeholder_badge(),
                "clanLevel": 0,
                "stars": lost_stars,
                "destructionPercentage": 0,
            },
        }
