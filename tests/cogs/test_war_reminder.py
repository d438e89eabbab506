"""/war-reminder set, off and show, and the reminders themselves: once per war and guild,
across restarts and processes, pinging exactly the linked members with attacks left."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.timeutil import utcnow
from bot.wars.reminders import WarReminders
from db import war_reminders
from tests.cogs.test_feed import channel_option, deny_bot
from tests.cogs.war_helpers import (
    CLAN,
    OPPONENT,
    OURS,
    THEIRS,
    poll_wars,
    running_war,
    track_clan,
)
from tests.db.test_history import link
from tests.fakes.wars import ScriptedWar, lineup
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, opt, sub

CHANNEL = 5001
OTHER_GUILD, OTHER_CHANNEL = 6000, 6001
SEND = 1 << 11


async def set_reminder(harness: Harness, hours: int, channel: int = CHANNEL, **who: Any) -> Any:
    option, resolved = channel_option(harness, channel)
    who.setdefault("permissions", MANAGE_GUILD)
    return await harness.run(
        "war-reminder",
        sub("set", option, opt("hours", hours, type=4)),
        resolved=resolved,
        **who,
    )


def reminders(harness: Harness) -> WarReminders:
    found = harness.bot.get_cog("WarReminderCog")
    assert found is not None
    return found.reminders  # type: ignore[attr-defined,no-any-return]


def at(offset: timedelta) -> Callable[[], datetime]:
    return lambda: utcnow() + offset


async def test_set_show_off(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    await track_clan(harness)
    reply = await set_reminder(harness, 3)
    assert reply.ephemeral and "3 hour(s) before each battle day of Our Clan" in reply.content
    shown = await harness.run("war-reminder", sub("show"), permissions=MANAGE_GUILD)
    assert f"Our Clan (#2PP): 3 hour(s) before the end, in <#{CHANNEL}>" in shown.content
    off = await harness.run("war-reminder", sub("off"), permissions=MANAGE_GUILD)
    assert "War reminder off for Our Clan (#2PP)" in off.content
    again = await harness.run("war-reminder", sub("off"), permissions=MANAGE_GUILD)
    assert again.ephemeral and "has no war reminder" in again.content


async def test_set_is_refused_without_manage_server_bad_hours_or_a_closed_channel(
    harness: Harness,
) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    await track_clan(harness)
    refused = await set_reminder(harness, 3, permissions=0)
    assert refused.ephemeral and "Manage Server" in refused.content
    for hours in (0, 25):
        bad = await set_reminder(harness, hours)
        assert bad.ephemeral and "from 1 to 24" in bad.content
    harness.discord.add_channel(GUILD_ID, 5002, name="read-only")
    # Changed before the gateway writer sends CHANNEL_CREATE (it runs at the next await).
    deny_bot(harness, 5002, SEND)
    closed = await set_reminder(harness, 3, channel=5002)
    assert closed.ephemeral and "missing Send Messages" in closed.content
    async with harness.pool.acquire() as con:
        assert not await war_reminders.show(con, GUILD_ID)


async def test_set_needs_a_tracked_clan(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    reply = await set_reminder(harness, 3)
    assert reply.ephemeral and "tracks no clan" in reply.content


async def test_untracking_the_clan_drops_its_reminder(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    await track_clan(harness)
    await set_reminder(harness, 3)
    await harness.run("track", sub("clan-remove", opt("tag", CLAN)), permissions=MANAGE_GUILD)
    async with harness.pool.acquire() as con:
        assert not await war_reminders.show(con, GUILD_ID)


async def two_guilds_with_a_war(harness: Harness) -> None:
    """The clan tracked by two guilds, each with a reminder 2 h before a war's end 3 h away
    (so its moment is an hour away); Cid linked to user 77."""
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    harness.discord.add_guild(OTHER_GUILD, channels=[{"id": OTHER_CHANNEL, "name": "war"}])
    await track_clan(harness)
    await track_clan(harness, guild_id=OTHER_GUILD)
    await link(harness.pool, OURS[2], 77)
    await set_reminder(harness, 2)
    async with harness.pool.acquire() as con:
        await war_reminders.set_reminder(con, OTHER_GUILD, CLAN, OTHER_CHANNEL, 2, 1)
    war = running_war(battle_left=timedelta(hours=3))
    war.attack(OURS[0], THEIRS[0], 3, 100)
    war.attack(OURS[0], THEIRS[1], 3, 100)
    war.attack(OURS[1], THEIRS[1], 2, 70)
    harness.coc.serve_war(war)
    await poll_wars(harness)


async def test_each_guilds_reminder_is_posted_once_pinging_the_linked_members(
    harness: Harness,
) -> None:
    await two_guilds_with_a_war(harness)
    async with harness.pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM wars") == 1  # one war, two guilds
    task = reminders(harness)
    task.clock = at(timedelta(minutes=30))  # before the moment: nothing
    await task.run_once()
    assert not harness.discord.channel_messages[CHANNEL]
    task.clock = at(timedelta(hours=1, seconds=5))
    await task.run_once()
    await task.run_once()
    for channel in (CHANNEL, OTHER_CHANNEL):
        (post,) = harness.discord.channel_messages[channel]
        lines = post.content.splitlines()
        assert lines[0].startswith("⚔️ The war against **Their Clan** ends <t:")
        assert lines[0].endswith("3 attack(s) left:")
        assert lines[1:] == ["• Bob (TH14, 1 left)", "• Cid (TH13, 2 left) <@77>"]
        assert [m["id"] for m in post.raw["mentions"]] == ["77"]
        assert not post.raw["mention_everyone"] and not post.raw["mention_roles"]
        assert post.allowed_mentions == {"parse": [], "users": ["77"]}


async def test_several_processes_post_each_reminder_once(harness: Harness) -> None:
    await two_guilds_with_a_war(harness)
    processes = [reminders(harness), WarReminders(harness.bot), WarReminders(harness.bot)]
    for task in processes:
        task.clock = at(timedelta(hours=1, seconds=5))
    await asyncio.gather(*(t.run_once() for t in processes))
    await asyncio.gather(*(t.run_once() for t in processes))
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    assert len(harness.discord.channel_messages[OTHER_CHANNEL]) == 1


async def test_a_reminder_claimed_by_a_process_that_died_is_posted_once(
    harness: Harness,
) -> None:
    """Claimed, posted, then the process died before marking it sent: the next process
    posts it again with the same nonce, and Discord answers with the first message."""
    await two_guilds_with_a_war(harness)
    task = reminders(harness)
    task.clock = at(timedelta(hours=1, seconds=5))
    await task.run_once()
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE war_reminder_posts SET sent_at = NULL, message_id = NULL")
    restarted = WarReminders(harness.bot)
    restarted.clock = task.clock
    await restarted.run_once()
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    async with harness.pool.acquire() as con:
        assert (
            await con.fetchval("SELECT count(*) FROM war_reminder_posts WHERE sent_at IS NOT NULL")
            == 2
        )


async def test_a_war_that_ended_sooner_or_a_reminder_set_too_late_does_not_post(
    harness: Harness,
) -> None:
    await two_guilds_with_a_war(harness)
    # The other guild sets its reminder again with 4 hours: its moment (an hour ago)
    # passed before it was set.
    async with harness.pool.acquire() as con:
        await war_reminders.set_reminder(con, OTHER_GUILD, CLAN, OTHER_CHANNEL, 4, 1)
    task = reminders(harness)
    task.clock = utcnow
    await task.run_once()
    assert not harness.discord.channel_messages[OTHER_CHANNEL]
    async with harness.pool.acquire() as con:
        assert (
            await con.fetchval(
                "SELECT skipped FROM war_reminder_posts WHERE guild_id = $1", OTHER_GUILD
            )
            == "set after its moment"
        )
    # The war ends early (everyone attacked): the first guild's moment never comes.
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE wars SET closed_at = now(), closed_how = 'seen'")
    task.clock = at(timedelta(hours=1, seconds=5))
    await task.run_once()
    assert not harness.discord.channel_messages[CHANNEL]


async def test_a_reminder_survives_a_restart_of_the_bot(harness: Harness) -> None:
    """Posted, then the bot restarts (a new reminder task on the same database): not posted
    again."""
    await two_guilds_with_a_war(harness)
    task = reminders(harness)
    task.clock = at(timedelta(hours=1, seconds=5))
    await task.run_once()
    await harness.bot.reload_extension("cogs.war_reminder")
    again = reminders(harness)
    assert again is not task
    again.clock = task.clock
    await again.run_once()
    assert len(harness.discord.channel_messages[CHANNEL]) == 1
    assert len(harness.discord.channel_messages[OTHER_CHANNEL]) == 1


async def test_a_channel_that_refuses_drops_the_reminder(harness: Harness) -> None:
    await two_guilds_with_a_war(harness)
    deny_bot(harness, CHANNEL, SEND)
    task = reminders(harness)
    task.clock = at(timedelta(hours=1, seconds=5))
    await task.run_once()
    await task.run_once()
    assert not harness.discord.channel_messages[CHANNEL]
    assert len(harness.discord.channel_messages[OTHER_CHANNEL]) == 1
    async with harness.pool.acquire() as con:
        why = await con.fetchval(
            "SELECT skipped FROM war_reminder_posts WHERE guild_id = $1", GUILD_ID
        )
    assert why == "Discord refused: 403"


async def test_a_long_lineup_is_reminded_in_parts_naming_everyone_once(harness: Harness) -> None:
    """50 members with attacks left, each linked: the reminder goes out in as many
    messages as 2000 characters take, each pinging the members it names; a process that
    died after the first part posts only the rest."""
    harness.discord.add_channel(GUILD_ID, CHANNEL)
    await track_clan(harness)
    await set_reminder(harness, 2)
    alphabet = "0289PYLQGRJCUV"
    ours = [f"#8{a}{b}" for a in alphabet for b in alphabet][:50]
    theirs = [f"#9{a}{b}" for a in alphabet for b in alphabet][:50]
    war = ScriptedWar(
        CLAN,
        "Our Clan",
        OPPONENT,
        "Their Clan",
        lineup(ours, names=[f"Member_number_{n:02d}" for n in range(50)]),
        lineup(theirs),
        preparation_start=utcnow() + timedelta(hours=3) - timedelta(hours=47),
    )
    war.begin_battle()
    harness.coc.serve_war(war)
    async with harness.pool.acquire() as con:
        for n, tag in enumerate(ours):
            await link(con, tag, 1000 + n)
    await poll_wars(harness)
    task = reminders(harness)
    task.clock = at(timedelta(hours=1, seconds=5))
    await task.run_once()
    posts = harness.discord.channel_messages[CHANNEL]
    assert len(posts) >= 2 and all(len(p.content) <= 2000 for p in posts)
    named = [line for p in posts for line in p.content.splitlines() if line.startswith("• ")]
    assert len(named) == 50
    mentioned = [m["id"] for p in posts for m in p.raw["mentions"]]
    assert sorted(mentioned) == sorted(str(1000 + n) for n in range(50))
    assert len({p.nonce for p in posts}) == len(posts)
    # A process that died after the first part: the rest only, with the same nonces.
    async with harness.pool.acquire() as con:
        await con.execute("UPDATE war_reminder_posts SET sent_at = NULL, parts_sent = 1")
    restarted = WarReminders(harness.bot)
    restarted.clock = task.clock
    await restarted.run_once()
    assert len(harness.discord.channel_messages[CHANNEL]) == len(posts)
