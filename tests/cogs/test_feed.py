"""/feed set, /feed off and /feed show through the fake Discord."""

from __future__ import annotations

from typing import Any

from db import feeds
from tests.bot.feed.helpers import settled
from tests.bot.feed.test_sender import CHANNEL, TAG, cog
from tests.db.test_feeds import add_player, emit, track, trophies
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, opt, sub

VIEW, SEND, EMBED = 1 << 10, 1 << 11, 1 << 14


def channel_option(harness: Harness, channel_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The channel option and the resolved data Discord sends with it."""
    channel = harness.discord.channels[channel_id]
    resolved = {
        "channels": {
            str(channel_id): {
                "id": str(channel_id),
                "name": channel["name"],
                "type": channel["type"],
                # The invoking user's permissions there, not the bot's.
                "permissions": str((1 << 53) - 1),
                "parent_id": None,
                "flags": 0,
            }
        }
    }
    return opt("channel", str(channel_id), type=7), resolved


def deny_bot(harness: Harness, channel_id: int, deny: int) -> None:
    harness.discord.channels[channel_id]["permission_overwrites"] = [
        {"id": str(harness.discord.bot_user_id), "type": 1, "allow": "0", "deny": str(deny)}
    ]


async def set_feed(harness: Harness, channel_id: int, *extra: dict[str, Any], **who: Any) -> Any:
    option, resolved = channel_option(harness, channel_id)
    who.setdefault("permissions", MANAGE_GUILD)
    return await harness.run("feed", sub("set", option, *extra), resolved=resolved, **who)


async def test_the_group_is_for_managers_in_servers_only(harness: Harness) -> None:
    (feed,) = [c for c in harness.discord.synced[GUILD_ID] if c["name"] == "feed"]
    assert int(feed["default_member_permissions"]) == MANAGE_GUILD
    group = harness.bot.tree.get_command("feed")
    assert group is not None and group.guild_only  # synced to a guild, Discord gets no contexts
    subs = {o["name"]: o for o in feed["options"]}
    assert set(subs) == {"set", "off", "show"}
    channel = next(o for o in subs["set"]["options"] if o["name"] == "channel")
    assert channel["type"] == 7 and sorted(channel["channel_types"]) == [0, 5]
    events = next(o for o in subs["set"]["options"] if o["name"] == "events")
    assert events["autocomplete"] is True and not events.get("required")


async def test_set_show_off_round_trip(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL, name="feed")
    reply = await set_feed(harness, CHANNEL, opt("events", "town hall, hero"))
    assert reply.ephemeral
    assert f"<#{CHANNEL}>" in reply.content and "Town Hall upgrade, Hero upgrade" in reply.content
    async with harness.pool.acquire() as con:
        feed = await feeds.get_feed(con, GUILD_ID)
    assert feed is not None and feed.channel_id == CHANNEL and feed.kinds == ("town_hall", "hero")
    assert feed.enabled and feed.updated_by == 42

    shown = await harness.run("feed", sub("show"), permissions=MANAGE_GUILD)
    assert "Feed: **on**" in shown.content and f"<#{CHANNEL}>" in shown.content
    assert "Town Hall upgrade, Hero upgrade" in shown.content

    off = await harness.run("feed", sub("off"), permissions=MANAGE_GUILD)
    assert off.ephemeral and "Feed off" in off.content
    again = await harness.run("feed", sub("off"), permissions=MANAGE_GUILD)
    assert "already off" in again.content
    shown = await harness.run("feed", sub("show"), permissions=MANAGE_GUILD)
    assert "Feed: **off**" in shown.content and "/feed off" in shown.content

    reply = await set_feed(harness, CHANNEL)  # back on, every kind
    assert "all changes" in reply.content
    assert harness.discord.unhandled == []


async def test_a_kinds_filter_set_by_command_holds(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL, name="feed")
    await set_feed(harness, CHANNEL, opt("events", "town_hall"))
    async with harness.pool.acquire() as con:
        await add_player(con, TAG, "Bob")
        await track(con, GUILD_ID, TAG)
        await emit(con, TAG, [trophies(1, 2), ("town_hall", "15", "16", 1, {})])
    (message,) = await harness.discord.wait_channel_messages(CHANNEL, 1)
    await settled(cog(harness).sender)
    assert [e["description"] for e in message.embeds] == ["**Bob** (#2PP0JCCL): Town Hall 15 → 16"]


async def test_unknown_kinds_are_refused_with_the_valid_ones(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL, name="feed")
    reply = await set_feed(harness, CHANNEL, opt("events", "trophies, @everyone"))
    assert reply.ephemeral and "Unknown event kind" in reply.content
    assert "town_hall" in reply.content and reply.allowed_mentions == {"parse": []}
    async with harness.pool.acquire() as con:
        assert await feeds.get_feed(con, GUILD_ID) is None


async def test_refused_when_the_bot_cannot_see_or_send_there(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, 5002, name="secret")
    # Changed before the gateway writer sends CHANNEL_CREATE (it runs at the next await).
    deny_bot(harness, 5002, VIEW)
    harness.discord.add_channel(GUILD_ID, 5003, name="read-only")
    deny_bot(harness, 5003, SEND | EMBED)
    reply = await set_feed(harness, 5002)
    assert reply.ephemeral and "I cannot post in <#5002>" in reply.content
    assert "View Channel" in reply.content
    reply = await set_feed(harness, 5003)
    assert "Send Messages, Embed Links" in reply.content and "View Channel" not in reply.content
    async with harness.pool.acquire() as con:
        assert await feeds.get_feed(con, GUILD_ID) is None


async def test_manage_server_is_checked_again_when_invoked(harness: Harness) -> None:
    harness.discord.add_channel(GUILD_ID, CHANNEL, name="feed")
    reply = await set_feed(harness, CHANNEL, permissions=0)
    assert reply.ephemeral and "Manage Server" in reply.content
    for name in ("off", "show"):
        reply = await harness.run("feed", sub(name), permissions=0)
        assert "Manage Server" in reply.content
    async with harness.pool.acquire() as con:
        assert await feeds.get_feed(con, GUILD_ID) is None


async def test_show_without_a_feed(harness: Harness) -> None:
    reply = await harness.run("feed", sub("show"), permissions=MANAGE_GUILD)
    assert reply.ephemeral and "no feed" in reply.content


async def test_events_autocomplete(harness: Harness) -> None:
    choices = await harness.complete(
        "feed",
        [sub("set", {"type": 3, "name": "events", "value": "trophies, her", "focused": True})],
        permissions=MANAGE_GUILD,
    )
    assert [c["value"] for c in choices] == ["trophies, hero"]
