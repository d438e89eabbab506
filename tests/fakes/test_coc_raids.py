"""The fake API's raid weekends and clan games achievements, read by the real coc.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import coc
import pytest

from bot.raids.parse import parse_seasons

from .coc_api import FakeCocApi, make_clan, make_player
from .raids import RaidSeasons, RaidWeekend, recorded_weekend

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLAN = "#2PP"
RAIDS = "/clans/%232PP/capitalraidseasons"
FRIDAY = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


@pytest.fixture
async def api() -> AsyncIterator[FakeCocApi]:
    fake = FakeCocApi()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def client(api: FakeCocApi) -> AsyncIterator[coc.Client]:
    c = coc.Client(base_url=api.base_url, throttle_limit=1000)
    await c.login_with_tokens(TOKEN)
    try:
        yield c
    finally:
        await c.close()


async def fetch(api: FakeCocApi, path: str) -> tuple[int, bytes, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.base_url + path, headers=AUTH) as response,
    ):
        return response.status, await response.read(), dict(response.headers)


async def get(api: FakeCocApi, path: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A 200's JSON body and headers, straight from the fake (no coc.py cache between)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.base_url + path, headers=AUTH) as response,
    ):
        assert response.status == 200
        return await response.json(), dict(response.headers)


async def test_a_clan_without_weekends_answers_an_empty_list(
    api: FakeCocApi, client: coc.Client
) -> None:
    api.set_clan(make_clan(CLAN, [make_player("#8QQ")]))
    for path in (RAIDS, "/clans/%23UNKNOWN9/capitalraidseasons"):  # known clan, unknown clan
        body, headers = await get(api, path)
        assert body == {"items": [], "paging": {"cursors": {}}}
        assert headers["Cache-Control"] == "max-age=60"
        assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert list(await client.get_raid_log("#UNKNOWN9")) == []


async def test_a_live_weekend_is_read_by_coc_as_it_stands(
    api: FakeCocApi, client: coc.Client
) -> None:
    weekend = RaidWeekend(FRIDAY)
    api.serve_raids(CLAN, [weekend])
    weekend.attack("#8QQ", "Ann", 3_000, attacks=2)
    [entry] = await client.get_raid_log(CLAN, limit=1)
    assert isinstance(entry, coc.RaidLogEntry)
    assert entry.state == "ongoing" and entry.start_time.time == FRIDAY.replace(tzinfo=None)
    assert entry.end_time.time == (FRIDAY + timedelta(days=3)).replace(tzinfo=None)
    assert (entry.offensive_reward, entry.defensive_reward) == (0, 0)
    assert [(m.tag, m.attack_count, m.capital_resources_looted) for m in entry.members] == [
        ("#8QQ", 2, 3_000)
    ]
    assert len(entry.get_member("#8QQ").attacks) == 2  # from the attack log
    weekend.attack("#8QQ", "Ann", 4_000, attacks=4, bonus=True)
    weekend.attack("#8RR", "Bob", 1_000)
    # Another limit is another URL: coc.py's 60 s cache does not answer it.
    [entry] = await client.get_raid_log(CLAN, limit=2)
    assert entry.state == "ongoing" and entry.attack_count == 7 and entry.total_loot == 8_000
    assert [(m.tag, m.attack_count, m.bonus_attack_limit) for m in entry.members] == [
        ("#8QQ", 6, 1),
        ("#8RR", 1, 0),
    ]
    assert len(entry.get_member("#8QQ").attacks) == 6


async def test_end_weekend_sets_the_state_and_rewards(api: FakeCocApi) -> None:
    weekend = RaidWeekend(FRIDAY, raids_completed=3, districts_destroyed=21)
    api.serve_raids(CLAN, [weekend])
    weekend.attack("#8QQ", "Ann", 7_000, attacks=6, bonus=True)
    body, _ = await get(api, RAIDS)
    assert body["items"][0]["state"] == "ongoing" and body["items"][0]["offensiveReward"] == 0
    weekend.end_weekend(offensive_reward=420, defensive_reward=90)
    body, _ = await get(api, RAIDS)
    [item] = body["items"]
    assert item["state"] == "ended"
    assert (item["offensiveReward"], item["defensiveReward"]) == (420, 90)
    assert (item["raidsCompleted"], item["enemyDistrictsDestroyed"]) == (3, 21)
    [parsed] = parse_seasons(body, CLAN)
    assert parsed.state == "ended" and [(m.tag, m.attacks, m.looted) for m in parsed.members] == [
        ("#8QQ", 6, 7_000)
    ]


def test_the_body_has_the_recorded_shape() -> None:
    recorded = recorded_weekend()
    weekend = RaidWeekend(FRIDAY, state="ended")
    weekend.attack("#8QQ", "Ann", 1_000)
    body = weekend.body()
    assert list(body) == list(recorded)
    assert list(body["members"][0]) == list(recorded["members"][0])
    assert list(body["attackLog"][0]) == list(recorded["attackLog"][0])
    assert list(body["attackLog"][0]["districts"][0]) == list(
        recorded["attackLog"][0]["districts"][0]
    )
    assert body["startTime"] == "20261120T070000.000Z"
    assert RaidWeekend(FRIDAY).body()["members"] == []  # nobody attacked: nobody listed


def test_more_attacks_than_the_limit_are_refused() -> None:
    weekend = RaidWeekend(FRIDAY)
    weekend.attack("#8QQ", "Ann", 1, attacks=5)
    with pytest.raises(ValueError):
        weekend.attack("#8QQ", "Ann", 1)
    assert weekend.body()["members"][0]["attacks"] == 5  # the refused attack changed nothing
    weekend.attack("#8QQ", "Ann", 1, bonus=True)  # the bonus attack
    with pytest.raises(ValueError):
        weekend.attack("#8QQ", "Ann", 1, bonus=True)
    with pytest.raises(ValueError):
        weekend.attack("#8RR", "Bob", 1, attacks=7, bonus=True)
    assert [(m["tag"], m["attacks"]) for m in weekend.body()["members"]] == [("#8QQ", 6)]
    with pytest.raises(ValueError):
        RaidWeekend(FRIDAY, state="preparation")


async def test_the_recorded_weekend_round_trips(api: FakeCocApi, client: coc.Client) -> None:
    recorded = recorded_weekend()
    api.set_raid_seasons(CLAN, [recorded])
    body, _ = await get(api, RAIDS)
    assert body["items"] == [recorded]
    [entry] = await client.get_raid_log(CLAN)
    assert entry.total_loot == 572_136 and entry.offensive_reward == 147
    assert len(entry.members) == len(recorded["members"]) == 38
    assert entry.get_member("#JGY89U8U").attack_count == 6
    [parsed] = parse_seasons(body, CLAN)
    assert parsed.capital_total_loot == 572_136 and parsed.defensive_reward == 227
    api.set_raid_seasons(CLAN, None)
    body, _ = await get(api, RAIDS)
    assert body["items"] == []


async def test_weekends_newest_first_and_paged(api: FakeCocApi, client: coc.Client) -> None:
    seasons = RaidSeasons([RaidWeekend(FRIDAY - timedelta(days=14), state="ended")])
    api.serve_raids(CLAN, seasons)
    seasons.add(RaidWeekend(FRIDAY))  # added after serving: seen
    seasons.add(RaidWeekend(FRIDAY - timedelta(days=7), state="ended"))
    raw = await client.http.get_clan_raid_log(CLAN, limit=1)
    assert [i["startTime"] for i in raw["items"]] == ["20261120T070000.000Z"]
    after = raw["paging"]["cursors"]["after"]
    assert "before" not in raw["paging"]["cursors"]
    body, _ = await get(api, f"{RAIDS}?limit=2&after={after}")
    assert [i["startTime"][:8] for i in body["items"]] == ["20261113", "20261106"]
    assert body["paging"]["cursors"] == {"before": after}
    body, _ = await get(api, f"{RAIDS}?limit=1&before={after}")
    assert [i["state"] for i in body["items"]] == ["ongoing"]
    log = await client.get_raid_log(CLAN, page=True, limit=1)
    assert [e.start_time.time.day async for e in log] == [20, 13, 6]


async def test_faults_garbage_and_counts_cover_the_route(api: FakeCocApi) -> None:
    api.serve_raids(CLAN, [RaidWeekend(FRIDAY)])
    api.fail("/v1/clans/%232PP/capitalraidseasons", 503, "inMaintenance", times=1)
    status, body, _ = await fetch(api, RAIDS)
    assert status == 503 and b'"inMaintenance"' in body  # and only once:
    assert (await fetch(api, RAIDS))[0] == 200
    api.fail(CLAN, 500)  # the clan's key covers the route
    assert (await fetch(api, RAIDS))[0] == 500
    api.fail(CLAN, None)
    api.set_garbage("/v1/clans/#2PP/capitalraidseasons", "json")
    status, body, _ = await fetch(api, RAIDS)
    assert status == 200 and b"oops" in body
    api.set_garbage(CLAN, None)
    assert (await fetch(api, RAIDS))[0] == 200
    assert api.count("/v1/clans/#2PP/capitalraidseasons") == 5
    assert api.count("/v1/clans/%232pp/capitalraidseasons") == 5
    assert api.count(CLAN) == 5


async def test_players_carry_the_clan_games_and_capital_achievements(
    api: FakeCocApi, client: coc.Client
) -> None:
    api.set_player(make_player("#8QQ", clan_games=12_345, capital_looted=678_900))
    api.set_player(make_player("#8RR"))
    player = await client.get_player("#8QQ")
    games = player.get_achievement("Games Champion")
    assert games.value == 12_345 and games.completion_info == "Total Clan Games points: 12345"
    assert player.get_achievement("Aggressive Capitalism").value == 678_900
    untouched = await client.get_player("#8RR")  # None keeps the template's values
    assert untouched.get_achievement("Games Champion").value == 251_800
    assert untouched.get_achievement("Aggressive Capitalism").value == 3_159_880
