from __future__ import annotations

import re
from datetime import UTC, datetime

from tests.db.test_history import DAY, HOUR, INSERT_TRACKED, link, seed_player, seed_season
from tests.fakes.discord_server import Message
from tests.harness import GUILD_ID, Harness, opt

LINE_RE = re.compile(r"^`\s*(\d+)\.` (?:\*\*➜ )?(.+?) \((#\w+)\) — ([+-]?[\d,]+)( \*)?(\*\*)?$")


def rows(message: Message) -> list[tuple[int, str, str, str]]:
    """(rank, name, tag, value) of each line on the shown page."""
    found = []
    for text in message.embeds[0]["description"].splitlines():
        match = LINE_RE.match(text)
        if match:
            found.append((int(match[1]), match[2], match[3], match[4]))
    return found


def buttons(message: Message) -> dict[str, bool]:
    """custom_id -> disabled."""
    return {
        c["custom_id"]: bool(c.get("disabled"))
        for row in message.components
        for c in row["components"]
    }


# 23 valid tags: # then a letter from the tag alphabet and two more.
TAGS = [f"#{a}{b}{c}" for a in "PYLQ" for b in "GRJ" for c in "CUV"][:23]


async def seed_board(harness: Harness) -> None:
    """23 players with trophies from 2,000 down, three tied at rank 2 and two at rank 14."""
    now = datetime.now(UTC)
    values = [2000, 1900, 1900, 1900, *range(1800, 900, -100), 900, 900, *range(800, 0, -100)]
    assert len(values) == 23
    for i, (tag, trophies) in enumerate(zip(TAGS, values, strict=True)):
        # Names chosen so that the ties sort by name, not by tag or insertion order.
        name = {1: "cara", 2: "Bea", 3: "abe", 13: "Zed", 14: "ann"}.get(i, f"p{i:02d}")
        await seed_player(harness.pool, tag, name, [(now - DAY, {"trophies": trophies})])


async def test_order_ties_and_pages(harness: Harness) -> None:
    await seed_board(harness)
    first = await harness.run("leaderboard", opt("stat", "trophies"))
    assert first.embeds[0]["title"] == "Trophies"
    page1 = rows(first)
    assert [r[0] for r in page1] == [1, 2, 2, 2, 5, 6, 7, 8, 9, 10]
    assert [r[1] for r in page1[:4]] == ["p00", "abe", "Bea", "cara"]
    assert page1[0][3] == "2,000"
    assert "Page 1/3" in first.embeds[0]["footer"]["text"]
    assert "23 players ranked" in first.embeds[0]["footer"]["text"]
    assert buttons(first) == {"leaderboard:prev": True, "leaderboard:next": False}

    click = await harness.discord.click(first, "leaderboard:next")
    second = await click.wait_response()
    assert click.callback_types == [7]  # the message itself changed
    page2 = rows(second)
    assert [r[0] for r in page2] == [11, 12, 13, 14, 14, 16, 17, 18, 19, 20]
    assert [r[1] for r in page2[3:5]] == ["ann", "Zed"]
    assert "Page 2/3" in second.embeds[0]["footer"]["text"]
    assert buttons(second) == {"leaderboard:prev": False, "leaderboard:next": False}

    third = await (await harness.discord.click(second, "leaderboard:next")).wait_response()
    assert [r[0] for r in rows(third)] == [21, 22, 23]
    assert buttons(third) == {"leaderboard:prev": False, "leaderboard:next": True}

    back = await (await harness.discord.click(third, "leaderboard:prev")).wait_response()
    assert rows(back) == page2


async def test_another_user_cannot_turn_the_pages(harness: Harness) -> None:
    await seed_board(harness)
    board = await harness.run("leaderboard", opt("stat", "trophies"), user_id=42)
    before = board.embeds[0]["description"]
    refused = await harness.discord.click(board, "leaderboard:next", user_id=77)
    reply = await refused.wait_response()
    assert reply.ephemeral
    assert "Only the person who asked for this leaderboard" in reply.content
    assert board.embeds[0]["description"] == before  # the board did not move
    # The invoker still can.
    moved = await (await harness.discord.click(board, "leaderboard:next")).wait_response()
    assert "Page 2/3" in moved.embeds[0]["footer"]["text"]


async def test_buttons_stop_after_the_timeout(harness: Harness) -> None:
    await seed_board(harness)
    # load_extension executes its own copy of the module: find the cog by name.
    cog = harness.bot.get_cog("LeaderboardCog")
    assert cog is not None
    cog.view_timeout = 0.3  # type: ignore[attr-defined]
    board = await harness.run("leaderboard", opt("stat", "trophies"))
    # The bot edits its message: both buttons greyed out, the page left as it was.
    await harness.discord.wait_for(lambda: all(buttons(board).values()), 5, "disabled buttons")
    assert set(buttons(board)) == {"leaderboard:prev", "leaderboard:next"}
    assert "Page 1/3" in board.embeds[0]["footer"]["text"]


async def test_the_invokers_accounts_are_marked(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(harness.pool, "#2PP", "Mine", [(now - DAY, {"war_stars": 5})])
    await seed_player(harness.pool, "#2PQ", "Theirs", [(now - DAY, {"war_stars": 9})])
    await link(harness.pool, "#2PP", 42)
    await link(harness.pool, "#2PQ", 77)
    reply = await harness.run("leaderboard", opt("stat", "war_stars"), user_id=42)
    lines = reply.embeds[0]["description"].splitlines()
    assert lines == ["`   1.` Theirs (#2PQ) — 9", "`   2.` **➜ Mine (#2PP) — 5**"]
    assert reply.components == []  # one page: no buttons


async def test_gains_over_a_week_mark_players_tracked_for_less(harness: Harness) -> None:
    now = datetime.now(UTC)
    await seed_player(
        harness.pool,
        "#2PP",
        "Veteran",
        [(now - 30 * DAY, {"trophies": 5000}), (now - DAY, {"trophies": 5120})],
    )
    await seed_player(
        harness.pool,
        "#2PQ",
        "Rookie",
        [(now - 2 * DAY, {"trophies": 3000}), (now - HOUR, {"trophies": 2950})],
    )
    reply = await harness.run("leaderboard", opt("stat", "trophies"), opt("period", "7d"))
    embed = reply.embeds[0]
    assert embed["title"] == "Trophies: gain over 7 days"
    assert embed["description"].startswith("Since <t:")
    assert rows(reply) == [(1, "Veteran", "#2PP", "+120"), (2, "Rookie", "#2PQ", "-50")]
    assert embed["description"].splitlines()[-1].endswith(" *")
    assert "tracked for less than the period" in embed["footer"]["text"]


async def test_this_season_starts_at_the_season_boundary(harness: Harness) -> None:
    from bot.tracker.seasons import season_start

    now = datetime.now(UTC)
    boundary = season_start(now)
    after = boundary + (now - boundary) / 2
    await seed_player(
        harness.pool,
        "#2PP",
        "A",
        [
            (boundary - 3 * DAY, {"trophies": 5000, "donations": 800, "donations_total": 800}),
            (boundary - HOUR, {"trophies": 5300, "donations": 900, "donations_total": 900}),
            (after, {"trophies": 5250, "donations": 40, "donations_total": 940}),
        ],
    )
    await seed_season(harness.pool, "#2PP", boundary, 40, 0)
    await seed_player(
        harness.pool,
        "#2PQ",
        "B",
        [(boundary - DAY, {"trophies": 4000}), (after, {"trophies": 4100})],
    )
    trophies = await harness.run("leaderboard", opt("stat", "trophies"), opt("period", "season"))
    assert rows(trophies) == [(1, "B", "#2PQ", "+100"), (2, "A", "#2PP", "-50")]
    given = await harness.run("leaderboard", opt("stat", "donations"), opt("period", "season"))
    assert given.embeds[0]["title"] == "Donations this season"
    assert rows(given) == [(1, "A", "#2PP", "40"), (2, "B", "#2PQ", "0")]


async def test_an_empty_guild_gets_a_clear_reply(harness: Harness) -> None:
    reply = await harness.run("leaderboard", opt("stat", "trophies"))
    assert "This server tracks no players yet" in reply.content
    assert reply.components == [] and not reply.embeds


async def test_tracked_players_without_data_get_a_clear_reply(harness: Harness) -> None:
    await harness.pool.execute(INSERT_TRACKED, GUILD_ID, "#2PP")
    reply = await harness.run("leaderboard", opt("stat", "trophies"), opt("period", "30d"))
    assert "None of the 1 tracked players has data for this yet" in reply.content


async def test_leaderboard_is_for_servers_only(harness: Harness) -> None:
    reply = await harness.run("leaderboard", opt("stat", "trophies"), guild_id=None)
    assert reply.ephemeral and "only works in a server" in reply.content
