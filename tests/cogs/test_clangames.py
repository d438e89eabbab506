"""/clangames and the clan games leaderboard through the fake Discord and the fake API."""

from __future__ import annotations

from tests.cogs.activity_helpers import CLAN, member, poll, publish, track_clan
from tests.harness import Harness, opt

ANN, BOB, CID = "#8QQ", "#8RR", "#8UU"


async def test_a_month_without_clan_games(harness: Harness) -> None:
    await track_clan(harness)
    publish(harness, [member(ANN, "Ann", games=5_000)])
    await poll(harness)
    reply = await harness.run("clangames")
    assert reply.ephemeral
    assert "No clan games points are recorded for Our Clan (#2PP)" in reply.content


async def test_points_the_first_to_the_maximum_and_who_has_none(harness: Harness) -> None:
    await track_clan(harness)
    publish(
        harness,
        [member(ANN, "Ann", games=10_000), member(BOB, "Bob", games=300), member(CID, "Cid")],
    )
    await poll(harness)  # every member's baseline
    publish(
        harness,
        [member(ANN, "Ann", games=14_500), member(BOB, "Bob", games=1_050), member(CID, "Cid")],
    )
    await poll(harness)
    reply = await harness.run("clangames", opt("clan", CLAN))
    embed = reply.embeds[0]
    assert embed["title"].startswith("Clan games of Our Clan (#2PP), ")
    lines = embed["description"].splitlines()
    assert lines[0] == "Clan total: **4,750** points (maximum 4,000 per member)"
    assert lines[1].startswith("First to the maximum: Ann <t:")
    assert "`  1.` Ann — 4,000 ✓" in lines
    assert "`  2.` Bob — 750" in lines
    assert embed["fields"][0]["name"] == "No points yet (1)"
    assert embed["fields"][0]["value"] == "Cid"

    board = await harness.run("leaderboard", opt("stat", "clan_games"))
    text = board.embeds[0]["description"]
    assert board.embeds[0]["title"] == "Clan games points (this month)"
    assert text.index("Ann") < text.index("Bob") < text.index("Cid")
    assert "4,000" in text and "750" in text
