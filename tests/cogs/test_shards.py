"""Two bot processes, two shards each (SHARD_COUNT=4, SHARD_IDS=0,1 and 2,3), one fake
Discord and one database: every guild's interactions reach the process of its shard and
are answered once; a feed post, a war reminder and a board edit happen once with both
processes running; a guild's roles are synced by the process that has its shard."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from db import war_reminders
from tests.bot.feed.helpers import settled
from tests.bot.feed.test_sender import cog as feed_cog
from tests.cogs.board_helpers import add_board, board_message, lines, make_due, refresher
from tests.cogs.test_feed import set_feed
from tests.cogs.test_war_reminder import at, reminders
from tests.cogs.war_helpers import OURS, THEIRS, poll_wars, running_war, track_clan
from tests.db.test_feeds import add_player, emit, track
from tests.db.test_history import DAY, link, seed_player
from tests.harness import GUILD_ID, Harness, bot_on, fakes

COUNT = 4
# One guild on each shard: Discord puts a guild on shard (guild_id >> 22) % count.
GUILDS = [(shard << 22) + GUILD_ID for shard in range(COUNT)]
OWNER = {0: "a", 1: "a", 2: "b", 3: "b"}
MANAGE_ROLES = 1 << 28
BOT_ROLE, TH16 = 9000, 9001


def channel(shard: int) -> int:
    """The guild's one text channel (the fake makes it at guild id + 1)."""
    return GUILDS[shard] + 1


@dataclass
class Pair:
    a: Harness
    b: Harness
    # What each process was sent: interaction ids, and the REST requests it made.
    interactions: dict[str, list[int]]
    requests: dict[str, list[tuple[str, str, Any]]]

    def by(self, name: str) -> Harness:
        return self.a if name == "a" else self.b


def record(name: str, h: Harness, pair: Pair) -> None:
    async def on_interaction(interaction: Any) -> None:
        pair.interactions[name].append(interaction.id)

    h.bot.add_listener(on_interaction, "on_interaction")
    http: Any = h.bot.http
    original = http.request

    async def request(route: Any, **kwargs: Any) -> Any:
        pair.requests[name].append((route.method, route.path, route.guild_id))
        return await original(route, **kwargs)

    http.request = request


@pytest.fixture
async def pair(db_dsn: str, tmp_path: Path) -> AsyncIterator[Pair]:
    async with fakes() as (discord, coc):
        for gid in GUILDS[1:]:
            discord.add_guild(gid)
        for gid in GUILDS:
            discord.add_role(gid, BOT_ROLE, "Tracker", position=10, permissions=MANAGE_ROLES)
            discord.add_role(gid, TH16, "TH16", position=1)
            discord.set_bot_roles(gid, [BOT_ROLE])
        shards = {"a": "0,1", "b": "2,3"}
        async with contextlib.AsyncExitStack() as stack:
            running = {
                name: await stack.enter_async_context(
                    bot_on(
                        discord,
                        coc,
                        db_dsn,
                        tmp_path / name,
                        SHARD_COUNT=str(COUNT),
                        SHARD_IDS=ids,
                        BOARD_REFRESH_SECONDS="2",
                    )
                )
                for name, ids in shards.items()
            }
            p = Pair(running["a"], running["b"], {"a": [], "b": []}, {"a": [], "b": []})
            for name, h in running.items():
                record(name, h, p)
            yield p


async def test_each_guild_is_served_by_the_process_of_its_shard(pair: Pair) -> None:
    a, b, discord = pair.a, pair.b, pair.a.discord
    assert {g.id for g in a.bot.guilds} == set(GUILDS[:2])
    assert {g.id for g in b.bot.guilds} == set(GUILDS[2:])
    assert sorted(discord.shard_conns) == [(s, COUNT) for s in range(COUNT)]
    for shard, gid in enumerate(GUILDS):
        it = await a.send("status", guild_id=gid)
        reply = await it.wait_response()
        assert it.shard == (shard, COUNT)
        assert it.callback_types == [5] and len(it.followups) == 1  # deferred, answered once
        latency = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}["Latency"]
        assert f"Shard {shard} of {COUNT}, gateway " in latency
        owner, other = OWNER[shard], "b" if OWNER[shard] == "a" else "a"
        assert it.id in pair.interactions[owner] and it.id not in pair.interactions[other]
    assert len(pair.interactions["a"]) == len(pair.interactions["b"]) == 2


async def test_a_feed_post_is_sent_once(pair: Pair) -> None:
    a, b, discord = pair.a, pair.b, pair.a.discord
    gid, feed_channel = GUILDS[3], channel(3)
    reply = await set_feed(b, feed_channel, guild_id=gid)  # any process may send it
    assert "Feed" in reply.content and f"<#{feed_channel}>" in reply.content
    async with a.pool.acquire() as con:
        await add_player(con, "#2PP0JCCL", "Bob")
        await track(con, gid, "#2PP0JCCL")
        await emit(con, "#2PP0JCCL", [("town_hall", "15", "16", 1, {})])
    await discord.wait_channel_messages(feed_channel, 1)
    # One sender leads (an advisory lock), the other stands by: wait for the leader's.
    waits = [asyncio.create_task(settled(feed_cog(h).sender)) for h in (a, b)]
    done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    for task in done:
        task.result()
    (post,) = discord.channel_messages[feed_channel]
    assert "Town Hall 15 → 16" in post.embeds[0]["description"]


async def test_a_war_reminder_is_posted_once(pair: Pair) -> None:
    a, b, discord = pair.a, pair.b, pair.a.discord
    for shard in (0, 2):
        await track_clan(a, guild_id=GUILDS[shard])
        async with a.pool.acquire() as con:
            await war_reminders.set_reminder(con, GUILDS[shard], "#2PP", channel(shard), 2, 1)
    war = running_war(battle_left=timedelta(hours=3))
    war.attack(OURS[0], THEIRS[0], 3, 100)
    a.coc.serve_war(war)
    await poll_wars(a)
    tasks = [reminders(a), reminders(b)]
    for task in tasks:
        task.clock = at(timedelta(hours=1, seconds=5))
    for _ in range(2):
        await asyncio.gather(*(t.run_once() for t in tasks))
    for shard in (0, 2):
        (post,) = discord.channel_messages[channel(shard)]
        assert "The war against **Their Clan** ends" in post.content


async def test_a_board_is_edited_once(pair: Pair) -> None:
    a, b, discord = pair.a, pair.b, pair.a.discord
    gid, board_channel = GUILDS[1], channel(1)
    await seed_player(a.pool, "#2PP", "Alpha", [(datetime.now(UTC) - DAY, {})], guild_id=gid)
    await a.pool.execute("UPDATE players SET trophies = 1500 WHERE tag = '#2PP'")
    reply = await add_board(a, "trophies", board_channel, guild_id=gid)
    assert "Board added" in reply.content
    message = await board_message(a, board_channel)
    await a.pool.execute("UPDATE players SET trophies = 1700 WHERE tag = '#2PP'")
    await make_due(a)
    both = [refresher(a), refresher(b)]
    await asyncio.gather(*(r.run_once() for r in both))
    await discord.wait_for(lambda: message.edits >= 1, 15, "the board's edit")
    for _ in range(2):  # more cycles of both, due or not: nothing changes any more
        await make_due(a)
        await asyncio.gather(*(r.run_once() for r in both))
    assert message.edits == 1 and "1,700" in lines(message)[0]
    assert discord.live_messages(board_channel) == [message]


async def test_roles_are_synced_by_the_process_of_the_guilds_shard(pair: Pair) -> None:
    a, b, discord = pair.a, pair.b, pair.a.discord
    users = {shard: 100 + shard for shard in range(COUNT)}
    for shard, user in users.items():
        discord.add_member(GUILDS[shard], user)
    async with a.pool.acquire() as con:
        for shard, user in users.items():
            tag = f"#R{shard}"
            await con.execute(
                """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
                       war_stars, attack_wins, defense_wins, donations, donations_received,
                       builder_trophies, best_builder_trophies, builder_hall,
                       capital_contributions, fetched_at, changed_at)
                   VALUES ($1, $2, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now(), now())""",
                tag,
                f"Member {shard}",
            )
            await link(con, tag, user)
            await con.execute("INSERT INTO role_guilds (guild_id) VALUES ($1)", GUILDS[shard])
            await con.execute(
                "INSERT INTO role_maps (guild_id, kind, value, role_id) "
                "VALUES ($1, 'town_hall', '16', $2)",
                GUILDS[shard],
                TH16,
            )
    for h in (a, b):
        assert h.bot.role_sync is not None
        h.bot.role_sync.wake()
    for shard, user in users.items():
        await discord.wait_for(
            lambda s=shard, u=user: TH16 in discord.member_roles(GUILDS[s], u),  # type: ignore[misc]
            15,
            f"the role in guild {shard}",
        )
    for name in ("a", "b"):
        changed = {gid for method, path, gid in pair.requests[name] if "/roles/" in path}
        assert changed == {GUILDS[s] for s, owner in OWNER.items() if owner == name}
