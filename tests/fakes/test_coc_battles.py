"""The fake API's battle log, league history and tier routes, read by the real coc.py
client, match the recorded answers; the parsers read the recorded bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.battles.parse import (
    fingerprint,
    league_tiers,
    parse_battle_log,
    parse_league_history,
)
from bot.clash import ClashApi
from bot.errors import PlayerNotFound
from tests.bot.tracker.conftest import tracker_settings
from tests.fakes.battles import BattleLog, make_battle, make_week
from tests.fakes.coc_api import FakeCocApi, load_payload, make_player

ANN = "#8QQ"


@pytest.fixture
async def api_and_client(tmp_path: Path) -> AsyncIterator[tuple[FakeCocApi, ClashApi]]:
    api = FakeCocApi(tokens=("test-token",))
    await api.start()
    clash = ClashApi(tracker_settings(api, "postgresql://unused", tmp_path, interval=60))
    await clash.start()
    try:
        yield api, clash
    finally:
        await clash.close()
        await api.stop()


def test_the_recorded_battle_log_parses() -> None:
    body = load_payload("recorded/players_battlelog_log")["body"]
    battles = parse_battle_log(body)
    assert len(battles) == 50
    first = battles[0]
    assert (first.battle_type, first.attack, first.opponent_tag) == (
        "homeVillage",
        False,
        "#PRC2CVYYP",
    )
    assert (first.gold, first.elixir, first.dark_elixir) == (1_721_535, 1_047_425, 5_079)
    assert sum(b.battle_type == "ranked" for b in battles) == 32
    # Every battle of the recorded log is told apart by its fingerprint.
    assert len({b.fingerprint for b in battles}) == 50


def test_a_fingerprint_ignores_order_and_what_the_api_may_add() -> None:
    entry = load_payload("recorded/players_battlelog_log")["body"]["items"][0]
    shuffled = json.loads(json.dumps(entry))
    shuffled["lootedResources"].reverse()
    reordered = dict(reversed(list(shuffled.items())))
    assert fingerprint(reordered) == fingerprint(entry)
    # A resource or a key the API adds later changes no stored battle's fingerprint.
    reordered["availableLoot"].append({"name": "NewOre", "amount": 7})
    reordered["lootedResources"].append({"name": "EventTokens", "amount": 3})
    reordered["replayId"] = "abc"
    assert fingerprint(reordered) == fingerprint(entry)
    for key, value in (("stars", 2), ("opponentPlayerTag", "#2PP"), ("attack", True)):
        assert fingerprint({**entry, key: value}) != fingerprint(entry)
    richer = json.loads(json.dumps(entry))
    richer["lootedResources"][0]["amount"] += 1
    assert fingerprint(richer) != fingerprint(entry)


def test_the_recorded_league_history_and_tiers_parse() -> None:
    weeks = parse_league_history(load_payload("recorded/players_leaguehistory_log")["body"])
    assert [w.season_id for w in weeks] == [1770613200, 1771218000, 1771822800, 1772427600]
    assert (weeks[0].tier_id, weeks[0].placement, weeks[0].max_battles) == (105000030, 11, 24)
    tiers = league_tiers(load_payload("recorded/leagues_listleaguetiers")["body"])
    assert tiers[105000000] == "Unranked" and tiers[105000034] == "Legend League"


async def test_the_battle_log_route_serves_the_latest_50_newest_first(
    api_and_client: tuple[FakeCocApi, ClashApi],
) -> None:
    api, clash = api_and_client
    api.set_player(make_player(ANN))
    log = BattleLog()
    api.serve_battle_log(ANN, log)
    assert (await clash.get_battle_log(ANN))["items"] == []
    log.play(*(make_battle(n) for n in range(60)))
    items = (await clash.get_battle_log(ANN))["items"]
    assert len(items) == 50
    assert items[0]["opponentPlayerTag"] == make_battle(59)["opponentPlayerTag"]
    assert items[-1]["opponentPlayerTag"] == make_battle(10)["opponentPlayerTag"]
    with pytest.raises(PlayerNotFound):
        await clash.get_battle_log("#9YY")


async def test_the_league_history_and_tier_routes(
    api_and_client: tuple[FakeCocApi, ClashApi],
) -> None:
    api, clash = api_and_client
    api.set_player(make_player(ANN))
    assert (await clash.get_league_history(ANN))["items"] == []
    api.set_league_history(ANN, [make_week(1772427600, 105000032)])
    weeks = parse_league_history(await clash.get_league_history(ANN))
    assert [(w.season_id, w.tier_id) for w in weeks] == [(1772427600, 105000032)]
    assert len(league_tiers(await clash.get_league_tiers())) == 35
    assert api.count(f"/v1/players/{ANN}/leaguehistory") == 2
