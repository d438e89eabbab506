"""Members, roles and rate limits in the Discord fake, through a real discord.py 2.7 client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import discord
import pytest
import pytest_asyncio
import yarl
from discord.http import Route

from .discord_members import (
    DEFAULT_ROUTE_LIMITS,
    MANAGE_NICKNAMES,
    MANAGE_ROLES,
    MEMBER_PATCH,
    ROLE_DELETE,
    ROLE_PUT,
)
from .discord_server import FakeDiscord

GUILD, OWNED = 5000, 5100  # OWNED: a guild the bot owns
OWNER = 1
BOT_ROLE, MEMBER, ELDER, LEADER, INTEGRATION = 7001, 7002, 7003, 7004, 7005
NO_ROLES, LEADS, HOLDS_MEMBER, HOLDS_ELDER = 42, 43, 44, 45
RATE_LIMIT_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-After",
    "X-RateLimit-Bucket",
)


def build_world(fake: FakeDiscord) -> None:
    """Bot role in the middle: Leader above it, Member and Elder below, plus another bot's
    managed role."""
    fake.add_role(
        GUILD, BOT_ROLE, "FakeBot", position=5, permissions=MANAGE_ROLES | MANAGE_NICKNAMES
    )
    fake.add_role(GUILD, MEMBER, "Member", position=1)
    fake.add_role(GUILD, ELDER, "Elder", position=2)
    fake.add_role(GUILD, LEADER, "Leader", position=6)
    fake.add_role(GUILD, INTEGRATION, "OtherBot", position=3, managed=True, bot_id=999)
    fake.set_bot_roles(GUILD, [BOT_ROLE])
    fake.add_member(GUILD, OWNER, username="owner")
    fake.add_member(GUILD, NO_ROLES)
    fake.add_member(GUILD, LEADS, roles=[LEADER])
    fake.add_member(GUILD, HOLDS_MEMBER, roles=[MEMBER], nick="Keeper")
    fake.add_member(GUILD, HOLDS_ELDER, roles=[ELDER])
    fake.add_guild(OWNED, owner_id=fake.bot_user_id, channels=[])
    fake.add_role(OWNED, LEADER, "Leader", position=9)
    fake.add_role(OWNED, INTEGRATION, "OtherBot", position=3, managed=True, bot_id=999)
    fake.add_member(OWNED, NO_ROLES)


@dataclass
class Env:
    fake: FakeDiscord
    client: discord.Client
    task: asyncio.Task[None]

    @property
    def guild(self) -> discord.Guild:
        guild = self.client.get_guild(GUILD)
        assert guild is not None
        return guild

    def member(self, user_id: int, guild_id: int = GUILD) -> discord.Member:
        guild = self.client.get_guild(guild_id)
        member = guild.get_member(user_id) if guild else None
        assert member is not None
        return member

    def cached_roles(self, user_id: int) -> set[int]:
        member = self.guild.get_member(user_id)
        return {r.id for r in member.roles if not r.is_default()} if member else set()

    async def stop(self) -> None:
        await self.client.close()
        await asyncio.wait_for(self.task, 10)


async def start_client(fake: FakeDiscord, intents: discord.Intents) -> Env:
    Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    client = discord.Client(intents=intents, guild_ready_timeout=0.05)

    async def run() -> None:
        async with client:
            await client.start(fake.token)

    env = Env(fake, client, asyncio.create_task(run()))
    await asyncio.wait_for(client.wait_until_ready(), 10)
    return env


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    old = Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    build_world(fake)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()
        Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old


@pytest_asyncio.fixture
async def env(fake: FakeDiscord) -> AsyncIterator[Env]:
    intents = discord.Intents.default()
    intents.members = intents.guilds = True
    env = await start_client(fake, intents)
    try:
        yield env
    finally:
        await env.stop()


async def test_add_and_remove_role_with_reason(env: Env) -> None:
    fake, member = env.fake, env.member(NO_ROLES)
    role = env.guild.get_role(MEMBER)
    assert role is not None and env.cached_roles(NO_ROLES) == set()
    await member.add_roles(role, reason="linked #2PP ✓ / 100%")
    assert fake.member_roles(GUILD, NO_ROLES) == {MEMBER}
    [change] = fake.member_changes
    assert (change.method, change.guild_id, change.user_id, change.role_id) == (
        "PUT",
        GUILD,
        NO_ROLES,
        MEMBER,
    )
    assert change.reason == "linked #2PP ✓ / 100%" and change.nick is None
    await fake.wait_for(lambda: env.cached_roles(NO_ROLES) == {MEMBER}, 5, "cache update")
    await member.add_roles(role)  # already held: Discord answers 204 all the same
    assert fake.member_changes[-1].reason is None and len(fake.member_changes) == 2
    await member.remove_roles(role, reason="unlinked")
    assert fake.member_roles(GUILD, NO_ROLES) == set()
    assert fake.member_changes[-1].method == "DELETE"
    assert fake.member_changes[-1].reason == "unlinked"
    await fake.wait_for(lambda: env.cached_roles(NO_ROLES) == set(), 5, "cache update")
    assert fake.route_calls[ROLE_PUT] == 2 and fake.route_calls[ROLE_DELETE] == 1


async def test_patch_nick_sets_and_resets(env: Env) -> None:
    fake = env.fake
    edited = await env.member(NO_ROLES).edit(nick="Chief", reason="rename")
    assert edited is not None and edited.nick == "Chief"
    assert fake.member_nick(GUILD, NO_ROLES) == "Chief"
    change = fake.member_changes[-1]
    assert (change.method, change.nick, change.reason, change.roles) == (
        "PATCH",
        "Chief",
        "rename",
        None,
    )
    await fake.wait_for(lambda: env.member(NO_ROLES).nick == "Chief", 5, "cache update")
    await env.member(NO_ROLES).edit(nick=None)  # discord.py sends "": Discord resets
    assert fake.member_nick(GUILD, NO_ROLES) is None
    await fake.wait_for(lambda: env.member(NO_ROLES).nick is None, 5, "cache update")
    assert fake.route_calls[MEMBER_PATCH] == 2


async def test_patch_roles_checks_only_what_changes(env: Env) -> None:
    fake, guild, leads = env.fake, env.guild, env.member(LEADS)
    leader, member = guild.get_role(LEADER), guild.get_role(MEMBER)
    assert leader is not None and member is not None
    await leads.edit(roles=[leader, member], reason="sync")  # keeps Leader, above the bot
    assert fake.member_roles(GUILD, LEADS) == {LEADER, MEMBER}
    assert fake.member_changes[-1].roles == {LEADER, MEMBER}
    await fake.wait_for(lambda: env.cached_roles(LEADS) == {LEADER, MEMBER}, 5, "cache")
    with pytest.raises(discord.Forbidden) as exc:
        await leads.edit(roles=[member])  # dropping Leader is above the bot
    assert exc.value.code == 50013
    assert fake.member_roles(GUILD, LEADS) == {LEADER, MEMBER} and len(fake.member_changes) == 1


@pytest.mark.parametrize(
    ("role_id", "error", "code"),
    [
        (LEADER, discord.Forbidden, 50013),  # above the bot's highest role
        (BOT_ROLE, discord.Forbidden, 50013),  # the bot's highest role itself
        (INTEGRATION, discord.Forbidden, 50013),  # managed by another bot
        (GUILD, discord.Forbidden, 50013),  # @everyone
        (9999, discord.NotFound, 10011),
    ],
)
async def test_role_refusals(
    env: Env, role_id: int, error: type[discord.HTTPException], code: int
) -> None:
    with pytest.raises(error) as exc:
        await env.member(NO_ROLES).add_roles(discord.Object(role_id), reason="try")
    assert exc.value.code == code
    with pytest.raises(error):
        await env.client.http.remove_role(GUILD, LEADS, role_id)
    assert env.fake.member_changes == []
    assert env.fake.member_roles(GUILD, LEADS) == {LEADER}


async def test_manage_roles_needed_and_administrator_is_not_hierarchy(env: Env) -> None:
    fake, member = env.fake, env.member(NO_ROLES)
    fake.set_role_permissions(GUILD, BOT_ROLE, MANAGE_NICKNAMES)
    with pytest.raises(discord.Forbidden) as exc:
        await member.add_roles(discord.Object(MEMBER))
    assert exc.value.code == 50013 and fake.member_roles(GUILD, NO_ROLES) == set()
    fake.set_role_permissions(GUILD, BOT_ROLE, 1 << 3)  # ADMINISTRATOR
    await fake.wait_for(lambda: env.guild.me.guild_permissions.administrator, 5, "role update")
    await member.add_roles(discord.Object(MEMBER))
    assert fake.member_roles(GUILD, NO_ROLES) == {MEMBER}
    with pytest.raises(discord.Forbidden):
        await member.add_roles(discord.Object(LEADER))


async def test_owner_bot_bypasses_hierarchy_but_not_managed_roles(env: Env) -> None:
    fake, member = env.fake, env.member(NO_ROLES, OWNED)
    assert fake.bot_guild_permissions(OWNED) & MANAGE_ROLES
    await member.add_roles(discord.Object(LEADER))  # the bot holds no role at all
    assert fake.member_roles(OWNED, NO_ROLES) == {LEADER}
    with pytest.raises(discord.Forbidden):
        await member.add_roles(discord.Object(INTEGRATION))


async def test_nick_refusals(env: Env) -> None:
    fake = env.fake
    for user_id in (OWNER, LEADS):  # the owner; a member whose top role is above the bot's
        with pytest.raises(discord.Forbidden) as exc:
            await env.member(user_id).edit(nick="Renamed")
        assert exc.value.code == 50013 and fake.member_nick(GUILD, user_id) is None
    with pytest.raises(discord.HTTPException) as bad:
        await env.member(NO_ROLES).edit(nick="x" * 33)
    assert bad.value.status == 400 and bad.value.code == 50035
    assert "In nick: Must be between 1 and 32 in length." in bad.value.text
    assert fake.member_changes == []
    await env.member(HOLDS_ELDER).edit(nick="x" * 32)  # Elder is below the bot
    assert fake.member_nick(GUILD, HOLDS_ELDER) == "x" * 32
    fake.set_role_permissions(GUILD, BOT_ROLE, MANAGE_ROLES)
    with pytest.raises(discord.Forbidden):
        await env.member(NO_ROLES).edit(nick="Chief")
    await env.guild.me.edit(nick="Bot")  # its own nick: @everyone's Change Nickname will do
    assert fake.member_nick(GUILD, fake.bot_user_id) == "Bot"


async def test_unknown_member_and_guild(env: Env) -> None:
    http = env.client.http
    with pytest.raises(discord.NotFound) as exc:
        await http.add_role(GUILD, 999, MEMBER)
    assert exc.value.code == 10007
    with pytest.raises(discord.NotFound) as exc:
        await http.edit_member(GUILD, 999, nick="x")
    assert exc.value.code == 10007
    with pytest.raises(discord.NotFound) as exc:
        await http.add_role(4242, NO_ROLES, MEMBER)
    assert exc.value.code == 10004
    assert env.fake.member_changes == []


async def test_forced_429s_are_waited_out(env: Env) -> None:
    fake = env.fake
    fake.force_429(2, retry_after=0.2)
    started = time.monotonic()
    await env.member(NO_ROLES).add_roles(discord.Object(MEMBER), reason="after the wait")
    assert time.monotonic() - started >= 0.4
    assert fake.member_roles(GUILD, NO_ROLES) == {MEMBER} and fake.rate_limited >= 1
    assert fake.rate_limited == 2 and fake.route_calls[ROLE_PUT] == 3
    assert [c.reason for c in fake.member_changes] == ["after the wait"]


async def test_five_429s_exhaust_discord_py(env: Env) -> None:
    # discord.py tries a request five times, then raises the last 429.
    env.fake.force_429(5, retry_after=0.01)
    with pytest.raises(discord.HTTPException) as exc:
        await env.member(NO_ROLES).add_roles(discord.Object(MEMBER))
    assert exc.value.status == 429 and env.fake.member_roles(GUILD, NO_ROLES) == set()


async def test_bucket_of_two_per_second_is_ridden_out(env: Env) -> None:
    fake = env.fake
    fake.set_route_limit(ROLE_PUT, 2, 1.0)
    users = list(range(60, 65))
    for user_id in users:
        fake.add_member(GUILD, user_id)
    await fake.wait_for(lambda: all(env.guild.get_member(u) for u in users), 5, "members")
    started = time.monotonic()
    await asyncio.gather(
        *(env.member(u).add_roles(discord.Object(MEMBER), reason="bulk") for u in users)
    )
    assert all(fake.member_roles(GUILD, u) == {MEMBER} for u in users)
    assert time.monotonic() - started >= 1.9  # three windows: 2 + 2 + 1
    ats = sorted(c.at for c in fake.member_changes)
    assert len(ats) == 5 and all(b - a >= 0.99 for a, b in zip(ats, ats[2:], strict=False))


async def test_rate_limit_headers_all_or_none(env: Env) -> None:
    fake = env.fake
    fake.set_route_limit(ROLE_PUT, 1, 5.0)  # ROLE_DELETE shares the bucket
    auth = {"Authorization": f"Bot {fake.token}"}
    base = f"{fake.api_base}/guilds/{GUILD}/members/{NO_ROLES}"
    async with aiohttp.ClientSession(headers=auth) as s:
        async with s.put(f"{base}/roles/{MEMBER}") as r:
            assert r.status == 204 and r.headers["X-RateLimit-Limit"] == "1"
            assert r.headers["X-RateLimit-Remaining"] == "0"
            assert 4.9 < float(r.headers["X-RateLimit-Reset-After"]) <= 5.0
            assert abs(float(r.headers["X-RateLimit-Reset"]) - time.time() - 5) < 0.5
            roles_bucket = r.headers["X-RateLimit-Bucket"]
        async with s.put(f"{base}/roles/{ELDER}") as r:
            assert r.status == 429 and r.headers["Content-Type"] == "application/json"
            assert all(h in r.headers for h in RATE_LIMIT_HEADERS)
            assert r.headers["Retry-After"] == "5" and r.headers["Via"] == "1.1 google"
            assert r.headers["X-RateLimit-Scope"] == "user"
            body = await r.json()
            assert body["message"] == "You are being rate limited." and body["global"] is False
            assert 4.5 < body["retry_after"] <= 5.0
        async with s.delete(f"{base}/roles/{MEMBER}") as r:
            assert r.status == 429 and r.headers["X-RateLimit-Bucket"] == roles_bucket
        async with s.patch(base, json={"nick": "Chief"}) as r:
            assert r.status == 200 and r.headers["X-RateLimit-Limit"] == "10"
            assert r.headers["X-RateLimit-Bucket"] != roles_bucket
        for path in ("/users/@me", f"/guilds/{GUILD}/members"):
            async with s.get(f"{fake.api_base}{path}") as r:
                assert r.status == 200
                assert not [h for h in r.headers if h.lower().startswith("x-ratelimit")]
        fake.set_route_limit(ROLE_DELETE, None)  # lifts the shared bucket on both routes
        async with s.put(f"{base}/roles/{ELDER}") as r:
            assert r.status == 204 and "X-RateLimit-Limit" not in r.headers
    assert fake.member_roles(GUILD, NO_ROLES) == {MEMBER, ELDER}
    assert fake.rate_limited == 2 and ROLE_PUT not in fake.route_limits
    assert DEFAULT_ROUTE_LIMITS[ROLE_PUT] == (10, 10.0)


async def test_member_list_paging(env: Env) -> None:
    fake, http = env.fake, env.client.http
    everyone = sorted(fake.members[GUILD])
    assert [int(m["user"]["id"]) for m in await http.get_members(GUILD, 2, None)] == everyone[:2]
    page = await http.get_members(GUILD, 3, everyone[1])
    assert [int(m["user"]["id"]) for m in page] == everyone[2:5]
    # discord.py pages with `after` = the last id of a page, and yields each page reversed
    fetched = [m.id async for m in env.guild.fetch_members(limit=None)]
    assert fetched == everyone[::-1]
    assert [m.id async for m in env.guild.fetch_members(limit=3)] == everyone[2::-1]
    auth = {"Authorization": f"Bot {fake.token}"}
    url = f"{fake.api_base}/guilds/{GUILD}/members"
    async with aiohttp.ClientSession(headers=auth) as s:
        async with s.get(url) as r:  # Discord's default limit is 1
            assert [int(m["user"]["id"]) for m in await r.json()] == everyone[:1]
        for limit in ("0", "1001"):
            async with s.get(url, params={"limit": limit}) as r:
                assert r.status == 400 and (await r.json())["code"] == 50035
    assert fake.route_calls["GET /guilds/{gid}/members"] >= 5


async def test_member_add_and_remove_reach_the_cache(env: Env) -> None:
    fake = env.fake
    fake.add_member(GUILD, 77, roles=[MEMBER], nick="Newbie", username="newbie")
    joined = await fake.wait_for(lambda: env.guild.get_member(77), 5, "GUILD_MEMBER_ADD")
    assert joined.nick == "Newbie" and joined.name == "newbie"
    assert env.cached_roles(77) == {MEMBER}
    fake.remove_member(GUILD, 77)
    await fake.wait_for(lambda: env.guild.get_member(77) is None, 5, "GUILD_MEMBER_REMOVE")
    assert 77 not in fake.members[GUILD]


async def test_role_changes_reach_the_cache(env: Env) -> None:
    fake, guild = env.fake, env.guild
    fake.add_role(GUILD, 7010, "Co-leader", position=4, permissions=1 << 1)
    role = await fake.wait_for(lambda: guild.get_role(7010), 5, "GUILD_ROLE_CREATE")
    assert role.name == "Co-leader" and role.permissions.kick_members and not role.managed
    integration = guild.get_role(INTEGRATION)
    assert integration is not None and integration.tags and integration.tags.bot_id == 999
    fake.move_role(GUILD, 7010, 7)
    await fake.wait_for(lambda: role.position == 7, 5, "GUILD_ROLE_UPDATE")
    fake.set_role_permissions(GUILD, 7010, 1 << 2)
    await fake.wait_for(lambda: role.permissions.ban_members, 5, "GUILD_ROLE_UPDATE")
    fake.add_member(GUILD, NO_ROLES, roles=[7010, MEMBER])
    await fake.wait_for(lambda: env.cached_roles(NO_ROLES) == {7010, MEMBER}, 5, "update")
    updated = env.client.wait_for("member_update", check=lambda _, after: after.id == NO_ROLES)
    fake.delete_role(GUILD, 7010)
    _, after = await asyncio.wait_for(updated, 5)
    assert [r.id for r in after.roles if not r.is_default()] == [MEMBER]
    assert guild.get_role(7010) is None and fake.member_roles(GUILD, NO_ROLES) == {MEMBER}


async def test_set_bot_roles(env: Env) -> None:
    fake, guild = env.fake, env.guild
    fake.set_bot_roles(GUILD, [BOT_ROLE, ELDER])
    await fake.wait_for(lambda: guild.me.get_role(ELDER) is not None, 5, "bot's roles")
    assert fake.top_role(GUILD, fake.bot_user_id)["id"] == str(BOT_ROLE)
    fake.set_bot_roles(GUILD, [])
    await fake.wait_for(lambda: guild.me.top_role.is_default(), 5, "bot's roles")
    with pytest.raises(discord.Forbidden):
        await env.member(NO_ROLES).add_roles(discord.Object(MEMBER))


async def test_interactions_keep_stored_roles_and_nick(env: Env) -> None:
    fake = env.fake
    it = await fake.interact("anything", user_id=HOLDS_MEMBER)
    assert it.raw["member"]["roles"] == [str(MEMBER)] and it.raw["member"]["nick"] == "Keeper"
    assert fake.member_roles(GUILD, HOLDS_MEMBER) == {MEMBER}
    it = await fake.interact("anything", user_id=HOLDS_MEMBER, member_roles=[ELDER])
    assert it.raw["member"]["roles"] == [str(ELDER)]  # for this payload only
    assert fake.member_roles(GUILD, HOLDS_MEMBER) == {MEMBER}
    assert fake.member_nick(GUILD, HOLDS_MEMBER) == "Keeper"
    await fake.interact("anything", user_id=99, member_roles=[ELDER])  # unknown: created
    assert fake.member_roles(GUILD, 99) == {ELDER}


async def test_member_events_need_the_members_intent(fake: FakeDiscord) -> None:
    env = await start_client(fake, discord.Intents.default())
    # discord.py dispatches these on the raw event even when it caches no members
    joined = asyncio.ensure_future(env.client.wait_for("member_join"))
    left = asyncio.ensure_future(env.client.wait_for("raw_member_remove"))
    try:
        fake.add_member(GUILD, 77)
        fake.remove_member(GUILD, NO_ROLES)
        fake.set_bot_roles(GUILD, [BOT_ROLE, ELDER])  # the bot's own update always comes
        await fake.wait_for(lambda: env.guild.me.get_role(ELDER) is not None, 5, "bot update")
        await asyncio.sleep(0.05)
        assert not joined.done() and not left.done()
    finally:
        joined.cancel()
        left.cancel()
        await env.stop()
