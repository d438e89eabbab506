"""/board through the fake Discord: posted, edited after a change and only then, kept
across a restart, posted again once after a deletion, turned off on lost access."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot import leaderboards
from bot.boards.refresher import BoardRefresher
from tests.cogs.activity_helpers import member, poll, publish, track_clan
from tests.cogs.board_helpers import (
    BOARD_CHANNEL,
    add_board,
    board_message,
    boards_bot,
    cycle,
    lines,
    make_due,
    refresh_racing,
    refresher,
    remove_board,
)
from tests.db.test_history import DAY, seed_player
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, fakes, opt, sub

VIEW, READ_HISTORY = 1 << 10, 1 << 16
PATCH = ("PATCH", f"/channels/{BOARD_CHANNEL}/messages/")


@pytest.fixture
async def harness(db_dsn: str, tmp_path: Path) -> AsyncIterator[Harness]:
    async with fakes() as (discord, coc):
        discord.add_channel(GUILD_ID, BOARD_CHANNEL, name="boards")
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            yield h


async def seed(harness: Harness, *players: tuple[str, str, int]) -> None:
    now = datetime.now(UTC)
    for tag, name, trophies in players:
        await seed_player(harness.pool, tag, name, [(now - DAY, {"trophies": trophies})])


async def set_trophies(harness: Harness, tag: str, trophies: int) -> None:
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE players SET trophies = $2 WHERE tag = $1", tag, trophies)


def edits_requested(harness: Harness) -> int:
    return sum(1 for m, p in harness.discord.requests if m == PATCH[0] and p.startswith(PATCH[1]))


async def test_posted_then_edited_only_when_it_changed(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500), ("#2PQ", "Beta", 1400))
    reply = await add_board(harness, "trophies")
    assert reply.ephemeral and "Board added" in reply.content
    message = await board_message(harness)
    assert message.embeds[0]["title"] == "Trophies"
    assert [ln.split("`", 2)[2].strip() for ln in lines(message)] == [
        "Alpha (#2PP) — 1,500",
        "Beta (#2PQ) — 1,400",
    ]
    for _ in range(3):
        await cycle(harness)
    assert message.edits == 0 and edits_requested(harness) == 0  # nothing changed

    await set_trophies(harness, "#2PQ", 1600)
    await cycle(harness)
    assert message.edits == 1
    assert "Beta (#2PQ) — 1,600" in lines(message)[0]
    await cycle(harness)
    assert message.edits == 1
    assert len(harness.discord.live_messages(BOARD_CHANNEL)) == 1


async def test_a_change_the_tracker_sees_reaches_the_board(harness: Harness) -> None:
    publish(harness, [member("#2PP", "Alpha", trophies=1500)])
    await track_clan(harness)
    await poll(harness)
    await add_board(harness, "trophies")
    message = await board_message(harness)
    assert "1,500" in lines(message)[0]
    publish(harness, [member("#2PP", "Alpha", trophies=1531)])
    await poll(harness)
    await cycle(harness)
    assert message.edits == 1 and "1,531" in lines(message)[0]


async def test_kept_across_a_restart(db_dsn: str, tmp_path: Path) -> None:
    async with fakes() as (discord, coc):
        discord.add_channel(GUILD_ID, BOARD_CHANNEL, name="boards")
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            await seed(h, ("#2PP", "Alpha", 1500))
            await add_board(h, "trophies")
            message = await board_message(h)
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            await cycle(h)  # the new process checks the message once: it is there
            assert message.edits == 0
            await set_trophies(h, "#2PP", 1700)
            await cycle(h)
            assert message.edits == 1 and "1,700" in lines(message)[0]
            assert discord.live_messages(BOARD_CHANNEL) == [message]


async def test_a_deleted_message_is_posted_again_once(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    first = await board_message(harness)
    harness.discord.delete_message(BOARD_CHANNEL, first.id)  # MESSAGE_DELETE reaches the bot
    second = await board_message(harness)
    assert second.id != first.id and "1,500" in lines(second)[0]
    for _ in range(3):
        await cycle(harness)
    assert harness.discord.live_messages(BOARD_CHANNEL) == [second]
    assert len(harness.discord.channel_messages[BOARD_CHANNEL]) == 2
    await set_trophies(harness, "#2PP", 1510)
    await cycle(harness)
    assert second.edits == 1 and harness.discord.live_messages(BOARD_CHANNEL) == [second]


async def test_a_message_deleted_while_the_bot_was_away_is_posted_again(
    db_dsn: str, tmp_path: Path
) -> None:
    async with fakes() as (discord, coc):
        discord.add_channel(GUILD_ID, BOARD_CHANNEL, name="boards")
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            await seed(h, ("#2PP", "Alpha", 1500))
            await add_board(h, "trophies")
            first = await board_message(h)
        discord.delete_message(BOARD_CHANNEL, first.id)  # nobody connected to hear it
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            second = await board_message(h)
            assert second.id != first.id
            await cycle(h)
            await cycle(h)
            assert discord.live_messages(BOARD_CHANNEL) == [second]


async def test_lost_access_turns_the_board_off_with_the_reason(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    message = await board_message(harness)
    guild = harness.bot.get_guild(GUILD_ID)
    assert guild is not None
    harness.discord.set_overwrites(
        BOARD_CHANNEL,
        [{"id": str(harness.discord.bot_user_id), "type": 1, "allow": "0", "deny": str(VIEW)}],
    )
    await harness.discord.wait_for(
        lambda: not guild.get_channel(BOARD_CHANNEL).permissions_for(guild.me).view_channel,  # type: ignore[union-attr]
        10,
        "the cache to see the overwrite",
    )
    await set_trophies(harness, "#2PP", 1600)
    await cycle(harness)
    assert message.edits == 0 and edits_requested(harness) == 0  # not even tried
    listing = await harness.run("board", sub("list"), permissions=MANAGE_GUILD)
    text = listing.embeds[0]["description"]
    assert "**off**" in text and "can no longer see" in text and "View Channel" in text
    # Access back and the board added again: it edits the same message.
    harness.discord.set_overwrites(BOARD_CHANNEL, [])
    await harness.discord.wait_for(
        lambda: guild.get_channel(BOARD_CHANNEL).permissions_for(guild.me).view_channel,  # type: ignore[union-attr]
        10,
    )
    reply = await add_board(harness, "trophies")
    assert "on again" in reply.content
    await cycle(harness)
    assert message.edits == 1 and "1,600" in lines(message)[0]
    assert harness.discord.live_messages(BOARD_CHANNEL) == [message]


async def test_a_refusal_by_discord_turns_the_board_off(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    await board_message(harness)
    harness.discord.fail_channel(BOARD_CHANNEL, 403)  # the cache does not know why
    await set_trophies(harness, "#2PP", 1600)
    await cycle(harness)
    async with harness.pool.acquire() as con:
        reason = await con.fetchval("SELECT disabled_reason FROM boards")
    assert reason is not None and "refused" in reason


async def test_a_deleted_channel_takes_its_boards_along(harness: Harness) -> None:
    """Its messages are gone with it, and Discord offers no deleted channel to /board
    remove: the boards go, and free their places in the limit."""
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    await board_message(harness)
    harness.discord.delete_channel(BOARD_CHANNEL)

    async def count() -> int:
        async with harness.pool.acquire() as con:
            return int(await con.fetchval("SELECT count(*) FROM boards"))

    for _ in range(100):
        if not await count():
            break
        await asyncio.sleep(0.05)
    assert await count() == 0


async def test_a_channel_deleted_while_nobody_heard_is_found(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    await board_message(harness)
    await refresher(harness).stop()
    # Unknown to Discord now, though the cache still holds it (no event came).
    harness.discord.fail_channel(BOARD_CHANNEL, 404)
    await set_trophies(harness, "#2PP", 1600)
    await make_due(harness)
    await BoardRefresher(harness.bot).run_once()
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM boards") == 0


async def test_without_read_message_history_a_board_is_kept(harness: Harness) -> None:
    """The message is read back only to check it still exists: a board in a channel where
    the bot cannot read the history is added, kept and edited; the check is skipped."""
    deny = {"id": str(harness.discord.bot_user_id), "type": 1, "allow": "0",
            "deny": str(READ_HISTORY)}  # fmt: skip
    guild = harness.bot.get_guild(GUILD_ID)
    assert guild is not None

    def can_read() -> bool:
        return guild.get_channel(BOARD_CHANNEL).permissions_for(guild.me).read_message_history  # type: ignore[union-attr]

    harness.discord.set_overwrites(BOARD_CHANNEL, [deny])
    await harness.discord.wait_for(lambda: not can_read(), 10)
    await seed(harness, ("#2PP", "Alpha", 1500))
    assert "Board added" in (await add_board(harness, "trophies")).content
    message = await board_message(harness)
    refresher(harness).new_session()  # a new gateway session: every message is checked
    await cycle(harness)
    await set_trophies(harness, "#2PP", 1600)
    await cycle(harness)
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT disabled_at FROM boards") is None
    assert message.edits == 1 and harness.discord.live_messages(BOARD_CHANNEL) == [message]


async def test_remove_while_its_message_is_being_posted_leaves_no_stray_message(
    harness: Harness,
) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await refresher(harness).stop()
    await add_board(harness, "trophies")

    async def removed() -> None:
        await harness.pool.execute("DELETE FROM boards")  # /board remove, mid-refresh

    await refresh_racing(harness, BoardRefresher(harness.bot), removed)
    assert harness.discord.channel_messages[BOARD_CHANNEL]  # it was posted ...
    assert harness.discord.live_messages(BOARD_CHANNEL) == []  # ... and taken back


async def test_a_period_changed_during_a_refresh_is_shown_at_once(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    message = await board_message(harness)
    await refresher(harness).stop()
    racer = BoardRefresher(harness.bot)

    async def period_changed() -> None:
        await add_board(harness, "trophies", period="7d")  # rendered already: stale

    await harness.pool.execute("UPDATE boards SET content_hash = 'x'")
    await refresh_racing(harness, racer, period_changed)
    await racer.run_once()  # due again at once, not in an hour
    assert message.embeds[0]["title"] == "Trophies: gain over 7 days"


async def test_ten_boards_a_guild(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    stats = ["trophies", "best_trophies", "donations", "donations_received", "attack_wins",
             "defense_wins", "war_stars", "exp_level", "town_hall", "builder_trophies"]  # fmt: skip
    for stat in stats:
        assert "Board added" in (await add_board(harness, stat)).content
    refused = await add_board(harness, "capital_contributions")
    assert refused.ephemeral and "10 boards" in refused.content
    # Changing one of the ten is not a new board.
    changed = await add_board(harness, "trophies", period="7d")
    assert "changed" in changed.content
    await cycle(harness)
    assert len(harness.discord.live_messages(BOARD_CHANNEL)) == 10


async def test_remove_deletes_the_message_and_list_shows_the_rest(harness: Harness) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    await add_board(harness, "war_stars", period="30d")
    await cycle(harness)
    assert len(harness.discord.live_messages(BOARD_CHANNEL)) == 2
    listing = await harness.run("board", sub("list"), permissions=MANAGE_GUILD)
    text = listing.embeds[0]["description"]
    assert "**Trophies**" in text and "War stars: gain over 30 days" in text
    removed = await remove_board(harness, "trophies")
    assert "Board removed" in removed.content and "deleted" in removed.content
    assert len(harness.discord.live_messages(BOARD_CHANNEL)) == 1
    again = await remove_board(harness, "trophies")
    assert again.ephemeral and "no Trophies board" in again.content


async def test_managers_only(harness: Harness) -> None:
    refused = await harness.run(
        "board", sub("add", opt("stat", "trophies")), permissions=0, user_id=77
    )
    assert refused.ephemeral
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM boards") == 0


async def test_a_channel_the_bot_cannot_post_in_is_refused(harness: Harness) -> None:
    harness.discord.set_overwrites(
        BOARD_CHANNEL,
        [{"id": str(harness.discord.bot_user_id), "type": 1, "allow": "0", "deny": str(1 << 11)}],
    )
    guild = harness.bot.get_guild(GUILD_ID)
    assert guild is not None
    await harness.discord.wait_for(
        lambda: not guild.get_channel(BOARD_CHANNEL).permissions_for(guild.me).send_messages,  # type: ignore[union-attr]
        10,
    )
    refused = await add_board(harness, "trophies")
    assert refused.ephemeral and "Send Messages" in refused.content


async def test_two_refreshers_edit_each_board_once(harness: Harness) -> None:
    """Two processes' refreshers at once: each board is claimed by one; every change is
    one edit, every board one message."""
    await seed(harness, *((f"#2P{c}", f"P{c}", 1000 + i) for i, c in enumerate("QRUV")))
    for stat in ("trophies", "war_stars", "donations", "exp_level"):
        await add_board(harness, stat)
    await cycle(harness)
    messages = harness.discord.live_messages(BOARD_CHANNEL)
    assert len(messages) == 4
    await refresher(harness).stop()
    first, second = BoardRefresher(harness.bot), BoardRefresher(harness.bot)
    await asyncio.gather(first.run_once(), second.run_once())  # both check every message once
    for round_ in range(3):
        await set_trophies(harness, "#2PQ", 2000 + round_)
        await make_due(harness)
        await asyncio.gather(first.run_once(), second.run_once())
    trophies = next(m for m in messages if m.embeds[0]["title"] == "Trophies")
    assert trophies.edits == 3
    assert sum(m.edits for m in messages) == 3
    assert harness.discord.live_messages(BOARD_CHANNEL) == messages


async def test_a_delete_heard_while_the_replacement_is_posted_leaves_one_message(
    harness: Harness,
) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    first = await board_message(harness)
    await refresher(harness).stop()
    racer = BoardRefresher(harness.bot)

    async def deleted() -> None:
        first.deleted = True  # the refresh's edit will find it gone and post anew ...
        await racer.messages_deleted(BOARD_CHANNEL, [first.id])  # ... as the event lands

    await set_trophies(harness, "#2PP", 1600)
    await refresh_racing(harness, racer, deleted)
    for _ in range(3):
        await make_due(harness)
        await racer.run_once()
    (live,) = harness.discord.live_messages(BOARD_CHANNEL)
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT message_id FROM boards") == live.id
    assert "1,600" in lines(live)[0]


async def test_a_board_turned_back_on_takes_a_place_in_the_limit(harness: Harness) -> None:
    stats = ["trophies", "best_trophies", "donations", "donations_received", "attack_wins",
             "defense_wins", "war_stars", "exp_level", "town_hall", "builder_trophies"]  # fmt: skip
    for stat in stats:
        await add_board(harness, stat)
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE boards SET disabled_at = now() WHERE stat = 'trophies'")
    assert "Board added" in (await add_board(harness, "capital_contributions")).content
    refused = await add_board(harness, "trophies")  # would be the 11th on
    assert refused.ephemeral and "10 boards" in refused.content
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM boards WHERE disabled_at IS NULL") == 10


async def test_a_channel_deleted_while_the_bot_was_away_takes_its_boards(
    db_dsn: str, tmp_path: Path
) -> None:
    async with fakes() as (discord, coc):
        discord.add_channel(GUILD_ID, BOARD_CHANNEL, name="boards")
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            await seed(h, ("#2PP", "Alpha", 1500))
            await add_board(h, "trophies")
            await board_message(h)
        discord.delete_channel(BOARD_CHANNEL)  # nobody connected to hear it
        async with boards_bot(discord, coc, db_dsn, tmp_path) as h:
            await cycle(h)
            async with h.pool.acquire() as con:
                assert await con.fetchval("SELECT count(*) FROM boards") == 0


async def test_one_boards_failing_query_does_not_hold_up_the_others(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    await add_board(harness, "war_stars")
    await cycle(harness)
    trophies = next(
        m
        for m in harness.discord.live_messages(BOARD_CHANNEL)
        if m.embeds[0]["title"] == "Trophies"
    )
    real = leaderboards.board

    async def war_stars_broken(con: Any, guild: int, stat: str, *args: Any) -> Any:
        if stat == "war_stars":
            raise asyncpg.DataError("integer out of range")
        return await real(con, guild, stat, *args)

    monkeypatch.setattr(leaderboards, "board", war_stars_broken)
    await set_trophies(harness, "#2PP", 1600)
    await cycle(harness)
    assert trophies.edits == 1
    async with harness.pool.acquire() as con:
        broken = await con.fetchrow(
            "SELECT failures, leased_by FROM boards WHERE stat = 'war_stars'"
        )
    assert broken["failures"] == 1 and broken["leased_by"] is None


async def test_a_stale_verdict_does_not_turn_off_a_board_changed_meanwhile(
    harness: Harness,
) -> None:
    await seed(harness, ("#2PP", "Alpha", 1500))
    await add_board(harness, "trophies")
    await board_message(harness)
    await refresher(harness).stop()
    racer = BoardRefresher(harness.bot)
    racer.access_problem = lambda board: "I can no longer see it."  # type: ignore[method-assign]

    async def changed_meanwhile() -> None:
        # An admin turns it on again (or its message is seen deleted) mid-refresh.
        await harness.pool.execute("UPDATE boards SET revision = revision + 1")

    await refresh_racing(harness, racer, changed_meanwhile)
    row = await harness.pool.fetchrow("SELECT disabled_at, leased_by FROM boards")
    assert row["disabled_at"] is None and row["leased_by"] is None  # due again at once
