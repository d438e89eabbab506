"""Tests of the fake Clash of Clans API against the real coc.py 4.0.0 client."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import coc
import coc.http
import orjson
import pytest

from .coc_api import (
    MAINTENANCE_PROBE_TAG,
    FakeCocApi,
    load_payload,
    make_clan,
    make_player,
    normalise_tag,
)

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def api() -> AsyncIterator[FakeCocApi]:
    fake = FakeCocApi()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def _client(api: FakeCocApi, *tokens: str, **kwargs: Any) -> coc.Client:
    client = coc.Client(base_url=api.base_url, throttle_limit=1000, **kwargs)
    await client.login_with_tokens(*(tokens or (TOKEN,)))
    return client


@pytest.fixture
async def client(api: FakeCocApi) -> AsyncIterator[coc.Client]:
    c = await _client(api)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def retry_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make coc.py's retry back-off sleeps instant and record how long they would have been."""
    real_sleep = asyncio.sleep
    recorded: list[float] = []

    async def fast_sleep(delay: float, result: Any = None) -> Any:
        if delay >= 1:  # the retry back-off (the throttler sleeps far less than 1 s)
            recorded.append(delay)
        return await real_sleep(0, result)

    shim = types.ModuleType("asyncio_shim")
    shim.__getattr__ = lambda name: getattr(asyncio, name)  # type: ignore[method-assign]
    shim.sleep = fast_sleep  # type: ignore[attr-defined]
    monkeypatch.setattr(coc.http, "asyncio", shim)
    return recorded


# --------------------------------------------------------------------------- payload builders


def test_load_payload_is_a_fresh_copy() -> None:
    first = load_payload("player_th18")
    first["troops"].clear()
    assert load_payload("player_th18")["troops"]
    assert load_payload("verifytoken_ok")["status"] == "ok"


def test_make_player_shape() -> None:
    player = make_player(
        "2pp",
        name="Alice",
        town_hall=9,
        trophies=1500,
        clan=("#2yy", "Clan A"),
        role="co_leader",
        capital_contributions=1234,
        league="Wizard League 11",
    )
    template = load_payload("player_th18")
    assert player["tag"] == "#2PP"
    assert player["clan"]["tag"] == "#2YY"
    assert player["role"] == "coLeader"
    assert player["bestTrophies"] == 1500
    assert player["leagueTier"]["id"] == 105000011
    assert "legendStatistics" not in player
    assert [h["name"] for h in player["heroes"]] == [
        "Barbarian King",
        "Archer Queen",
        "Battle Machine",
        "Battle Copter",
        "Minion Prince",
    ]
    assert player["heroes"][0]["level"] == 30  # clamped to the TH9 cap
    assert len(player["troops"]) == len(template["troops"])
    achievements = {a["name"]: a for a in player["achievements"]}
    assert achievements["Most Valuable Clanmate"]["value"] == 1234
    assert achievements["Most Valuable Clanmate"]["completionInfo"].endswith(": 1234")
    assert achievements["Bigger & Better"]["value"] == 9
    assert set(player) <= set(template) | {"role", "clan"}

    clanless = make_player("#QQ", heroes={"Barbarian King": 5, "Battle Machine": 3})
    assert "clan" not in clanless and "role" not in clanless
    assert clanless["leagueTier"]["name"] == "Unranked"
    assert [(h["name"], h["level"], h["village"]) for h in clanless["heroes"]] == [
        ("Barbarian King", 5, "home"),
        ("Battle Machine", 3, "builderBase"),
    ]


def test_make_clan_ranks_members() -> None:
    members = [
        make_player("#A", trophies=100, league="Barbarian League 4"),
        make_player("#B", trophies=5200, league="Legend League", role="leader", clan=("#C", "C")),
        make_player("#C", trophies=2500, league="Barbarian League 4"),
    ]
    clan = make_clan("#c", members, name="Crew")
    assert clan["tag"] == "#C" and clan["name"] == "Crew" and clan["members"] == 3
    ranked = [(m["tag"], m["clanRank"], m["role"]) for m in clan["memberList"]]
    assert ranked == [("#B", 1, "leader"), ("#C", 2, "member"), ("#A", 3, "member")]
    assert clan["memberList"][0]["league"]["name"] == "Legend League"
    assert clan["clanPoints"] == int((5200 + 2500 + 100) * 0.5)
    assert members[0].get("clanRank") is None  # inputs untouched


# --------------------------------------------------------------------------- happy paths


async def test_get_player_round_trip(api: FakeCocApi, client: coc.Client) -> None:
    payload = make_player(
        "#2PP",
        name="Alice",
        town_hall=16,
        trophies=4321,
        best_trophies=5100,
        exp_level=220,
        donations=77,
        received=55,
        attack_wins=12,
        defense_wins=3,
        war_stars=999,
        builder_trophies=3900,
        clan=("#2YY", "Clan A"),
        role="elder",
        capital_contributions=123456,
        league="Electro League 31",
    )
    api.set_player(payload)
    player = await client.get_player("#2pp")
    assert player.tag == "#2PP"
    assert player.name == "Alice"
    assert player.town_hall == 16
    assert player.trophies == 4321
    assert player.best_trophies == 5100
    assert player.exp_level == 220
    assert (player.donations, player.received) == (77, 55)
    assert (player.attack_wins, player.defense_wins, player.war_stars) == (12, 3, 999)
    assert player.builder_base_trophies == 3900
    assert player.clan is not None and (player.clan.tag, player.clan.name) == ("#2YY", "Clan A")
    assert player.role == coc.Role.elder
    assert player.clan_capital_contributions == 123456
    assert player.league is not None
    assert (player.league.id, player.league.name) == (105000031, "Electro League 31")
    assert player.legend_statistics is not None
    assert player.get_hero("Barbarian King").level == 95  # clamped to the TH16 cap
    assert player.troops and player.spells and player.achievements
    assert player.get_achievement("War Hero").value == 999
    assert api.count("#2PP") == 1


async def test_headers_match_recorded_api(api: FakeCocApi) -> None:
    api.set_player(make_player("#2PP"))
    api.set_clan(make_clan("#2YY", [make_player("#2PP")]))
    expected = {
        "/players/%232PP": "max-age=60",
        "/clans/%232YY": "max-age=91",
        "/clans/%232YY/members": "max-age=120",
    }
    async with aiohttp.ClientSession(headers=AUTH) as session:
        for path, cache_control in expected.items():
            async with session.get(api.base_url + path) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "application/json; charset=utf-8"
                assert response.headers["Cache-Control"] == cache_control
                assert isinstance(await response.json(), dict)
        async with session.get(api.base_url + "/players/%23NOPE") as response:
            assert response.status == 404
            assert "Cache-Control" not in response.headers  # faults are not cached by coc.py
            assert await response.json() == {"reason": "notFound", "message": "Not found"}


async def test_raw_dict_and_client_cache(api: FakeCocApi, client: coc.Client) -> None:
    payload = make_player("#2PP", trophies=1000)
    api.set_player(payload)
    raw = await client.http.get_player("#2PP", lookup_cache=False)
    assert raw["trophies"] == 1000 and raw["status_code"] == 200
    assert raw["_response_retry"] == 60
    assert {k: v for k, v in raw.items() if k in payload} == payload

    # lookup_cache=False still stored the answer: get_player is served from coc.py's cache.
    api.set_player(make_player("#2PP", trophies=1100))
    assert (await client.get_player("#2PP")).trophies == 1000
    assert (await client.http.get_player("#2PP", lookup_cache=False))["trophies"] == 1100
    assert api.count("#2PP") == 2


async def test_clan_and_members(api: FakeCocApi, client: coc.Client) -> None:
    players = [
        make_player(f"#P{i}", name=f"M{i}", trophies=1000 + i, clan=("#CL", "Crew"))
        for i in range(5)
    ]
    api.bulk_set_players(players)
    api.set_clan(make_clan("#CL", players, name="Crew"))
    clan = await client.get_clan("#CL")
    assert (clan.tag, clan.name, clan.member_count) == ("#CL", "Crew", 5)
    assert [m.tag for m in clan.members] == ["#P4", "#P3", "#P2", "#P1", "#P0"]
    assert clan.members[0].clan_rank == 1 and clan.members[0].trophies == 1004

    members = await client.get_members("#CL")
    assert [m.name for m in members] == ["M4", "M3", "M2", "M1", "M0"]
    assert all(m.league.name == "Unranked" for m in members)  # leagueTier, not legacy league

    page = await client.http.get_clan_members("#CL", limit=2, lookup_cache=False)
    assert [m["tag"] for m in page["items"]] == ["#P4", "#P3"]
    after = page["paging"]["cursors"]["after"]
    page2 = await client.http.get_clan_members("#CL", limit=2, after=after, lookup_cache=False)
    assert [m["tag"] for m in page2["items"]] == ["#P2", "#P1"]
    assert set(page2["paging"]["cursors"]) == {"before", "after"}

    with pytest.raises(coc.NotFound):
        await client.get_clan("#NOCLAN")
    assert api.count("#CL") == 4


async def test_verify_player_token(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP"))
    api.set_token_valid("#2pp", "abc123")
    assert await client.verify_player_token("#2PP", "abc123") is True
    assert await client.verify_player_token("#2PP", "wrong") is False
    raw = await client.http.verify_player_token("#2PP", "wrong", lookup_cache=False)
    assert (raw["tag"], raw["token"], raw["status"]) == ("#2PP", "wrong", "invalid")
    with pytest.raises(coc.NotFound):
        await client.verify_player_token("#UNKNOWN", "abc123")
    api.remove_player("#2PP")
    with pytest.raises(coc.NotFound):
        await client.verify_player_token("#2PP", "abc123")
    assert api.count("/v1/players/%232PP/verifytoken") == 4


async def test_background_routes(api: FakeCocApi, client: coc.Client) -> None:
    probe = await client.get_player(MAINTENANCE_PROBE_TAG)
    assert probe.tag == MAINTENANCE_PROBE_TAG
    season = await client.get_current_goldpass_season()
    assert season.start_time is not None and season.end_time is not None
    raids = await client.http.request(
        coc.http.Route("GET", api.base_url, "/clans/#2PP/capitalraidseasons", limit=1)
    )
    assert raids["items"] == []


async def test_literal_hash_and_loose_tags(api: FakeCocApi) -> None:
    api.set_player(make_player("#2PP"))
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    writer.write(
        b"GET /v1/players/#2pp HTTP/1.1\r\nHost: x\r\n"
        b"Authorization: Bearer test-token\r\nConnection: close\r\n\r\n"
    )
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    assert response.startswith(b"HTTP/1.1 200")
    assert b'"tag":"#2PP"' in response
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.get(api.base_url + "/players/2pp") as resp:
            assert resp.status == 200
        async with session.get(api.base_url + "/nothing/here") as resp:
            assert resp.status == 404
            assert (await resp.json())["reason"] == "notFound"
    assert api.requests[:2] == [("GET", "/v1/players/#2PP"), ("GET", "/v1/players/#2PP")]
    assert api.count("/v1/players/#2pp") == 2
    assert normalise_tag(" #abc") == "#ABC"


# --------------------------------------------------------------------------- errors


async def test_not_found(api: FakeCocApi, client: coc.Client) -> None:
    with pytest.raises(coc.NotFound) as info:
        await client.get_player("#NOPE")
    assert info.value.status == 404 and info.value.reason == "notFound"
    api.set_player(make_player("#2PP"))
    await client.http.get_player("#2PP", lookup_cache=False)
    api.remove_player("#2PP")
    with pytest.raises(coc.NotFound):
        await client.http.get_player("#2PP", lookup_cache=False)


async def test_forbidden(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP"))
    api.fail("#2PP", 403)
    with pytest.raises(coc.Forbidden) as info:
        await client.get_player("#2PP")
    assert info.value.reason == "accessDenied"
    api.fail("#2PP", 403, "accessDenied.invalidIp")
    with pytest.raises(coc.Forbidden) as info:
        await client.get_player("#2PP")
    assert info.value.reason == "accessDenied.invalidIp"
    api.fail("#2PP", None)
    assert (await client.get_player("#2PP")).tag == "#2PP"


async def test_bad_token(api: FakeCocApi) -> None:
    api.set_player(make_player("#2PP"))
    bad = await _client(api, "not-a-token")
    try:
        with pytest.raises(coc.Forbidden) as info:
            await bad.get_player("#2PP")
        assert info.value.status == 403 and info.value.reason == "accessDenied"
    finally:
        await bad.close()
    assert api.count() == 1


async def test_throttled_429_not_retried(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP"))
    api.fail("#2PP", 429)
    with pytest.raises(coc.HTTPException) as info:
        await client.get_player("#2PP")
    assert type(info.value) is coc.HTTPException
    assert (info.value.status, info.value.reason) == (429, "requestThrottled")
    assert api.count("#2PP") == 1


async def test_maintenance(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP"))
    api.set_maintenance(True)
    with pytest.raises(coc.Maintenance) as info:
        await client.get_player("#2PP")
    assert info.value.reason == "inMaintenance"
    with pytest.raises(coc.Maintenance):
        await client.get_clan("#ANY")
    api.set_maintenance(False)
    api.fail("#2PP", 503, times=1)
    with pytest.raises(coc.Maintenance):
        await client.get_player("#2PP")
    assert (await client.get_player("#2PP")).tag == "#2PP"
    assert api.count("#2PP") == 3


async def test_fail_times_recovers(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP"))
    api.fail("/v1/players/%232pp", 404, times=2)
    for _ in range(2):
        with pytest.raises(coc.NotFound):
            await client.get_player("#2PP")
    assert (await client.get_player("#2PP")).tag == "#2PP"
    api.fail("#2PP", 400, times=1)
    with pytest.raises(coc.InvalidArgument):
        await client.http.get_player("#2PP", lookup_cache=False)
    assert (await client.http.get_player("#2PP", lookup_cache=False))["tag"] == "#2PP"

    api.fail("#2PP", 404)
    api.fail("/v1/players/#2PP", 403)  # an exact path wins over its tag
    with pytest.raises(coc.Forbidden):
        await client.http.get_player("#2PP", lookup_cache=False)
    api.fail("#2PP", None)  # clearing a tag also clears the paths of that tag
    assert (await client.http.get_player("#2PP", lookup_cache=False))["tag"] == "#2PP"


async def test_error_max_age_makes_coc_cache_errors() -> None:
    async with FakeCocApi(error_max_age=60) as api:
        api.set_player(make_player("#2PP"))
        client = await _client(api)
        try:
            api.fail("#2PP", 404, times=1)
            for _ in range(2):
                with pytest.raises(coc.NotFound):
                    await client.get_player("#2PP")
            assert api.count("#2PP") == 1  # the second NotFound came from coc.py's cache
            assert (await client.http.get_player("#2PP", lookup_cache=False))["tag"] == "#2PP"
        finally:
            await client.close()


async def test_global_fault(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP"))
    api.set_global_fault(429, times=1)
    with pytest.raises(coc.HTTPException) as info:
        await client.get_player("#2PP")
    assert info.value.status == 429
    assert (await client.get_player("#2PP")).tag == "#2PP"
    api.set_global_fault(403, reason="accessDenied.invalidIp")
    with pytest.raises(coc.Forbidden):
        await client.get_clan("#ANY")
    api.set_global_fault(None)
    with pytest.raises(coc.NotFound):
        await client.get_clan("#ANY")


async def test_500_is_retried_five_times(
    api: FakeCocApi, client: coc.Client, retry_sleeps: list[float]
) -> None:
    api.set_player(make_player("#2PP"))
    api.fail("#2PP", 500, times=2)
    assert (await client.get_player("#2PP")).tag == "#2PP"
    assert retry_sleeps == [1, 3]
    assert api.count("#2PP") == 3

    retry_sleeps.clear()
    api.fail("#2PP", 502)
    with pytest.raises(coc.GatewayError) as info:
        await client.http.get_player("#2PP", lookup_cache=False)
    assert info.value.status == 502
    assert retry_sleeps == [1, 3, 5, 7, 9]  # 25 s of back-off in real time
    assert api.count("#2PP") == 8


async def test_delay_causes_timeouts(api: FakeCocApi, retry_sleeps: list[float]) -> None:
    api.set_player(make_player("#2PP"))
    api.set_delay(0.2)
    slow = await _client(api, timeout=0.02)
    try:
        with pytest.raises(coc.GatewayError):
            await slow.get_player("#2PP")
    finally:
        await slow.close()
    assert retry_sleeps == [1, 3, 5, 7]  # the fifth timeout raises at once
    assert api.count("#2PP") == 5
    api.set_delay(0)


# --------------------------------------------------------------------------- garbage bodies


async def test_garbage_bodies(api: FakeCocApi, client: coc.Client) -> None:
    for tag in ("#J", "#T", "#H", "#E"):
        api.set_player(make_player(tag))
    api.set_garbage("#J", "json")
    api.set_garbage("#T", "truncated")
    api.set_garbage("#H", "html")
    api.set_garbage("/v1/players/%23E", "empty")

    # Invalid JSON: orjson's decode error escapes coc.py unwrapped (a ValueError).
    with pytest.raises(orjson.JSONDecodeError):
        await client.get_player("#J")
    # A body shorter than its Content-Length: aiohttp's ClientPayloadError escapes.
    with pytest.raises(aiohttp.ClientPayloadError):
        await client.get_player("#T")
    # text/html: coc.py returns the text, and building the Player fails.
    assert await client.http.get_player("#H", lookup_cache=False) == (
        "<html><body><h1>502 Bad Gateway</h1></body></html>"
    )
    with pytest.raises(AttributeError):
        await client.get_player("#H")
    # Empty JSON body: no error at all; an empty Player, cached for max-age.
    empty = await client.get_player("#E")
    assert empty.tag is None and empty.town_hall is None
    api.set_garbage("#E", None)
    assert (await client.get_player("#E")).tag is None  # still the cached empty one
    assert (await client.http.get_player("#E", lookup_cache=False))["tag"] == "#E"

    for tag in ("#J", "#T", "#H"):
        api.set_garbage(tag, None)
        assert (await client.get_player(tag)).tag == tag  # nothing was cached
    with pytest.raises(ValueError):
        api.set_garbage("#J", "bogus")


# --------------------------------------------------------------------------- counting


async def test_request_counts(api: FakeCocApi, client: coc.Client) -> None:
    api.set_player(make_player("#2PP", clan=("#2PP", "Same tag")))
    api.set_clan(make_clan("#2PP", [make_player("#2PP")]))
    api.set_token_valid("#2PP", "t")
    await client.get_player("#2PP")
    await client.get_clan("#2PP")
    await client.get_members("#2PP")
    await client.verify_player_token("#2PP", "t")
    with pytest.raises(coc.NotFound):
        await client.get_player("#QQQ")
    assert api.count() == 5
    assert api.count("#2pp") == 4
    assert api.count("/v1/clans/%232PP/members") == 1
    assert api.count("/v1/clans/#2PP") == 1
    assert api.count("#QQQ") == 1
    assert api.requests[-1] == ("GET", "/v1/players/#QQQ")
    assert ("POST", "/v1/players/#2PP/verifytoken") in api.requests
    api.reset_counts()
    assert api.count() == 0 and api.count("#2PP") == 0 and api.requests == []


async def test_many_players(api: FakeCocApi) -> None:
    api.bulk_set_players(make_player(f"#Q{i}", trophies=i) for i in range(300))
    async with aiohttp.ClientSession(headers=AUTH) as session:

        async def fetch(i: int) -> int:
            async with session.get(f"{api.base_url}/players/%23Q{i}") as response:
                return int((await response.json())["trophies"])

        results = await asyncio.gather(*(fetch(i) for i in range(300)))
    assert results == list(range(300))
    assert api.count() == 300


async def test_per_key_rate_limit() -> None:
    async with FakeCocApi(tokens=("k1", "k2"), key_rate=5) as api:
        api.set_player(make_player("#2PP"))
        url = f"{api.base_url}/players/%232PP"
        async with aiohttp.ClientSession() as session:

            async def fetch(token: str) -> tuple[int, Any, str | None]:
                headers = {"Authorization": f"Bearer {token}"}
                async with session.get(url, headers=headers) as response:
                    return (
                        response.status,
                        await response.json(),
                        response.headers.get("Cache-Control"),
                    )

            first = [await fetch("k1") for _ in range(7)]
            other = [await fetch("k2") for _ in range(5)]
            assert [s for s, _, _ in first] == [200] * 5 + [429] * 2
            assert [s for s, _, _ in other] == [200] * 5
            _, body, cache = first[-1]
            assert body["reason"] == "requestThrottled" and body["message"]
            assert cache is None  # coc.py does not cache a throttled answer
            assert api.throttled == {"k1": 2}
            await asyncio.sleep(1.05)  # the window slides: the key may ask again
            assert (await fetch("k1"))[0] == 200
        # coc.py raises a plain HTTPException with status 429 (not retried).
        client = coc.Client(base_url=api.base_url, throttle_limit=1000)
        await client.login_with_tokens("k2")
        try:
            with pytest.raises(coc.HTTPException) as raised:
                for _ in range(6):
                    await client.http.get_player("#2PP", lookup_cache=False)
            assert raised.value.status == 429
        finally:
            await client.close()
        assert api.throttled == {"k1": 2, "k2": 1}


async def test_sources_render_per_request(api: FakeCocApi, client: coc.Client) -> None:
    trophies = {"#2PP": 4000}
    members = [make_player("#2PP", clan=("#8QQ", "Made"))]
    api.set_source(
        "player", lambda tag: make_player(tag, trophies=trophies[tag]) if tag in trophies else None
    )
    api.set_source("clan", lambda tag: make_clan(tag, members) if tag == "#8QQ" else None)
    api.set_source("battlelog", lambda tag: [{"n": trophies[tag]}])
    assert (await client.http.get_player("#2PP", lookup_cache=False))["trophies"] == 4000
    trophies["#2PP"] = 4100
    assert (await client.http.get_player("#2PP", lookup_cache=False))["trophies"] == 4100
    assert (await client.get_clan("#8QQ")).member_count == 1
    async with aiohttp.ClientSession(headers=AUTH) as session:
        async with session.get(f"{api.base_url}/clans/%238QQ/members") as response:
            assert [m["tag"] for m in (await response.json())["items"]] == ["#2PP"]
        async with session.get(f"{api.base_url}/players/%232PP/battlelog") as response:
            assert (await response.json()) == {"items": [{"n": 4100}]}
        async with session.get(f"{api.base_url}/players/%23QQQ/battlelog") as response:
            assert response.status == 404
    with pytest.raises(coc.NotFound):
        await client.get_player("#QQQ")
    api.set_player(make_player("#2PP", trophies=1))  # a set payload wins
    assert (await client.http.get_player("#2PP", lookup_cache=False))["trophies"] == 1
    with pytest.raises(ValueError):
        api.set_source("war", lambda tag: None)
