"""/war current, player, missed and leaderboard through the fake Discord and the fake API."""

from __future__ import annotations

from datetime import timedelta

from tests.cogs.war_helpers import (
    CLAN,
    OURS,
    THEIRS,
    poll_wars,
    running_war,
    track_clan,
)
from tests.db.test_history import INSERT_TRACKED, link
from tests.harness import GUILD_ID, Harness, opt, sub


def fields(message: object) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0]["fields"]}  # type: ignore[attr-defined]


# -- /war current ----------------------------------------------------------------------


async def test_current_shows_both_sides_and_who_has_attacks_left(harness: Harness) -> None:
    await track_clan(harness)
    war = running_war()
    war.attack(OURS[0], THEIRS[0], 2, 80)
    war.attack(OURS[0], THEIRS[1], 3, 100)
    war.attack(OURS[1], THEIRS[2], 1, 40)
    war.attack(THEIRS[0], OURS[0], 3, 100)
    harness.coc.serve_war(war)
    # The clan option may be left out: the server tracks one clan.
    reply = await harness.run("war", sub("current"))
    embed = reply.embeds[0]
    assert embed["title"] == "War: Our Clan vs Their Clan"
    assert embed["description"].startswith("**Battle day** · Ends <t:")
    shown = fields(reply)
    assert shown["Our Clan (#2PP)"].startswith("6★ · ")
    assert "Attacks: 3/6" in shown["Our Clan (#2PP)"]
    assert "Attacks: 1/6" in shown["Their Clan (#9YY)"]
    left = shown["Attacks left (3)"].splitlines()
    assert left == ["1. Bob (TH14): 1", "2. Cid (TH13): 2"]


async def test_current_in_preparation_and_with_the_clan_named(harness: Harness) -> None:
    await track_clan(harness)
    await track_clan(harness, "#8YY", "Other Clan")
    harness.coc.serve_war(running_war(in_battle=False, battle_left=timedelta(hours=30)))
    reply = await harness.run("war", sub("current", opt("clan", CLAN)))
    assert reply.embeds[0]["description"].startswith("**Preparation day** · Battle day starts")
    assert "Every member: 2 each (3 members)." in fields(reply)["Attacks left (6)"]


async def test_current_of_a_clan_not_in_war_names_its_last_war(harness: Harness) -> None:
    await track_clan(harness)
    war = running_war()
    war.attack(OURS[0], THEIRS[0], 3, 100)
    harness.coc.serve_war(war)
    await poll_wars(harness)
    war.end()
    await poll_wars(harness)
    harness.coc.set_war(CLAN, None)
    reply = await harness.run("war", sub("current"))
    assert reply.content.startswith("Our Clan (#2PP) is not in a war right now. Last war: won")
    assert not reply.ephemeral


async def test_current_of_a_private_war_log(harness: Harness) -> None:
    await track_clan(harness)
    harness.coc.set_war_log_private(CLAN, True)
    reply = await harness.run("war", sub("current"))
    assert "war log is private" in (reply.content or "")


async def test_current_needs_a_tracked_clan(harness: Harness) -> None:
    reply = await harness.run("war", sub("current"))
    assert reply.ephemeral and "tracks no clan yet" in reply.content
    await track_clan(harness)
    await track_clan(harness, "#8YY", "Other Clan")
    reply = await harness.run("war", sub("current"))
    assert reply.ephemeral and "tracks 2 clans: choose one" in reply.content
    reply = await harness.run("war", sub("current", opt("clan", "#2CC")))
    assert reply.ephemeral and "`#2CC` is not tracked in this server" in reply.content
    reply = await harness.run("war", sub("current", opt("clan", "not a tag!")))
    assert reply.ephemeral


async def test_clan_autocomplete_offers_the_tracked_clans(harness: Harness) -> None:
    await track_clan(harness)
    await track_clan(harness, "#8YY", "Other Clan")
    choices = await harness.complete(
        "war", [sub("current", {"type": 3, "name": "clan", "value": "oth", "focused": True})]
    )
    assert [c["value"] for c in choices] == ["#8YY"]


# -- /war player -------------------------------------------------------------------------


async def test_player_record_counts_attacks_stars_and_the_town_hall_difference(
    harness: Harness,
) -> None:
    await track_clan(harness)
    war = running_war()
    harness.coc.serve_war(war)
    war.attack(OURS[0], THEIRS[0], 2, 80)  # TH15 on TH16: up
    await poll_wars(harness)
    war.attack(OURS[0], THEIRS[2], 3, 100)  # TH15 on TH12: down
    war.end()
    await poll_wars(harness)
    reply = await harness.run("war", sub("player", opt("tag", OURS[0])))
    shown = fields(reply)
    assert reply.embeds[0]["title"] == "War record: Ann (#8QQ)"
    assert shown["Wars"] == "1"
    assert shown["Attacks used"] == "2/2"
    assert shown["Missed"] == "0"
    assert shown["Stars"] == "5 (2.50 avg)"
    assert shown["Three-star rate"] == "50% (1)"
    assert shown["Average destruction"] == "90.0%"
    by_th = shown["By Town Hall difference"].splitlines()
    assert by_th[0].startswith("Attacking up") and "1 attack(s) · 2★" in by_th[0]
    assert by_th[1].endswith("No attack")
    assert by_th[2].startswith("Attacking down") and "3★ 100%" in by_th[2]

    missed = await harness.run("war", sub("player", opt("tag", OURS[2])))
    assert fields(missed)["Attacks used"] == "0/2" and fields(missed)["Missed"] == "2"


async def test_player_without_wars_and_a_bad_tag(harness: Harness) -> None:
    reply = await harness.run("war", sub("player", opt("tag", "#8QQ")))
    assert reply.ephemeral and "No war of `#8QQ` was recorded" in reply.content
    reply = await harness.run("war", sub("player", opt("tag", "hello")))
    assert reply.ephemeral
    reply = await harness.run("war", sub("player", opt("tag", "#8QQ"), opt("days", 0, type=4)))
    assert reply.ephemeral and "from 1 to 365" in reply.content


# -- /war missed and /war leaderboard --------------------------------------------------------


async def test_missed_lists_the_members_most_first(harness: Harness) -> None:
    await track_clan(harness)
    war = running_war()
    harness.coc.serve_war(war)
    await poll_wars(harness)
    war.attack(OURS[0], THEIRS[0], 2, 80)
    war.attack(OURS[0], THEIRS[1], 2, 80)
    war.attack(OURS[1], THEIRS[1], 2, 80)
    war.end()
    await poll_wars(harness)
    reply = await harness.run("war", sub("missed"))
    text = reply.embeds[0]["description"]
    assert "Wars that ended in the last 30 day(s): 1." in text
    lines = text.split("\n\n", 1)[1].splitlines()
    assert lines == ["Cid (#8UU): **2** in 1 war(s)", "Bob (#8RR): **1** in 1 war(s)"]


async def test_missed_with_no_war_and_with_a_private_log(harness: Harness) -> None:
    await track_clan(harness)
    reply = await harness.run("war", sub("missed"))
    assert reply.ephemeral and "No war of Our Clan (#2PP) ended" in reply.content
    harness.coc.set_war_log_private(CLAN, True)
    await poll_wars(harness)
    reply = await harness.run("war", sub("missed"))
    assert reply.ephemeral and "war log is private" in reply.content


async def test_leaderboard_ranks_tracked_players(harness: Harness) -> None:
    await track_clan(harness)
    async with harness.pool.acquire() as con:
        for tag in OURS:
            await con.execute(INSERT_TRACKED, GUILD_ID, tag)
    await link(harness.pool, OURS[1], 77)
    war = running_war()
    harness.coc.serve_war(war)
    war.attack(OURS[0], THEIRS[0], 1, 50)
    war.attack(OURS[1], THEIRS[1], 3, 100)
    war.attack(OURS[1], THEIRS[2], 2, 60)
    war.end()
    await poll_wars(harness)

    stars = await harness.run("war", sub("leaderboard"), user_id=77)
    assert stars.embeds[0]["title"] == "War stars: last 30 day(s)"
    assert stars.embeds[0]["description"].splitlines() == [
        "`   1.` **➜ Bob (#8RR) — 5**",
        "`   2.` Ann (#8QQ) — 1",
        "`   3.` Cid (#8UU) — 0",
    ]
    missed = await harness.run("war", sub("leaderboard", opt("metric", "missed")))
    assert missed.embeds[0]["description"].splitlines()[0] == "`   1.` Cid (#8UU) — 2"
    average = await harness.run("war", sub("leaderboard", opt("metric", "avg_destruction")))
    lines = average.embeds[0]["description"].splitlines()
    assert lines[0].endswith("80.0%") and len(lines) == 2
    assert "1 with wars but no attack yet" in average.embeds[0]["footer"]["text"]


async def test_leaderboard_with_no_wars(harness: Harness) -> None:
    reply = await harness.run("war", sub("leaderboard"))
    assert reply.ephemeral and "has a recorded war" in reply.content
