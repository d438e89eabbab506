"""The Discord fake drives a real discord.py 2.7 bot end to end (REST, gateway, interactions)."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import discord
import pytest
import pytest_asyncio
import yarl
from discord import app_commands
from discord.ext import commands
from discord.http import Route

from .discord_server import FakeDiscord, Message

GUILD, GENERAL, FEED = 5000, 5001, 6000
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
TAGS = ["#9P9PRYQO", "#9PQ2L8", "#2LQ0V8C"]


class ConfirmView(discord.ui.View):
    @discord.ui.button(label="Confirm", custom_id="confirm", style=discord.ButtonStyle.green)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.edit_message(
            content=f"confirmed by {interaction.user.id}", view=None
        )
        self.stop()


class MiniBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        self.followup: asyncio.Future[discord.WebhookMessage] = asyncio.Future()
        self.posted: list[discord.Message] = []
        tree = self.tree

        @tree.command(description="Echo a player tag privately")
        async def echo(interaction: discord.Interaction, tag: str) -> None:
            await interaction.response.send_message(f"tag {tag}", ephemeral=True)

        @tree.command(description="Defer, then send a chart as a follow-up")
        async def chart(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            self.followup.set_result(
                await interaction.followup.send(
                    "chart", file=discord.File(io.BytesIO(PNG), "chart.png"), wait=True
                )
            )

        @tree.command(description="Defer ephemerally, then edit the original response")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.edit_original_response(embed=discord.Embed(title="done"))

        @tree.command(description="Reply with an embed and a file, then edit the reply")
        async def card(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                embed=discord.Embed(title="card"), file=discord.File(io.BytesIO(PNG), "card.png")
            )
            original = await interaction.original_response()
            await original.edit(content=f"card {original.attachments[0].filename}")

        @tree.command(description="Ask for confirmation with a button")
        async def ask(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("sure?", view=ConfirmView(timeout=60))

        async def tag_choices(_: discord.Interaction, current: str) -> list[app_commands.Choice]:
            return [app_commands.Choice(name=t, value=t) for t in TAGS if current.upper() in t]

        @tree.command(description="Track a player")
        @app_commands.autocomplete(tag=tag_choices)
        async def track(interaction: discord.Interaction, tag: str) -> None:
            await interaction.response.send_message(f"tracking {tag}")

        @tree.command(description="Post the same notice twice with one nonce")
        async def post(interaction: discord.Interaction) -> None:
            channel = self.get_channel(FEED)
            assert isinstance(channel, discord.TextChannel)
            for _ in range(2):
                self.posted.append(await channel.send("notice", nonce="n-1"))
            await interaction.response.send_message("posted", ephemeral=True)

    async def setup_hook(self) -> None:
        guild = discord.Object(GUILD)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Env:
    fake: FakeDiscord
    bot: MiniBot
    task: asyncio.Task[None]
    log: _Collect = field(default_factory=_Collect)

    async def shutdown(self) -> None:
        await self.bot.close()
        await asyncio.wait_for(self.task, 10)


def point_discord_at(fake: FakeDiscord) -> None:
    Route.BASE = fake.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)


@pytest_asyncio.fixture(scope="module")
async def env() -> AsyncIterator[Env]:
    old = Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    fake = FakeDiscord()
    fake.add_channel(GUILD, FEED, name="feed")
    await fake.start()
    point_discord_at(fake)
    bot = MiniBot()
    log = _Collect()
    logging.getLogger("discord").addHandler(log)

    async def run() -> None:
        async with bot:
            await bot.start(fake.token)

    e = Env(fake, bot, asyncio.create_task(run()), log)
    try:
        await asyncio.wait_for(fake.ready.wait(), 10)
        yield e
    finally:
        await e.shutdown()
        logging.getLogger("discord").removeHandler(log)
        await fake.stop()
        Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = old


async def test_login_ready_and_sync(env: Env) -> None:
    fake, bot = env.fake, env.bot
    await asyncio.wait_for(bot.wait_until_ready(), 5)
    assert fake.identify_count == 1
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    guild = bot.get_guild(GUILD)
    assert guild is not None and guild.me is not None
    assert {c.id for c in guild.text_channels} == {GENERAL, FEED}
    synced = await fake.wait_synced(GUILD)
    assert {c["name"] for c in synced} == {"echo", "chart", "slow", "card", "ask", "track", "post"}
    assert all(int(c["id"]) > 0 and c["guild_id"] == str(GUILD) for c in synced)
    assert ("GET", "/users/@me") in fake.requests
    assert ("PUT", f"/applications/{fake.application_id}/guilds/{GUILD}/commands") in fake.requests


async def test_responses_are_exactly_application_json(env: Env) -> None:
    headers = {"Authorization": f"Bot {env.fake.token}"}
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{env.fake.api_base}/users/@me", headers=headers) as r,
    ):
        assert r.headers["Content-Type"] == "application/json"
    async with (
        aiohttp.ClientSession() as s,
        s.get(f"{env.fake.api_base}/users/@me", headers={"Authorization": "Bot nope"}) as r,
    ):
        assert r.status == 401
        assert await r.json() == {"message": "401: Unauthorized", "code": 0}


async def test_ephemeral_reply_with_option(env: Env) -> None:
    it = await env.fake.interact("echo", [{"type": 3, "name": "tag", "value": "#9P9PRYQO"}])
    resp = await it.wait_response()
    assert resp.content == "tag #9P9PRYQO" and resp.ephemeral and resp.callback_type == 4
    assert it.callback_types == [4] and not it.deferred and it.original is resp


async def test_defer_then_followup_with_file(env: Env) -> None:
    it = await env.fake.interact("chart")
    resp = await it.wait_response()
    assert it.callback_types == [5] and it.deferred
    assert resp.content == "chart" and resp.callback_type == 5
    assert resp.files == [("chart.png", "application/octet-stream", PNG)]
    assert resp.attachments[0]["filename"] == "chart.png"
    assert resp.attachments[0]["size"] == len(PNG)
    assert (await it.wait_followups(1)) == [resp]
    sent = await asyncio.wait_for(env.bot.followup, 5)  # what discord.py made of the answer
    assert sent.id == resp.id and sent.attachments[0].filename == "chart.png"


async def test_defer_then_edit_original(env: Env) -> None:
    it = await env.fake.interact("slow")
    resp = await it.wait_response()
    assert it.callback_types == [5] and resp is it.original
    assert resp.embeds[0]["title"] == "done" and resp.ephemeral and not resp.flags & 128
    assert ("PATCH", f"/webhooks/{env.fake.application_id}/{it.token}/messages/@original") in (
        env.fake.requests
    )


async def test_multipart_callback_then_get_and_edit_original(env: Env) -> None:
    it = await env.fake.interact("card")
    resp = await it.wait_response()
    assert resp.callback_type == 4 and resp.embeds[0]["title"] == "card"
    assert resp.files == [("card.png", "application/octet-stream", PNG)]
    await env.fake.wait_for(lambda: resp.content == "card card.png", 5)
    assert len(resp.attachments) == 1  # kept across the edit
    assert ("GET", f"/webhooks/{env.fake.application_id}/{it.token}/messages/@original") in (
        env.fake.requests
    )


async def test_button_click_updates_message(env: Env) -> None:
    it = await env.fake.interact("ask", user_id=7)
    msg = await it.wait_response()
    assert msg.content == "sure?"
    assert msg.components[0]["components"][0]["custom_id"] == "confirm"
    click = await env.fake.click(msg, "confirm", user_id=8)
    resp = await click.wait_response()
    assert click.callback_types == [7] and resp is msg  # edited in place
    assert msg.content == "confirmed by 8" and msg.components == []


async def test_autocomplete(env: Env) -> None:
    choices = await env.fake.autocomplete(
        "track", [{"type": 3, "name": "tag", "value": "9p", "focused": True}]
    )
    assert choices == [
        {"name": "#9P9PRYQO", "value": "#9P9PRYQO"},
        {"name": "#9PQ2L8", "value": "#9PQ2L8"},
    ]


async def test_channel_send_nonce_is_deduplicated(env: Env) -> None:
    fake, bot = env.fake, env.bot
    it = await fake.interact("post")
    assert (await it.wait_response()).content == "posted"
    first, second = bot.posted
    assert first.id == second.id
    msgs = await fake.wait_channel_messages(FEED, 1)
    assert len(fake.channel_messages[FEED]) == 1 and msgs[0].nonce == "n-1"
    assert msgs[0].raw["author"]["id"] == str(fake.bot_user_id)
    # the lower-level path a bot uses for its own payloads
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=FEED)
    payload = {"content": "raw", "nonce": "n-2", "enforce_nonce": True}
    a = await bot.http.request(route, json=payload)
    b = await bot.http.request(route, json=payload)
    assert a["id"] == b["id"] and [m.content for m in fake.channel_messages[FEED]] == [
        "notice",
        "raw",
    ]
    # without enforce_nonce Discord does not deduplicate
    c = await bot.http.request(route, json={"content": "raw", "nonce": "n-2"})
    assert c["id"] != a["id"] and len(fake.channel_messages[FEED]) == 3
    # edits and deletes land on the stored message
    await first.edit(content="edited")
    await second.delete()
    assert msgs[0].content == "edited" and msgs[0].deleted
    with pytest.raises(discord.NotFound):
        await first.channel.fetch_message(first.id)


async def test_channel_failures(env: Env) -> None:
    fake, channel = env.fake, env.bot.get_channel(FEED)
    assert isinstance(channel, discord.TextChannel)
    fake.fail_channel(FEED, 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("x")
    assert forbidden.value.code == 50013
    fake.fail_channel(FEED, 404)
    with pytest.raises(discord.NotFound) as missing:
        await env.bot.fetch_channel(FEED)
    assert missing.value.code == 10003
    fake.fail_channel(FEED, None)
    assert (await env.bot.fetch_channel(FEED)).id == FEED
    with pytest.raises(discord.NotFound):
        await env.bot.http.send_message(999, params=discord.http.handle_message_parameters("x"))


async def test_sync_rejects_what_discord_rejects(env: Env) -> None:
    bad = [{"name": "Bad", "description": "upper-case name", "type": 1}]
    with pytest.raises(discord.HTTPException) as exc:
        await env.bot.http.bulk_upsert_guild_commands(env.fake.application_id, GUILD, payload=bad)
    assert exc.value.status == 400 and exc.value.code == 50035


async def test_rest_lookups(env: Env) -> None:
    bot, fake = env.bot, env.fake
    guild = await bot.fetch_guild(GUILD)
    assert guild.id == GUILD and guild.default_role.id == GUILD
    member = await guild.fetch_member(fake.bot_user_id)
    assert member.id == fake.bot_user_id
    assert {c.id for c in await guild.fetch_channels()} == {GENERAL, FEED}
    assert [r.id for r in await guild.fetch_roles()] == [GUILD]
    assert (await bot.fetch_user(42)).name == "user42"
    assert (await bot.application_info()).id == fake.application_id


async def test_gateway_resume(env: Env) -> None:
    fake = env.fake
    await fake.request_reconnect()
    await fake.wait_for(lambda: fake.resume_count == 1)
    assert fake.identify_count == 1
    it = await fake.interact("echo", [{"type": 3, "name": "tag", "value": "#2LQ0V8C"}])
    assert (await it.wait_response()).content == "tag #2LQ0V8C"


async def test_files_over_the_interactions_size_limit_are_refused(env: Env) -> None:
    """Each interaction carries its attachment_size_limit; the callback, a follow-up and an
    edit of the original refuse a larger file with Discord's 413 (code 40005)."""
    fake = env.fake
    assert (await fake.interact("echo", [{"type": 3, "name": "tag", "value": "#2LQ0V8C"}])).raw[
        "attachment_size_limit"
    ] == 10 * 1024 * 1024
    logged = len(env.log.records)
    fake.attachment_size_limit = len(PNG) - 1
    try:
        card = await fake.interact("card")  # the file comes with the callback
        assert card.raw["attachment_size_limit"] == len(PNG) - 1
        chart = await fake.interact("chart")  # deferred, the file comes with the follow-up
        await fake.wait_for(lambda: len(env.log.records) >= logged + 2, 5, "both failures")
        refused = [r.exc_info[1] for r in env.log.records[logged:] if r.exc_info]
        originals = [getattr(e, "original", e) for e in refused]
        assert [(e.status, e.code) for e in originals] == [(413, 40005), (413, 40005)]
        assert card.callback_types == [] and card.original is None
        assert chart.callback_types == [5] and chart.followups == []
        assert chart.original is not None and chart.original.files == []

        # Editing the original with a file: refused over the limit, accepted at it.
        url = f"{fake.api_base}/webhooks/{fake.application_id}/{chart.token}/messages/@original"
        for size, status in ((len(PNG), 413), (len(PNG) - 1, 200)):
            form = aiohttp.FormData()
            form.add_field("payload_json", '{"content": "edited"}', content_type="application/json")
            form.add_field("files[0]", b"x" * size, filename="data.csv", content_type="text/csv")
            async with aiohttp.ClientSession() as s, s.patch(url, data=form) as r:
                assert r.status == status
                if status == 413:
                    assert await r.json() == {"message": "Request entity too large", "code": 40005}
        assert chart.original.files == [("data.csv", "text/csv", b"x" * (len(PNG) - 1))]
    finally:
        fake.attachment_size_limit = 10 * 1024 * 1024
        # The bot's two failed commands were logged on purpose: not a failure of the fake.
        del env.log.records[logged:]


async def test_a_bots_own_messages_follow_discords_rules(env: Env) -> None:
    """Fetch needs Read Message History, edit only the author's own, delete another's
    needs Manage Messages; deletes, history and channel changes reach the bot."""
    fake, bot = env.fake, env.bot
    fake.add_channel(GUILD, 6100, name="boards")
    channel = await fake.wait_for(lambda: bot.get_channel(6100), 10, "the new channel")
    assert isinstance(channel, discord.TextChannel)
    mine = await channel.send("mine")
    other = await channel.send("theirs")
    fake.messages[other.id].raw["author"] = fake.user(77)  # as if a member wrote it
    with pytest.raises(discord.Forbidden) as not_author:
        await other.edit(content="x")
    assert not_author.value.code == 50005
    fake.set_overwrites(6100, [{"id": str(fake.bot_user_id), "type": 1, "allow": "0",
                                "deny": str(1 << 13 | 1 << 16)}])  # fmt: skip
    with pytest.raises(discord.Forbidden):
        await channel.fetch_message(mine.id)  # no Read Message History
    with pytest.raises(discord.Forbidden):
        await other.delete()  # no Manage Messages
    await mine.edit(content="edited")  # its own: allowed without either
    fake.set_overwrites(6100, [])
    assert [m.content async for m in channel.history(after=discord.Object(0))] == [
        "edited",
        "theirs",
    ]
    heard = asyncio.ensure_future(bot.wait_for("raw_message_delete", timeout=10))
    fake.delete_message(6100, other.id)
    assert (await heard).message_id == other.id
    assert fake.live_messages(6100) == [fake.messages[mine.id]]
    gone = asyncio.ensure_future(bot.wait_for("guild_channel_delete", timeout=10))
    fake.delete_channel(6100)
    assert (await gone).id == 6100 and fake.live_messages(6100) == []


async def test_wrong_token_is_login_failure(env: Env) -> None:
    bot = MiniBot()
    async with bot:
        with pytest.raises(discord.LoginFailure):
            await bot.start("not-the-token")


async def test_clean_shutdown(env: Env) -> None:
    await env.shutdown()
    assert env.bot.is_closed()
    assert env.fake.unhandled == []
    await env.fake.wait_for(lambda: not env.fake._conns, 5)
    assert [f"{r.name}: {r.getMessage()}" for r in env.log.records] == []


def test_message_is_plain_data() -> None:
    msg = Message(
        raw={
            "id": "1",
            "channel_id": "2",
            "content": "",
            "embeds": [],
            "components": [],
            "attachments": [],
            "flags": 64,
        }
    )
    assert msg.ephemeral and msg.channel_id == 2 and msg.nonce is None


def test_message_limits_are_discords() -> None:
    from tests.fakes.discord_server import message_limits_problem

    ok = {"content": "x" * 2000, "embeds": [{"description": "d" * 4096}]}
    assert message_limits_problem(ok) is None
    assert message_limits_problem({"content": "x" * 2001}) is not None
    assert message_limits_problem({"embeds": [{}] * 11}) is not None
    assert message_limits_problem({"embeds": [{"description": "d" * 4097}]}) is not None
    field = {"name": "n", "value": "v" * 1025}
    assert message_limits_problem({"embeds": [{"fields": [field]}]}) is not None
    many = [{"name": "n", "value": "v"}] * 26
    assert message_limits_problem({"embeds": [{"fields": many}]}) is not None
    two = [{"description": "d" * 3500}, {"description": "d" * 3500}]
    assert message_limits_problem({"embeds": two}) == "embeds over 6,000 characters in all"


# ---- shards ------------------------------------------------------------------------------


def on_shard(shard: int, base: int = GUILD) -> int:
    """A guild id on ``shard`` of 4 (Discord: (guild_id >> 22) % count)."""
    return (shard << 22) + base


class RawShard:
    """One gateway connection identified as [shard, count], recording what it is sent."""

    def __init__(self, fake: FakeDiscord, session: aiohttp.ClientSession) -> None:
        self.fake, self.session = fake, session
        self.events: list[tuple[str, dict]] = []
        self.closed: int | None = None
        self._reader: asyncio.Task[None] | None = None

    async def identify(self, shard: int, count: int) -> RawShard:
        self.ws = await self.session.ws_connect(self.fake.gateway_url)
        hello = await self.ws.receive_json()
        assert hello["op"] == 10
        await self.ws.send_json(
            {"op": 2, "d": {"token": self.fake.token, "intents": 33283, "shard": [shard, count]}}
        )
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for frame in self.ws:
            if frame.type is aiohttp.WSMsgType.TEXT:
                msg = frame.json()
                if msg["op"] == 0:
                    self.events.append((msg["t"], msg["d"]))
        self.closed = self.ws.close_code

    def guild_ids(self, event: str) -> list[int]:
        return [int(d.get("guild_id") or d["id"]) for t, d in self.events if t == event]

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


@pytest_asyncio.fixture
async def shard_fake() -> AsyncIterator[tuple[FakeDiscord, aiohttp.ClientSession]]:
    fake = FakeDiscord(guild_ids=[on_shard(s) for s in range(4)])
    await fake.start()
    async with aiohttp.ClientSession() as session:
        try:
            yield fake, session
        finally:
            await fake.stop()


async def test_each_shard_is_sent_its_guilds_and_their_events_only(
    shard_fake: tuple[FakeDiscord, aiohttp.ClientSession],
) -> None:
    fake, session = shard_fake
    shards = [await RawShard(fake, session).identify(s, 4) for s in (0, 1, 2)]
    await fake.wait_shards_ready(4, [0, 1, 2])
    assert not fake.ready.is_set()  # shard 3 has no connection yet
    shards.append(await RawShard(fake, session).identify(3, 4))
    await asyncio.wait_for(fake.ready.wait(), 10)
    await fake.wait_for(lambda: all(len(c.events) >= 2 for c in shards), 5, "READY, GUILD_CREATE")
    for s, conn in enumerate(shards):
        ((ready,),) = [[d] for t, d in conn.events if t == "READY"]
        assert ready["shard"] == [s, 4]
        assert [int(g["id"]) for g in ready["guilds"]] == [on_shard(s)]
        assert conn.guild_ids("GUILD_CREATE") == [on_shard(s)]

    fake.add_channel(on_shard(2), 7200)
    fake.add_role(on_shard(1), 7100, "Role", position=1)
    fake.add_member(on_shard(3), 77)
    it = await fake.interact("status", guild_id=on_shard(3))
    dm = await fake.interact("status", guild_id=None)
    posted = await fake._post_message(
        _req(cid="7200", body={"content": "hi"})  # type: ignore[arg-type]
    )
    fake.delete_message(7200, int(posted["id"]))
    fake.add_guild(on_shard(1, base=9000))
    assert it.shard == (3, 4) and dm.shard == (0, 4)
    expected = {
        0: {"INTERACTION_CREATE": [None]},
        1: {"GUILD_ROLE_CREATE": [on_shard(1)], "GUILD_CREATE": [on_shard(1, base=9000)]},
        2: {"CHANNEL_CREATE": [on_shard(2)], "MESSAGE_CREATE": [on_shard(2)],
            "MESSAGE_DELETE": [on_shard(2)]},
        3: {"GUILD_MEMBER_ADD": [on_shard(3)], "INTERACTION_CREATE": [on_shard(3)]},
    }  # fmt: skip

    def seen() -> dict[int, dict[str, list[int | None]]]:
        out: dict[int, dict[str, list[int | None]]] = {}
        for s, conn in enumerate(shards):
            for t, d in conn.events[2:]:  # after READY and the first GUILD_CREATE
                gid = d.get("guild_id") or (d["id"] if t == "GUILD_CREATE" else None)
                out.setdefault(s, {}).setdefault(t, []).append(int(gid) if gid else None)
        return out

    await fake.wait_for(lambda: seen() == expected, 5, "each shard's events")
    for conn in shards:
        await conn.close()


def _req(**params: object) -> object:
    from .discord_server import _Req

    body = params.pop("body", None)
    return _Req({k: str(v) for k, v in params.items()}, {}, body, [])


async def test_a_shard_outside_its_count_is_closed_with_4010(
    shard_fake: tuple[FakeDiscord, aiohttp.ClientSession],
) -> None:
    fake, session = shard_fake
    for shard, count in ((4, 4), (-1, 4), (0, 0)):
        conn = await RawShard(fake, session).identify(shard, count)
        await fake.wait_for(lambda c=conn: c.closed is not None, 5, "the close")  # type: ignore[misc]
        assert conn.closed == 4010 and conn.events == []
    assert fake.invalid_shards == [(4, 4), (-1, 4), (0, 0)]
    assert fake.identify_count == 0 and not fake.shard_conns


async def test_counts_mixed_during_a_resharding_each_get_their_guilds(
    shard_fake: tuple[FakeDiscord, aiohttp.ClientSession],
) -> None:
    """As Discord does while a bot moves to more shards: each connection is sent the
    guilds its own [shard, count] covers; an interaction goes to one of them."""
    fake, session = shard_fake
    old = await RawShard(fake, session).identify(0, 1)
    new = await RawShard(fake, session).identify(1, 2)
    await fake.wait_shards_ready(1)
    await fake.wait_shards_ready(2, [1])
    await fake.wait_for(lambda: len(new.events) >= 3, 5, "READY and two GUILD_CREATEs")
    assert sorted(old.guild_ids("GUILD_CREATE")) == [on_shard(s) for s in range(4)]
    assert sorted(new.guild_ids("GUILD_CREATE")) == [on_shard(1), on_shard(3)]
    it = await fake.interact("status", guild_id=on_shard(3))
    assert it.shard == (0, 1)  # the one identified first
    await fake.wait_for(lambda: old.guild_ids("INTERACTION_CREATE"), 5)
    assert new.guild_ids("INTERACTION_CREATE") == []
    fake.add_member(on_shard(3), 78)
    await fake.wait_for(lambda: new.guild_ids("GUILD_MEMBER_ADD"), 5)
    await fake.wait_for(lambda: old.guild_ids("GUILD_MEMBER_ADD"), 5)
    await old.close()
    await new.close()
