from __future__ import annotations

import pytest

from bot.limits import MAX_TRACKED_PLAYERS
from tests.fakes.coc_api import make_clan, make_player
from tests.harness import ADMINISTRATOR, GUILD_ID, MANAGE_GUILD, Harness, opt, sub

TAG = "#2PP0JCCL"
INSERT_TRACKED = (
    "INSERT INTO tracked_players (guild_id, tag, direct, added_by) VALUES ($1, $2, true, 1)"
)


async def tracked(h: Harness) -> dict[str, tuple[bool, str | None]]:
    async with h.pool.acquire() as con:
        rows = await con.fetch(
            "SELECT tag, direct, via_clan FROM tracked_players WHERE guild_id = $1", GUILD_ID
        )
    return {r["tag"]: (r["direct"], r["via_clan"]) for r in rows}


@pytest.mark.parametrize("action", ["add", "remove", "clan", "clan-remove"])
async def test_managing_needs_manage_server_even_when_forged(harness: Harness, action: str) -> None:
    harness.coc.set_player(make_player(TAG))
    reply = await harness.run("track", sub(action, opt("tag", TAG)), permissions=0)
    assert reply.ephemeral and "Manage Server" in reply.content
    assert await tracked(harness) == {}
    assert harness.coc.count() == 0


async def test_the_synced_group_carries_the_default_permission(harness: Harness) -> None:
    track = next(c for c in harness.discord.synced[GUILD_ID] if c["name"] == "track")
    assert int(track["default_member_permissions"]) == MANAGE_GUILD


async def test_add_list_remove(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG, name="Alpha", town_hall=15))
    added = await harness.run(
        "track", sub("add", opt("tag", " 2pp0jccl")), permissions=MANAGE_GUILD
    )
    assert "Now tracking **Alpha** (`#2PP0JCCL`)" in added.content
    again = await harness.run("track", sub("add", opt("tag", TAG)), permissions=ADMINISTRATOR)
    assert "already tracked" in again.content
    listing = await harness.run("track", sub("list"))
    assert "**Alpha** `#2PP0JCCL` TH15" in listing.embeds[0]["description"]
    removed = await harness.run("track", sub("remove", opt("tag", TAG)), permissions=MANAGE_GUILD)
    assert "Stopped tracking" in removed.content
    assert await tracked(harness) == {}
    missing = await harness.run("track", sub("remove", opt("tag", TAG)), permissions=MANAGE_GUILD)
    assert "not tracked" in missing.content


async def test_add_refuses_an_unknown_player_and_stores_nothing(harness: Harness) -> None:
    reply = await harness.run("track", sub("add", opt("tag", TAG)), permissions=MANAGE_GUILD)
    assert "No player with the tag" in reply.content
    assert await tracked(harness) == {}


async def test_player_limit_reached(harness: Harness) -> None:
    async with harness.pool.acquire() as con:
        await con.executemany(
            INSERT_TRACKED,
            [(GUILD_ID, f"#P{i:05d}") for i in range(MAX_TRACKED_PLAYERS)],
        )
    harness.coc.set_player(make_player(TAG))
    reply = await harness.run("track", sub("add", opt("tag", TAG)), permissions=MANAGE_GUILD)
    assert reply.ephemeral and "the most allowed" in reply.content
    assert TAG not in await tracked(harness)
    assert harness.coc.count() == 0


async def test_long_list_is_paged_and_only_the_invoker_turns_pages(harness: Harness) -> None:
    async with harness.pool.acquire() as con:
        await con.executemany(
            INSERT_TRACKED,
            [(GUILD_ID, f"#P{i:05d}") for i in range(45)],
        )
    first = await harness.run("track", sub("list"), user_id=7)
    assert first.embeds[0]["footer"]["text"] == "Page 1/3"
    assert first.embeds[0]["description"].count("\n") == 19
    other = await harness.discord.click(first, "pages:next", user_id=8)
    refusal = await other.wait_response()
    assert refusal.ephemeral and "Only the person" in refusal.content
    mine = await harness.discord.click(first, "pages:next", user_id=7)
    page2 = await mine.wait_response()
    assert page2.embeds[0]["footer"]["text"] == "Page 2/3"


async def test_track_clan_tracks_members_at_once(harness: Harness) -> None:
    members = [make_player(t, clan=("#2Q9VRJ0", "Clan")) for t in (TAG, "#8YUCG2L")]
    harness.coc.set_clan(make_clan("#2Q9VRJ0", members, name="The Clan"))
    reply = await harness.run(
        "track", sub("clan", opt("tag", "#2q9vrj0")), permissions=MANAGE_GUILD
    )
    assert "Now tracking **The Clan** (`#2Q9VRJ0`) and its 2 members" in reply.content
    assert await tracked(harness) == {TAG: (False, "#2Q9VRJ0"), "#8YUCG2L": (False, "#2Q9VRJ0")}
    removed = await harness.run(
        "track", sub("clan-remove", opt("tag", "#2Q9VRJ0")), permissions=MANAGE_GUILD
    )
    assert "Stopped tracking the clan" in removed.content
    assert await tracked(harness) == {}


async def test_unknown_clan(harness: Harness) -> None:
    reply = await harness.run(
        "track", sub("clan", opt("tag", "#2Q9VRJ0")), permissions=MANAGE_GUILD
    )
    assert "No clan with the tag `#2Q9VRJ0`" in reply.content


async def test_clan_limit(harness: Harness) -> None:
    async with harness.pool.acquire() as con:
        await con.executemany(
            "INSERT INTO tracked_clans (guild_id, clan_tag, added_by) VALUES ($1, $2, 1)",
            [(GUILD_ID, f"#C{i}") for i in range(10)],
        )
    reply = await harness.run(
        "track", sub("clan", opt("tag", "#2Q9VRJ0")), permissions=MANAGE_GUILD
    )
    assert "10 clans, the most allowed" in reply.content


async def test_autocomplete_puts_the_users_links_first(harness: Harness) -> None:
    for tag, name in ((TAG, "Zed"), ("#8YUCG2L", "Anna"), ("#9P9PRYQ0", "Bob")):
        harness.coc.set_player(make_player(tag, name=name))
    await harness.run("link", opt("tag", TAG), user_id=7)
    await harness.run("track", sub("add", opt("tag", "#8YUCG2L")), permissions=MANAGE_GUILD)
    await harness.run("track", sub("add", opt("tag", "#9P9PRYQ0")), permissions=MANAGE_GUILD)
    choices = await harness.complete(
        "player", [{"type": 3, "name": "tag", "value": "", "focused": True}], user_id=7
    )
    assert [c["value"] for c in choices] == [TAG, "#8YUCG2L", "#9P9PRYQ0"]
    assert choices[0]["name"] == "Zed (#2PP0JCCL)"
    by_name = await harness.complete(
        "player", [{"type": 3, "name": "tag", "value": "bo", "focused": True}], user_id=7
    )
    assert [c["value"] for c in by_name] == ["#9P9PRYQ0"]
    by_tag = await harness.complete(
        "player", [{"type": 3, "name": "tag", "value": "8yuc", "focused": True}], user_id=7
    )
    assert [c["value"] for c in by_tag] == ["#8YUCG2L"]
    hostile = await harness.complete(
        "player", [{"type": 3, "name": "tag", "value": "%' OR 1=1 --", "focused": True}], user_id=7
    )
    assert hostile == []


async def test_player_shows_tracking_since_and_last_change(harness: Harness) -> None:
    # No client-side cache here, so the second lookup sees the new profile.
    harness.coc._player_headers["Cache-Control"] = "max-age=0"
    harness.coc.set_player(make_player(TAG, trophies=1000, best_trophies=2000))
    await harness.run("track", sub("add", opt("tag", TAG)), permissions=MANAGE_GUILD)
    harness.coc.set_player(make_player(TAG, trophies=1031, best_trophies=2000))
    reply = await harness.run("player", opt("tag", TAG))
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert "Tracked since" in fields["Tracking"]
    assert "trophies: 1000 -> 1031 (+31)" in fields["Tracking"]
    async with harness.pool.acquire() as con:
        rows = await con.fetch(
            "SELECT trophies FROM player_history WHERE tag = $1 ORDER BY observed_at", TAG
        )
    assert [r["trophies"] for r in rows] == [1000, 1031]


async def test_status_reports_tracking(harness: Harness) -> None:
    harness.coc.set_player(make_player(TAG))
    await harness.run("track", sub("add", opt("tag", TAG)), permissions=MANAGE_GUILD)
    reply = await harness.run("status")
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["This server"] == "1 players, 0 clans tracked"
    assert fields["Tracker"] == "Running"
    assert "players past due" in fields["Backlog"]
    async with harness.pool.acquire() as con:
        await con.execute(
            "UPDATE tracker_status SET pause_reason = 'API maintenance', "
            "paused_until = now() + interval '1 minute'"
        )
    paused = await harness.run("status")
    fields = {f["name"]: f["value"] for f in paused.embeds[0]["fields"]}
    assert fields["Tracker"].startswith("Paused: API maintenance")


async def test_members_see_the_list_through_tracked(harness: Harness) -> None:
    """/track is Manage Server by default (hidden from members); /tracked is for everyone."""
    synced = {c["name"]: c for c in harness.discord.synced[GUILD_ID]}
    assert synced["tracked"].get("default_member_permissions") is None
    harness.coc.set_player(make_player(TAG, name="Alpha"))
    await harness.run("track", sub("add", opt("tag", TAG)), permissions=MANAGE_GUILD)
    reply = await harness.run("tracked", permissions=0)
    assert "**Alpha** `#2PP0JCCL`" in reply.embeds[0]["description"]
