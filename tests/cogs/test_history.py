from __future__ import annotations

import io
from datetime import UTC, datetime

from PIL import Image

from bot.tracker.seasons import season_start
from tests.db.test_history import DAY, HOUR, link, seed_player
from tests.harness import GUILD_ID, Harness, opt


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def option(command: dict, name: str) -> dict:
    return next(o for o in command["options"] if o["name"] == name)


async def test_history_command_declares_choices_and_bounds(harness: Harness) -> None:
    synced = {c["name"]: c for c in harness.discord.synced[GUILD_ID]}
    history = synced["history"]
    stat = option(history, "stat")
    assert stat["required"] and len(stat["choices"]) == 11
    assert {"name": "Trophies", "value": "trophies"} in stat["choices"]
    days = option(history, "days")
    assert (days["type"], days["min_value"], days["max_value"]) == (4, 1, 365)
    assert not days.get("required", False)
    assert option(history, "tag").get("autocomplete") is True
    progress = synced["progress"]
    assert option(progress, "tag").get("autocomplete") is True
    assert option(progress, "days")["max_value"] == 365


async def test_history_sends_a_png_chart_and_a_summary(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "*Star* @everyone",
        [
            (now - 50 * DAY, {"trophies": 5000}),
            (now - 20 * DAY, {"trophies": 5200}),
            (now - 10 * DAY, {"trophies": 5400}),
            (now - 2 * DAY, {"trophies": 5300}),
        ],
    )
    reply = await harness.run(
        "history", opt("tag", "#2pp"), opt("stat", "trophies"), opt("days", 30, type=4)
    )
    assert not reply.ephemeral
    assert len(reply.files) == 1
    filename, _content_type, data = reply.files[0]
    assert filename == "history.png"
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    assert image.size == (1000, 500)
    embed = reply.embeds[0]
    assert embed["image"]["url"] == "attachment://history.png"
    assert reply.attachments[0]["filename"] == "history.png"
    assert "\\*Star\\*" in embed["title"] and "#2PP" in embed["title"]
    assert "last 30 days" in embed["description"]
    got = fields(embed)
    assert got["Start"] == "5,000"  # carried in from 50 days ago
    assert got["Now"] == "5,300"
    assert got["Change"] == "+300"
    assert got["Best"] == "5,400"


async def test_history_defaults_to_30_days_and_says_when_tracking_began(
    harness: Harness,
) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "A",
        [(now - 5 * DAY, {"war_stars": 10}), (now - DAY, {"war_stars": 14})],
    )
    reply = await harness.run("history", opt("tag", "#2PP"), opt("stat", "war_stars"))
    embed = reply.embeds[0]
    assert "since tracking began" in embed["description"]
    assert "less than 30 days" in embed["description"]
    assert fields(embed)["Change"] == "+4"
    assert Image.open(io.BytesIO(reply.files[0][2])).size == (1000, 500)


async def test_donations_chart_counts_the_season_so_far(harness: Harness) -> None:
    now = datetime.now(UTC)
    boundary = season_start(now)
    after = boundary + (now - boundary) / 2
    await seed_player(
        harness.pool,
        "#2PP",
        "A",
        [
            (boundary - 5 * DAY, {"donations": 400, "donations_total": 400}),
            (boundary - DAY, {"donations": 900, "donations_total": 900}),
            (after, {"donations": 25, "donations_total": 925}),
        ],
    )
    days = (now - boundary).days + 3  # a window that spans the season start
    reply = await harness.run(
        "history", opt("tag", "#2PP"), opt("stat", "donations"), opt("days", days, type=4)
    )
    got = fields(reply.embeds[0])
    assert got["Now (season so far)"] == "25"
    assert got["Given in period"] == "525"  # 500 before the season end, 25 after
    assert got["Best (season so far)"] == "900"
    assert "season starts" in reply.embeds[0]["footer"]["text"]
    assert reply.files and reply.files[0][0] == "history.png"


async def test_one_data_point_gets_a_clear_reply_not_a_chart(harness: Harness) -> None:
    await seed_player(
        harness.pool, "#2PP", "Lonely", [(datetime.now(UTC) - HOUR, {"trophies": 4000})]
    )
    reply = await harness.run("history", opt("tag", "#2PP"), opt("stat", "trophies"))
    assert reply.ephemeral
    assert reply.files == [] and not reply.embeds
    assert "Only one data point for Lonely (#2PP)" in reply.content


async def test_no_history_gets_a_clear_reply(harness: Harness) -> None:
    reply = await harness.run("history", opt("tag", "#2PP"), opt("stat", "trophies"))
    assert reply.ephemeral and reply.files == []
    assert "No history for #2PP yet" in reply.content


async def test_unchanged_in_the_window_gets_a_clear_reply(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "A",
        [(now - 90 * DAY, {"town_hall": 12}), (now - 60 * DAY, {"town_hall": 13})],
    )
    reply = await harness.run(
        "history", opt("tag", "#2PP"), opt("stat", "town_hall"), opt("days", 7, type=4)
    )
    assert reply.ephemeral and reply.files == []
    assert "has not changed in this period" in reply.content
    wider = await harness.run(
        "history", opt("tag", "#2PP"), opt("stat", "town_hall"), opt("days", 365, type=4)
    )
    assert fields(wider.embeds[0])["Change"] == "+1"


async def test_history_refuses_a_bad_tag(harness: Harness) -> None:
    reply = await harness.run("history", opt("tag", "hello world"), opt("stat", "trophies"))
    assert reply.ephemeral and "not a valid Clash of Clans tag" in reply.content


async def test_tag_autocomplete_offers_the_users_accounts(harness: Harness) -> None:
    await seed_player(harness.pool, "#2PP", "Mine", [(datetime.now(UTC) - DAY, {})])
    await link(harness.pool, "#2PP", 42)
    for command in ("history", "progress"):
        focused = {"type": 3, "name": "tag", "value": "", "focused": True}
        choices = await harness.complete(command, [focused])
        assert {"name": "Mine (#2PP)", "value": "#2PP"} in choices
