"""The fake API's war routes and the war builders, checked against the recorded API responses
(``payloads/recorded``, copies of ``shared/fixtures/coc/recorded``) and the real coc.py 4.0."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import coc
import orjson
import pytest

from .coc_api import FakeCocApi, load_payload
from .wars import (
    CwlWeek,
    ScriptedWar,
    attack,
    lineup,
    make_league_group,
    make_war,
    not_in_war,
    war_member,
)

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOME, AWAY = "#2PP", "#2QCVRQCQR"


@pytest.fixture
async def api() -> AsyncIterator[FakeCocApi]:
    async with FakeCocApi() as fake:
        yield fake


@pytest.fixture
async def live_api() -> AsyncIterator[FakeCocApi]:
    """Max-age 0 everywhere: coc.py refetches each time, so a test sees each scripted step."""
    async with FakeCocApi(
        war_max_age=0, league_max_age=0, war_log_max_age=0, war_log_private_max_age=0
    ) as fake:
        yield fake


async def _client(api: FakeCocApi) -> coc.Client:
    client = coc.Client(base_url=api.base_url, throttle_limit=1000)
    await client.login_with_tokens(TOKEN)
    return client


@pytest.fixture
async def client(api: FakeCocApi) -> AsyncIterator[coc.Client]:
    c = await _client(api)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def live_client(live_api: FakeCocApi) -> AsyncIterator[coc.Client]:
    c = await _client(live_api)
    try:
        yield c
    finally:
        await c.close()


def recorded(name: str) -> dict[str, Any]:
    """A whole recorded response: ``{"body", "headers", "response_code"}``."""
    return load_payload(f"recorded/{name}")


# --------------------------------------------------------------------------- shape helpers


def _leaf(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape(value: Any, path: str = "") -> set[str]:
    """Every path in ``value`` with its leaf kind (``.clan.members[].tag:str``); lists merge."""
    if isinstance(value, dict):
        paths = {f"{path}{{}}"} if not value else set()
        for key, item in value.items():
            paths |= shape(item, f"{path}.{key}")
        return paths
    if isinstance(value, list):
        paths = {f"{path}[]"} if not value else set()
        for item in value:
            paths |= shape(item, f"{path}[]")
        return paths
    return {f"{path}:{_leaf(value)}"}


def key_orders(
    value: Any, path: str = "", into: dict[str, set[tuple[str, ...]]] | None = None
) -> dict[str, set[tuple[str, ...]]]:
    """Each object's keys, in order, by path: the same keys in the same order as recorded."""
    orders: dict[str, set[tuple[str, ...]]] = {} if into is None else into
    if isinstance(value, dict):
        orders.setdefault(path, set()).add(tuple(value))
        for key, item in value.items():
            key_orders(item, f"{path}.{key}", orders)
    elif isinstance(value, list):
        for item in value:
            key_orders(item, f"{path}[]", orders)
    return orders


def assert_same_shape(ours: Any, theirs: Any) -> None:
    assert shape(ours) == shape(theirs)
    assert key_orders(ours) == key_orders(theirs)


def _full_war(*, cwl: bool, state: str) -> dict[str, Any]:
    """A 3v3 war where, past preparation, every member attacked and was attacked once (so
    every optional key appears, as in the recordings)."""
    home, away = ["#A1", "#A2", "#A3"], ["#B1", "#B2", "#B3"]
    orders = itertools.count(1)
    members, opponents = [], []
    for index, (mine, theirs) in enumerate(zip(home, away, strict=True)):
        fought = state != "preparation"
        mine_hit = [attack(mine, theirs, 2, 80 + index, next(orders), 170)] if fought else []
        theirs_hit = [attack(theirs, mine, 3, 100, next(orders), 150)] if fought else []
        members.append(war_member(mine, f"m{index}", 15, index + 1, mine_hit))
        opponents.append(war_member(theirs, f"o{index}", 15, index + 1, theirs_hit))
    return make_war(
        HOME,
        "Home",
        AWAY,
        "Away",
        members,
        opponents,
        state=state,
        preparation_start=START,
        attacks_per_member=None if cwl else 2,
        cwl_war_start=cwl,
    )


# --------------------------------------------------------------------------- builders: shapes


@pytest.mark.parametrize(
    ("state", "name"),
    [("preparation", "preparation"), ("inWar", "inwar"), ("warEnded", "ended")],
)
def test_war_bodies_have_the_recorded_shapes(state: str, name: str) -> None:
    assert_same_shape(
        _full_war(cwl=False, state=state), recorded(f"clans_currentwar_{name}")["body"]
    )
    cwl_body = _full_war(cwl=True, state=state)
    assert_same_shape(cwl_body, recorded(f"clans_clanwarleagues_{name}")["body"])
    assert "attacksPerMember" not in cwl_body
    assert cwl_body["warStartTime"] == cwl_body["startTime"]


def test_not_in_war_is_the_recorded_body() -> None:
    assert not_in_war() == recorded("clans_currentwar_notinwar")["body"]


def _parse(value: str) -> datetime:
    return datetime.strptime(value, "%Y%m%dT%H%M%S.000Z").replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "clans_currentwar_preparation",
        "clans_currentwar_inwar",
        "clans_currentwar_ended",
        "clans_clanwarleagues_preparation",
        "clans_clanwarleagues_inwar",
        "clans_clanwarleagues_ended",
    ],
)
def test_make_war_rebuilds_the_recorded_wars(name: str) -> None:
    """Given only the recorded lineups and attacks, make_war computes every total, count, best
    attack and time the real API sent, down to the number format (``96``,
    ``72.93333333333334``)."""
    real = recorded(name)["body"]
    prep, start, end = (_parse(real[k]) for k in ("preparationStartTime", "startTime", "endTime"))

    def lineup_of(side: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            war_member(
                m["tag"], m["name"], m["townhallLevel"], m["mapPosition"], m.get("attacks", [])
            )
            for m in side["members"]
        ]

    rebuilt = make_war(
        real["clan"]["tag"],
        real["clan"]["name"],
        real["opponent"]["tag"],
        real["opponent"]["name"],
        lineup_of(real["clan"]),
        lineup_of(real["opponent"]),
        state=real["state"],
        preparation_start=prep,
        preparation=start - prep,
        battle=end - start,
        attacks_per_member=real.get("attacksPerMember"),
        cwl_war_start="warStartTime" in real,
        clan_level=real["clan"]["clanLevel"],
        opponent_level=real["opponent"]["clanLevel"],
    )
    # Badges are the only thing the builder picks itself.
    rebuilt["clan"]["badgeUrls"] = real["clan"]["badgeUrls"]
    rebuilt["opponent"]["badgeUrls"] = real["opponent"]["badgeUrls"]
    assert rebuilt == real
    assert orjson.dumps(rebuilt) == orjson.dumps(real)  # ints stay ints, floats floats


def test_league_group_has_the_recorded_shape() -> None:
    for name, drawn in (("clans_leaguegroup_inwar", 5), ("clans_leaguegroup_ended", 7)):
        real = recorded(name)["body"]
        clans = [
            (c["tag"], c["name"], [(m["tag"], m["name"], m["townHallLevel"]) for m in c["members"]])
            for c in real["clans"]
        ]
        rounds = [r["warTags"] for r in real["rounds"][:drawn]]
        ours = make_league_group(
            real["season"],
            clans,
            rounds,
            real["state"],
            clan_levels={c["tag"]: c["clanLevel"] for c in real["clans"]},
        )
        assert_same_shape(ours, real)
        assert ours["rounds"] == real["rounds"]  # the undrawn rounds as four "#0" each
        for mine, theirs in zip(ours["clans"], real["clans"], strict=True):
            assert mine["members"] == theirs["members"]
            assert mine["clanLevel"] == theirs["clanLevel"]


def _recorded_log(cwl: bool) -> list[dict[str, Any]]:
    items = recorded("clans_warlog_warlog")["body"]["items"]
    if cwl:
        return [i for i in items if "tag" not in i["opponent"] and i["result"] is None]
    return [i for i in items if "tag" in i["opponent"]]


def test_log_entries_have_the_recorded_shapes() -> None:
    war = _played_war()
    assert_same_shape([war.log_entry(HOME)], _recorded_log(cwl=False))
    week = _played_week(clan_count=8, team_size=3)
    assert_same_shape([week.log_entry("#C0")], _recorded_log(cwl=True))


# --------------------------------------------------------------------------- ScriptedWar


def _scripted(attacks_per_member: int | None = 2) -> ScriptedWar:
    return ScriptedWar(
        HOME,
        "Home",
        AWAY,
        "Away",
        lineup(["#A1", "#A2", "#A3", "#A4"]),
        lineup(["#B1", "#B2", "#B3", "#B4"]),
        preparation_start=START,
        attacks_per_member=attacks_per_member,
    )


def _played_war() -> ScriptedWar:
    war = _scripted()
    war.begin_battle()
    war.attack("#A1", "#B1", 2, 90)  # order 1
    war.attack("#B1", "#A1", 3, 100)  # order 2
    war.attack("#A2", "#B1", 1, 95)  # order 3: fewer stars, more destruction on #B1
    war.attack("#A3", "#B2", 3, 100)  # order 4
    war.attack("#A4", "#B2", 3, 100)  # order 5: a second 3-star on #B2 adds nothing
    war.attack("#A1", "#B3", 0, 41)  # order 6
    war.end()
    return war


def test_scripted_war_totals_count_each_base_once() -> None:
    war = _played_war()
    body = war.body(HOME)
    home, away = body["clan"], body["opponent"]
    # Stars: #B1 2 (not 2 + 1), #B2 3 (not 3 + 3), #B3 0, #B4 unattacked.
    assert home["stars"] == 5
    # Destruction: each base's highest (95 on #B1, though the 2-star hit did 90), over 4 bases.
    assert home["destructionPercentage"] == (95 + 100 + 41 + 0) / 4 == 59
    assert isinstance(home["destructionPercentage"], int)  # whole: written as 59, as the API
    assert home["attacks"] == 5  # order 2 was the opponent's
    assert (away["stars"], away["destructionPercentage"], away["attacks"]) == (3, 25, 1)
    assert war.totals(HOME) == (5, 59, 5)

    members = {m["tag"]: m for m in away["members"]}
    assert members["#B1"]["opponentAttacks"] == 2
    assert members["#B1"]["bestOpponentAttack"]["order"] == 1  # 2 stars beat 1 star at 95%
    assert members["#B2"]["bestOpponentAttack"]["order"] == 4  # a tie keeps the earlier one
    assert members["#B4"]["opponentAttacks"] == 0 and "bestOpponentAttack" not in members["#B4"]
    assert "attacks" not in members["#B2"]  # a member who has not attacked has no key
    home_members = {m["tag"]: m for m in home["members"]}
    assert [a["order"] for a in home_members["#A1"]["attacks"]] == [1, 6]

    assert war.result(HOME) == "win" and war.result(AWAY) == "lose"
    assert [a["order"] for a in war.attacks] == [1, 2, 3, 4, 5, 6]


def test_scripted_war_sides_and_times() -> None:
    war = _played_war()
    mine, theirs = war.body(HOME), war.body("#2qcvrqcqr")
    assert (mine["clan"]["tag"], mine["opponent"]["tag"]) == (HOME, AWAY)
    assert (theirs["clan"], theirs["opponent"]) == (mine["opponent"], mine["clan"])
    assert war.body() == mine  # the order it was made in
    assert mine["teamSize"] == 4 and mine["attacksPerMember"] == 2
    assert mine["preparationStartTime"] == "20260301T120000.000Z"
    assert mine["startTime"] == "20260302T110000.000Z"  # 23 h of preparation
    assert mine["endTime"] == "20260303T110000.000Z"
    with pytest.raises(ValueError):
        war.body("#NOTHERE")


def test_scripted_war_refuses_impossible_steps() -> None:
    war = _scripted()
    with pytest.raises(ValueError, match="battle day"):
        war.attack("#A1", "#B1", 1, 50)
    with pytest.raises(ValueError):
        war.end()
    war.begin_battle()
    with pytest.raises(ValueError, match="enemy"):
        war.attack("#A1", "#A2", 1, 50)
    with pytest.raises(ValueError, match="not in the war"):
        war.attack("#ZZ", "#B1", 1, 50)
    with pytest.raises(ValueError, match="three stars"):
        war.attack("#A1", "#B1", 3, 99)
    war.attack("#A1", "#B1", 1, 50)
    war.attack("#A1", "#B2", 1, 50)
    with pytest.raises(ValueError, match="no attack left"):
        war.attack("#A1", "#B3", 1, 50)
    with pytest.raises(ValueError):
        war.log_entry(HOME)  # not ended yet
    with pytest.raises(ValueError, match="same size"):
        make_war(HOME, "H", AWAY, "A", lineup(["#A1"]), [], state="inWar", preparation_start=START)
    with pytest.raises(ValueError, match="preparation"):
        make_war(
            HOME,
            "H",
            AWAY,
            "A",
            [war_member("#A1", "a", 15, 1, [attack("#A1", "#B1", 1, 50, 1, 100)])],
            lineup(["#B1"]),
            state="preparation",
            preparation_start=START,
        )


def test_scripted_war_log_entry() -> None:
    war = _played_war()
    entry = war.log_entry(HOME)
    assert entry["result"] == "win" and war.log_entry(AWAY)["result"] == "lose"
    assert entry["endTime"] == "20260303T110000.000Z"
    assert (entry["teamSize"], entry["attacksPerMember"], entry["battleModifier"]) == (4, 2, "none")
    assert entry["clan"]["stars"] == 5 and entry["clan"]["destructionPercentage"] == 59
    assert entry["clan"]["expEarned"] == 5 * 5 + 50
    assert "attacks" not in entry["opponent"]

    tie = _scripted()
    tie.begin_battle()
    tie.attack("#A1", "#B1", 1, 60)
    tie.attack("#B1", "#A1", 1, 60)
    tie.end()
    assert tie.result(HOME) == tie.result(AWAY) == "tie"
    # The log writes float32 percentages, as recorded (97.333336, not 97.33333333333333).
    thirds = ScriptedWar(
        HOME,
        "H",
        AWAY,
        "A",
        lineup(["#A1", "#A2", "#A3"]),
        lineup(["#B1", "#B2", "#B3"]),
        preparation_start=START,
    )
    thirds.begin_battle()
    thirds.attack("#A1", "#B1", 2, 92)
    thirds.end()
    assert thirds.body(HOME)["clan"]["destructionPercentage"] == 92 / 3  # float64 in a war
    assert thirds.log_entry(HOME)["clan"]["destructionPercentage"] == 30.666666


def test_play_uses_every_attack() -> None:
    war = _scripted()
    war.begin_battle()
    war.attack("#A1", "#B4", 3, 100)
    war.play(seed=7)
    assert len(war.attacks) == 16
    assert all(war.attacks_left(m["tag"]) == 0 for team in war.lineups.values() for m in team)
    assert [a["order"] for a in war.attacks] == list(range(1, 17))
    again = _scripted()
    again.begin_battle()
    again.attack("#A1", "#B4", 3, 100)
    again.play(seed=7)
    assert again.attacks == war.attacks  # deterministic


# --------------------------------------------------------------------------- CwlWeek


def _week(clan_count: int = 8, team_size: int = 3) -> CwlWeek:
    clans = [
        (
            f"#C{i}",
            f"Clan {i}",
            [(f"#P{i}{j}", f"p{i}{j}", 12 + j % 4) for j in range(team_size + 2)],
        )
        for i in range(clan_count)
    ]
    return CwlWeek("2026-03", clans, start=START, team_size=team_size)


def _played_week(clan_count: int, team_size: int) -> CwlWeek:
    week = _week(clan_count, team_size)
    while week.state != "ended":
        week.advance()
        if week.battle_round is not None:
            for war in week.rounds[week.battle_round - 1].values():
                war.play(seed=week.day)
    return week


def test_cwl_week_draw() -> None:
    week = _week()
    assert len(week.rounds) == 7 and all(len(wars) == 4 for wars in week.rounds)
    assert len(set(week.war_tags)) == 28
    assert all(t.startswith("#8") and len(t) == 10 for t in week.war_tags)
    pairs = set()
    for wars in week.rounds:
        playing = [tag for war in wars.values() for tag in (war.clan_tag, war.opponent_tag)]
        assert sorted(playing) == sorted(week.clan_tags)  # each clan once a round
        pairs |= {frozenset((w.clan_tag, w.opponent_tag)) for w in wars.values()}
    assert len(pairs) == 28  # every pair meets exactly once
    war = week.war_of("#C3", 2)
    assert war.cwl and war.attack_limit == 1 and war.team_size == 3
    assert war.war_tag in week.rounds[1]
    assert war.preparation_start == START + timedelta(days=1)

    odd = _week(clan_count=5)
    assert len(odd.rounds) == 7 and all(len(wars) == 2 for wars in odd.rounds)
    assert odd.group_body()["rounds"][1] == {"warTags": ["#0", "#0"]}


def test_cwl_week_days() -> None:
    week = _week()
    group = week.group_body()
    assert group["state"] == "preparation"
    assert group["rounds"][0]["warTags"] == list(week.rounds[0])
    assert all(r["warTags"] == ["#0"] * 4 for r in group["rounds"][1:])
    assert week.war_body(next(iter(week.rounds[1]))) is None  # not drawn yet
    assert all(w.state == "preparation" for w in week.rounds[0].values())

    week.advance()  # day 1: round 1 at war, round 2 in preparation
    group = week.group_body()
    assert group["state"] == "inWar" and week.battle_round == 1
    assert [r["warTags"][0] != "#0" for r in group["rounds"]] == [True, True] + [False] * 5
    assert {w.state for w in week.rounds[0].values()} == {"inWar"}
    assert {w.state for w in week.rounds[1].values()} == {"preparation"}

    war = week.war_of("#C0", 1)
    mine = war.lineups["#C0"][0]["tag"]
    enemy = war.lineups[war.opponent_tag if war.clan_tag == "#C0" else war.clan_tag][0]["tag"]
    war.attack(mine, enemy, 3, 100)
    with pytest.raises(ValueError, match="no attack left"):
        war.attack(mine, enemy, 3, 100)  # one attack a member in CWL
    week.advance()  # day 2
    assert {w.state for w in week.rounds[0].values()} == {"warEnded"}
    assert week.war_of("#C0", 1).state == "warEnded"
    for _ in range(6):
        week.advance()
    assert week.state == "ended" and week.battle_round is None
    assert all(w.state == "warEnded" for wars in week.rounds for w in wars.values())
    assert all(r["warTags"][0] != "#0" for r in week.group_body()["rounds"])
    with pytest.raises(ValueError):
        week.advance()


def test_cwl_season_log_entry() -> None:
    week = _played_week(clan_count=8, team_size=3)
    entry = week.log_entry("#C0")
    wars = week.wars_of("#C0")
    assert len(wars) == 7
    assert entry["result"] is None and entry["teamSize"] == 3 and entry["attacksPerMember"] == 1
    assert entry["clan"]["attacks"] == 21 and entry["clan"]["expEarned"] == 0
    assert entry["clan"]["stars"] == sum(w.totals("#C0")[0] for w in wars)
    assert entry["opponent"]["clanLevel"] == 0 and entry["opponent"]["destructionPercentage"] == 0
    assert entry["endTime"] == "20260309T120000.000Z"  # round 7's end


# --------------------------------------------------------------------------- through coc.py


async def test_headers_and_errors_match_recorded(api: FakeCocApi) -> None:
    war = _scripted()
    api.serve_war(war)
    week = _week()
    api.serve_league(week)
    api.set_war_log(HOME, [_played_war().log_entry(HOME)])
    api.set_war_log_private("#PRIV", True)
    league_war = next(iter(week.rounds[0]))
    checks = {
        f"/clans/%23{HOME[1:]}/currentwar": "clans_currentwar_preparation",
        "/clans/%23QUIET/currentwar": "clans_currentwar_notinwar",
        "/clans/%23PRIV/currentwar": "clans_currentwar_accessdenied",
        "/clans/%23C0/currentwar/leaguegroup": "clans_leaguegroup_inwar",
        "/clans/%23NCWL/currentwar/leaguegroup": "clans_leaguegroup_notfound",
        f"/clanwarleagues/wars/%23{league_war[1:]}": "clans_clanwarleagues_preparation",
        f"/clans/%23{HOME[1:]}/warlog": "clans_warlog_warlog",
        "/clans/%23PRIV/warlog": "clans_warlog_accessdenied",
    }
    async with aiohttp.ClientSession(headers=AUTH) as session:
        for path, name in checks.items():
            real = recorded(name)
            async with session.get(api.base_url + path) as response:
                assert response.status == real["response_code"], path
                assert response.headers["Content-Type"] == real["headers"]["content-type"], path
                assert response.headers["Cache-Control"] == real["headers"]["cache-control"], path
                body = orjson.loads(await response.read())
            if real["response_code"] != 200:
                assert body == real["body"], path  # {"reason": ...} only, no message
        # A war tag nobody set: the fake's usual (uncached) 404.
        async with session.get(api.base_url + "/clanwarleagues/wars/%230") as response:
            assert response.status == 404 and "Cache-Control" not in response.headers
        # The warlog's envelope.
        async with session.get(f"{api.base_url}/clans/%23NLOG/warlog") as response:
            assert await response.json() == {"items": [], "paging": {"cursors": {}}}


async def test_regular_war_through_coc(live_api: FakeCocApi, live_client: coc.Client) -> None:
    war = _scripted()
    live_api.serve_war(war)

    prep = await live_client.get_clan_war(HOME)
    assert prep.state == "preparation" and prep.type == "random" and not prep.is_cwl
    assert (prep.clan.tag, prep.opponent.tag, prep.team_size) == (HOME, AWAY, 4)
    assert prep.attacks_per_member == 2 and prep.attacks == []
    assert prep.preparation_start_time.time == START.replace(tzinfo=None)
    assert [m.tag for m in prep.clan.members] == ["#A1", "#A2", "#A3", "#A4"]
    assert prep.clan.members[0].town_hall == 15 and prep.clan.members[0].map_position == 1

    war.begin_battle()
    war.attack("#A1", "#B1", 2, 90)
    war.attack("#B2", "#A2", 3, 100, duration=175)
    live = await live_client.get_clan_war(HOME)
    assert live.state == "inWar" and live.status == "losing"
    assert [
        (a.order, a.attacker_tag, a.defender_tag, a.stars, a.destruction) for a in live.attacks
    ] == [
        (2, "#B2", "#A2", 3, 100),
        (1, "#A1", "#B1", 2, 90),
    ]  # coc.py sorts newest first
    assert live.get_attack("#B2", "#A2").duration == 175
    assert live.clan.stars == 2 and live.opponent.stars == 3
    assert live.clan.destruction == 22.5 and live.opponent.destruction == 25
    assert live.get_member("#A2").best_opponent_attack.attacker_tag == "#B2"
    assert live.get_member("#A2").defense_count == 1

    # The opponent's currentwar is the same war from its side.
    raw = await live_client.http.get_clan_current_war(AWAY)
    assert raw["clan"]["tag"] == AWAY and raw["opponent"]["tag"] == HOME
    theirs = await live_client.get_clan_war(AWAY)
    assert theirs.clan.tag == AWAY and theirs.status == "winning"

    war.end()
    ended = await live_client.get_current_war(HOME)
    assert ended is not None and ended.state == "warEnded" and ended.status == "lost"
    assert live_api.count("/v1/clans/%232PP/currentwar/leaguegroup") == 0  # not needed

    log = await live_client.get_war_log(HOME)
    assert list(log) == []
    live_api.set_war_log(HOME, [war.log_entry(HOME)])
    (entry,) = await live_client.get_war_log(HOME)
    assert entry.result == "lose" and not entry.is_league_entry
    assert (entry.clan.tag, entry.opponent.tag, entry.team_size) == (HOME, AWAY, 4)
    assert entry.clan.stars == 2 and entry.clan.exp_earned == 10
    assert entry.end_time.time == war.end_time.replace(tzinfo=None)


async def test_not_in_war(api: FakeCocApi, client: coc.Client) -> None:
    war = await client.get_clan_war("#QUIET")
    assert war.state == "notInWar" and war.clan.tag is None and war.attacks == []
    # get_current_war then asks for a league group: 404, so the notInWar war is returned.
    current = await client.get_current_war("#QUIET2")
    assert current is not None and current.state == "notInWar"
    assert api.count("#QUIET2") == 2

    api.set_war(HOME, _full_war(cwl=False, state="inWar"))
    assert (await client.get_clan_war(HOME)).state == "inWar"
    api.set_war(HOME, None)
    fresh = await client.http.get_clan_current_war(HOME, lookup_cache=False)
    assert fresh["state"] == "notInWar"


async def test_private_war_log(api: FakeCocApi, client: coc.Client) -> None:
    api.serve_war(_scripted())
    api.set_war_log_private(HOME, True)
    with pytest.raises(coc.PrivateWarLog) as info:
        await client.get_clan_war(HOME)
    assert (info.value.status, info.value.reason) == (403, "accessDenied")
    with pytest.raises(coc.PrivateWarLog):
        await client.get_war_log(HOME)
    # No CWL either: get_current_war turns the leaguegroup 404 into PrivateWarLog too.
    with pytest.raises(coc.PrivateWarLog):
        await client.get_current_war(HOME)
    assert (await client.get_clan_war(AWAY)).clan.tag == AWAY  # the other clan's log is public

    # The recorded 403 carries max-age=120: coc.py answers from its cache meanwhile.
    api.set_war_log_private(HOME, False)
    requests = api.count(HOME)
    with pytest.raises(coc.PrivateWarLog):
        await client.get_clan_war(HOME)
    assert api.count(HOME) == requests
    fresh = await client.http.get_clan_current_war(HOME, lookup_cache=False)
    assert fresh["state"] == "preparation"


async def test_league_group_not_found(api: FakeCocApi, client: coc.Client) -> None:
    with pytest.raises(coc.NotFound) as info:
        await client.get_league_group("#NCWL")
    assert (info.value.status, info.value.reason) == (404, "notFound")
    # "public max-age=600" as recorded: coc.py keeps raising from its cache for 10 minutes.
    api.set_league_group("#NCWL", _week().group_body())
    with pytest.raises(coc.NotFound):
        await client.get_league_group("#NCWL")
    assert api.count("/v1/clans/%23NCWL/currentwar/leaguegroup") == 1
    group = await client.get_league_group("#NCWL", lookup_cache=False)
    assert group.state == "preparation"
    with pytest.raises(coc.NotFound):
        await client.get_league_war("#0")


async def test_cwl_week_through_coc(live_api: FakeCocApi, live_client: coc.Client) -> None:
    week = _week()
    live_api.serve_league(week)
    clan = "#C0"

    group = await live_client.get_league_group(clan)
    assert (group.state, group.season, group.number_of_rounds) == ("preparation", "2026-03", 7)
    assert group.rounds == [list(week.rounds[0])]  # coc.py drops the "#0" rounds
    assert [c.tag for c in group.clans] == week.clan_tags
    assert [(m.tag, m.town_hall) for m in group.clans[0].members][:2] == [
        ("#P00", 12),
        ("#P01", 13),
    ]
    assert len(group.clans[0].members) == 5  # the whole roster, not only the lineup
    assert await live_client.get_current_war(clan) is None  # coc.py: nothing at war yet

    week.advance()
    war = week.war_of(clan, 1)
    later = week.war_of(clan, 3)
    with pytest.raises(coc.NotFound):
        await live_client.get_league_war(later.war_tag or "")  # round 3 not drawn yet
    ours = war.lineups[clan][0]["tag"]
    enemy_tag = war.opponent_tag if war.clan_tag == clan else war.clan_tag
    theirs = war.lineups[enemy_tag][0]["tag"]
    war.attack(ours, theirs, 2, 77, duration=120)

    league_war = await live_client.get_league_war(war.war_tag or "")
    assert league_war.is_cwl and league_war.war_tag == war.war_tag
    assert league_war.state == "inWar" and league_war.attacks_per_member == 1
    assert league_war.team_size == 3
    (made,) = league_war.attacks
    assert (made.order, made.stars, made.destruction, made.duration) == (1, 2, 77, 120)

    # notInWar at currentwar during CWL; coc.py finds the round war and turns it to our side.
    assert (await live_client.get_clan_war(clan)).state == "notInWar"
    current = await live_client.get_current_war(clan)
    assert current is not None and current.is_cwl and current.war_tag == war.war_tag
    assert current.clan.tag == clan and current.opponent.tag == enemy_tag
    assert current.clan.stars == 2
    prep = await live_client.get_current_war(clan, cwl_round=coc.WarRound.current_preparation)
    assert prep is not None and prep.state == "preparation"
    assert prep.war_tag == week.war_of(clan, 2).war_tag

    while week.state != "ended":
        week.advance()
    group = await live_client.get_league_group(clan)
    assert group.state == "ended" and len(group.rounds) == 7
    live_api.set_war_log(clan, [week.log_entry(clan)])
    (season,) = await live_client.get_war_log(clan)
    assert season.is_league_entry and season.result is None and season.opponent is None
    assert season.attacks_per_member == 1 and season.clan.attacks_used == 1


async def test_war_log_pages(api: FakeCocApi, client: coc.Client) -> None:
    entries = _recorded_log(cwl=False)[:5]
    api.set_war_log(HOME, entries)
    page = await client.http.get_clan_war_log(HOME, limit=2, lookup_cache=False)
    assert page["items"] == entries[:2] and set(page["paging"]["cursors"]) == {"after"}
    after = page["paging"]["cursors"]["after"]
    page2 = await client.http.get_clan_war_log(HOME, limit=2, after=after, lookup_cache=False)
    assert page2["items"] == entries[2:4]
    log = await client.get_war_log(HOME)
    assert [e.end_time.raw_time for e in log] == [e["endTime"] for e in entries]


async def test_faults_apply_to_war_routes(api: FakeCocApi, client: coc.Client) -> None:
    week = _week()
    week.advance()
    api.serve_league(week)
    war_tag = next(iter(week.rounds[0]))
    api.serve_war(_scripted())

    api.fail(HOME, 503)  # a clan tag covers all its war routes
    for call in (client.get_clan_war, client.get_war_log, client.get_league_group):
        with pytest.raises(coc.Maintenance):
            await call(HOME)
    api.fail(HOME, None)
    assert api.count(HOME) == 3

    api.fail(war_tag, 404, times=1)  # a war tag is its own key
    with pytest.raises(coc.NotFound):
        await client.get_league_war(war_tag)
    assert (await client.get_league_war(war_tag)).war_tag == war_tag
    assert api.count(war_tag) == 2

    api.fail("/v1/clans/%23c0/currentwar/leaguegroup", 403, times=1)  # an exact path
    with pytest.raises(coc.PrivateWarLog):
        await client.get_league_group("#C0")
    assert (await client.get_clan_war("#C0")).state == "notInWar"

    api.set_global_fault(429, times=1)
    with pytest.raises(coc.HTTPException) as info:
        await client.get_league_war(next(iter(week.rounds[1])))
    assert info.value.status == 429
    api.set_maintenance(True)
    with pytest.raises(coc.Maintenance):
        await client.get_clan_war("#C1")
    api.set_maintenance(False)

    api.set_garbage(AWAY, "json")
    with pytest.raises(orjson.JSONDecodeError):
        await client.get_clan_war(AWAY)
    api.set_garbage(AWAY, None)
    assert (await client.get_clan_war(AWAY)).clan.tag == AWAY

    api.set_delay(0.2)
    async with aiohttp.ClientSession(headers=AUTH) as session:
        with pytest.raises(asyncio.TimeoutError):
            async with session.get(
                f"{api.base_url}/clans/%232PP/warlog", timeout=aiohttp.ClientTimeout(total=0.02)
            ):
                pass
    api.set_delay(0)


async def test_war_tag_paths_are_decoded(api: FakeCocApi) -> None:
    week = _week()
    api.serve_league(week)
    war_tag = next(iter(week.rounds[0]))
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    writer.write(
        f"GET /v1/clanwarleagues/wars/{war_tag.lower()} HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer test-token\r\nConnection: close\r\n\r\n".encode()
    )
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert response.startswith(b"HTTP/1.1 200")
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.get(f"{api.base_url}/clanwarleagues/wars/{war_tag[1:].lower()}") as r:
            assert r.status == 200
        async with session.get(f"{api.base_url}/clans/c0/currentwar/leaguegroup") as r:
            assert r.status == 200
    path = f"/v1/clanwarleagues/wars/{war_tag}"
    assert api.requests == [
        ("GET", path),
        ("GET", path),
        ("GET", "/v1/clans/#C0/currentwar/leaguegroup"),
    ]
    assert api.count(f"/v1/clanwarleagues/wars/%23{war_tag[1:].lower()}") == 2
    assert api.count(war_tag) == 2 and api.count("#C0") == 1
