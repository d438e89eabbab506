from __future__ import annotations

import logging

import pytest

from bot.command_limits import check_commands
from db import players
from tests.fakes.coc_api import make_player
from tests.harness import GUILD_ID, Harness, opt


async def test_synced_commands_pass_discords_limits(harness: Harness) -> None:
    synced = harness.discord.synced[GUILD_ID]
    assert "player" in {c["name"] for c in synced}
    assert check_commands(synced) == []
    assert harness.discord.unhandled == []


async def test_player_round_trip_with_a_sloppy_tag(harness: Harness) -> None:
    harness.coc.set_player(
        make_player(
            "#9P9PRYQ0",
            name="*Bold* _Name_ @everyone",
            town_hall=16,
            trophies=5123,
            best_trophies=5500,
            war_stars=900,
            donations=12,
            received=34,
            attack_wins=55,
            defense_wins=6,
            builder_trophies=4100,
            clan=("#2PP0JCCL", "Clan `x`"),
            role="coLeader",
            heroes={"Barbarian King": 90, "Archer Queen": 95},
        )
    )
    reply = await harness.run("player", opt("tag", " #9p9pryqo "))
    embed = reply.embeds[0]
    assert embed["title"].startswith("\\*Bold\\* \\_Name\\_ ")  # markdown shown literally
    assert "#9P9PRYQ0" in embed["title"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Town Hall"] == "16"
    assert fields["Trophies"] == "5,123 (best 5,500)"
    assert fields["War stars"] == "900"
    assert fields["Attack / defense wins"] == "55 / 6"
    assert fields["Donations / received"] == "12 / 34"
    assert fields["Builder base trophies"].startswith("4,100")
    assert "#2PP0JCCL" in fields["Clan"] and "Co-leader" in fields["Clan"]
    assert "Barbarian King: 90" in fields["Heroes"]
    assert reply.allowed_mentions == {"parse": []}
    async with harness.pool.acquire() as con:
        stored = await players.get_profile(con, "#9P9PRYQ0")
    assert stored is not None and stored.trophies == 5123 and stored.town_hall == 16


async def test_unknown_tag_gets_a_clear_reply(harness: Harness) -> None:
    reply = await harness.run("player", opt("tag", "#2PP0JCCL"))
    assert reply.ephemeral or not reply.embeds
    assert "No player with the tag `#2PP0JCCL`" in reply.content


@pytest.mark.parametrize(
    "garbage", ["hello world", "#0PP", "'; DROP TABLE players; --", "x" * 5000]
)
async def test_garbage_tag_makes_no_api_request(harness: Harness, garbage: str) -> None:
    reply = await harness.run("player", opt("tag", garbage))
    assert reply.ephemeral
    assert "not a valid Clash of Clans tag" in reply.content
    assert harness.coc.count() == 0
    assert len(reply.content) < 400


@pytest.mark.parametrize(
    ("status", "expected"),
    [(503, "maintenance"), (429, "rate-limiting"), (403, "refused this bot's key")],
)
async def test_api_faults_get_a_clear_reply(harness: Harness, status: int, expected: str) -> None:
    harness.coc.set_player(make_player("#2PP"))
    harness.coc.fail("#2PP", status)
    reply = await harness.run("player", opt("tag", "#2PP"))
    assert expected in reply.content
    assert reply.ephemeral


async def test_database_down_gets_a_clear_reply_and_bot_stays_up(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.coc.set_player(make_player("#2PP"))
    await harness.pool.close()
    with caplog.at_level(logging.INFO):
        reply = await harness.run("player", opt("tag", "#2PP"))
    assert "database is unavailable" in reply.content
    # The bot still answers what needs no database.
    again = await harness.run("player", opt("tag", "nonsense!"))
    assert "not a valid" in again.content
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
