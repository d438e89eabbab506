"""The fake API's raid weekends and clan games achievements, read by the real coc.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import coc
import pytest

from bot.raids.parse import parse_seasons

from .coc_api import FakeCocApi, make_player
from .raids import RaidWeekend, recorded_weekend

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CLAN = "#2PP"
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


async def get(api: FakeCocApi, path: str) -> tuple[dict, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.base_url + path, headers=AUTH) as response,
    ):
        assert response.status == 200
        return await response.json(), dict(response.headers)


async def test_an_unscripted_clan_has_no_weekend(api: FakeCocApi) -> None:
    body, headers = await get(api, "/clans/%232PP/capitalraidseasons")
    assert body == {"items": [], "paging": {"cursors": {}}}
    assert headers["Cache-Control"] == "max-age=60"


async def test_a_live_weekend_is_read_as_it_stands(api: FakeCocApi, client: coc.Client) -> None:
    weekend = RaidWeekend(FRIDAY)
    api.serve_raids(CLAN, [weekend])
    weekend.attack("#8QQ", "Ann", 3_000, attacks=2)
    first = await client.get_raid_log(CLAN, limit=1)
    entry = first[0]
    assert entry.state == "ongoing" and entry.start_time.time == FRIDAY.replace(tzinfo=None)
    assert [(m.tag, m.attack_count, m.capital_resources_looted) for m in entry.members] == [
        ("#8QQ", 2, 3_000)
    ]
    weekend.attack("#8QQ", "Ann", 4_000, attacks=4, bonus=True)
    weekend.attack("#8RR", "Bob", 1_000)
    weekend.end_weekend(offensive_reward=420, defensive_reward=90)
    body, _ = await get(api, "/clans/%232PP/capitalraidseasons")
    [item] = body["items"]
    assert item["state"] == "ended" and item["offensiveReward"] == 420
    assert item["totalAttacks"] == 7 and item["capitalTotalLoot"] == 8_000
    assert item["members"][0]["bonusAttackLimit"] == 1
    parsed = parse_seasons(body, CLAN)
    assert [(m.tag, m.attacks, m.looted) for m in parsed[0].members] == [
        ("#8QQ", 6, 7_000),
        ("#8RR", 1, 1_000),
    ]


def test_more_attacks_than_the_limit_are_refused() -> None:
    weekend = RaidWeekend(FRIDAY)
    weekend.attack("#8QQ", "Ann", 1, attacks=5)
    with pytest.raises(ValueError):
        weekend.attack("#8QQ", "Ann", 1)
    weekend.attack("#8QQ", "Ann", 1, bonus=True)  # the bonus attack
    assert weekend.body()["members"][0]["attacks"] == 6


async def test_weekends_newest_first_and_paged(api: FakeCocApi) -> None:
    older = RaidWeekend(datetime(2026, 11, 13, 7, 0, tzinfo=UTC), state="ended")
    api.serve_raids(CLAN, [older, RaidWeekend(FRIDAY)])
    body, _ = await get(api, "/clans/%232PP/capitalraidseasons?limit=1")
    assert [i["startTime"] for i in body["items"]] == ["20261120T070000.000Z"]
    after = body["paging"]["cursors"]["after"]
    body, _ = await get(api, f"/clans/%232PP/capitalraidseasons?limit=1&after={after}")
    assert [i["state"] for i in body["items"]] == ["ended"]


async def test_the_recorded_weekend_round_trips(api: FakeCocApi) -> None:
    recorded = recorded_weekend()
    api.set_raid_seasons(CLAN, [recorded])
    body, _ = await get(api, "/clans/%232PP/capitalraidseasons")
    assert body["items"] == [recorded]
    [parsed] = parse_seasons(body, CLAN)
    assert parsed.capital_total_loot == 572_136 and parsed.offensive_reward == 147
    assert len(parsed.members) == len(recorded["members"])


async def test_faults_and_counts_cover_the_route(api: FakeCocApi) -> None:
    api.fail("/v1/clans/%232PP/capitalraidseasons", 503, "inMaintenance")
    async with (
        aiohttp.ClientSession() as session,
        session.get(api.base_url + "/clans/%232PP/capitalraidseasons", headers=AUTH) as r,
    ):
        assert r.status == 503
    assert api.count("/v1/clans/#2PP/capitalraidseasons") == 1


async def test_players_carry_the_clan_games_and_capital_achievements(
    api: FakeCocApi, client: coc.Client
) -> None:
    api.set_player(make_player("#8QQ", clan_games=12_345, capital_looted=678_900))
    player = await client.get_player("#8QQ")
    assert player.get_achievement("Games Champion").value == 12_345
    assert player.get_achievement("Aggressive Capitalism").value == 678_900
