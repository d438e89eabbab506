from __future__ import annotations

from datetime import UTC, datetime

from tests.db.test_history import DAY, HOUR, seed_player
from tests.harness import Harness, opt


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


async def test_progress_shows_start_end_and_change_per_stat(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "Climber",
        [
            (now - 20 * DAY, {"trophies": 5000, "town_hall": 15, "war_stars": 100}),
            (now - 3 * DAY, {"trophies": 5150, "town_hall": 16}),
            (now - DAY, {"trophies": 5120, "war_stars": 103}),
        ],
    )
    reply = await harness.run("progress", opt("tag", "#2PP"))
    assert not reply.ephemeral
    embed = reply.embeds[0]
    assert embed["title"] == "Progress: Climber (#2PP)"
    assert embed["description"].startswith("Last 7 days, since <t:")
    got = fields(embed)
    assert got["Trophies"] == "5,000 → 5,120\n**+120**"
    assert got["Town Hall"] == "15 → 16\n**+1**"
    assert got["War stars"] == "100 → 103\n**+3**"
    assert "Experience level 100" in got["No change"]
    assert "Donations" not in got  # nothing given, nothing shown as a change


async def test_progress_counts_donations_across_a_counter_reset(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "Giver",
        [
            (now - 10 * DAY, {"donations": 900, "donations_total": 900}),
            (now - 2 * DAY, {"donations": 1000, "donations_total": 1000}),
            # The counter restarted (season end or leaving the clan): 30 more given.
            (now - HOUR, {"donations": 30, "donations_total": 1030}),
        ],
    )
    reply = await harness.run("progress", opt("tag", "#2PP"), opt("days", 7, type=4))
    embed = reply.embeds[0]
    assert fields(embed)["Donations"] == "900 → 30\n**+130 †**"
    assert "add up across the resets" in embed["footer"]["text"]


async def test_progress_of_a_player_tracked_for_less_says_so(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "New",
        [(now - 2 * DAY, {"attack_wins": 10}), (now - HOUR, {"attack_wins": 14})],
    )
    reply = await harness.run("progress", opt("tag", "#2PP"), opt("days", 30, type=4))
    embed = reply.embeds[0]
    assert embed["description"].startswith("Since tracking began <t:")
    assert "less than 30 days ago" in embed["description"]
    assert fields(embed)["Attack wins"] == "10 → 14\n**+4**"


async def test_progress_without_history_gets_a_clear_reply(harness: Harness) -> None:
    reply = await harness.run("progress", opt("tag", "#2PP"))
    assert reply.ephemeral
    assert "No history for `#2PP` yet" in reply.content


async def test_progress_refuses_a_bad_tag(harness: Harness) -> None:
    reply = await harness.run("progress", opt("tag", "#0PP"))
    assert reply.ephemeral and "not a valid Clash of Clans tag" in reply.content
