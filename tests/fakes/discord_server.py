"""A fake Discord (REST API v10 + JSON gateway) that drives a real discord.py 2.7 bot.

Point the bot at it before log-in::

    discord.http.Route.BASE = fake.api_base          # REST, webhooks and interaction callbacks
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

Everything listens on 127.0.0.1 with an ephemeral port. Gateway frames are plain JSON text
(discord.py's `compress=zlib-stream` query is ignored; it only inflates binary frames).

Shards: several gateway connections at once, each identified with its ``[shard, count]``
(none: ``[0, 1]``). A guild belongs to shard ``(guild_id >> 22) % count``; READY lists,
GUILD_CREATE and every guild-scoped event (interactions, messages, members, roles,
channels) go only to the connection of the guild's shard; DMs to shard 0. An IDENTIFY
with a shard outside its count is closed with 4010 "Invalid shard". Connections with
different counts may run at once (as during a re-sharding): each receives the guilds its
own ``[shard, count]`` covers. ``Interaction.shard`` says which shard one was sent on.
"""

# ruff: noqa: ASYNC109 -- the wait_* helpers take `timeout=` by design (shared test API)
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from .discord_members import MemberRoutes

JSON = dict[str, Any]
T = TypeVar("T")
DISCORD_EPOCH_MS = 1420070400000
EPHEMERAL, LOADING = 64, 128
ALL_PERMISSIONS = str((1 << 53) - 1)
EVERYONE_PERMISSIONS = "2248473465835073"  # Discord's default for @everyone in a new guild
NONCE_WINDOW_S = 300.0
_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


def _json(data: Any, status: int = 200) -> web.Response:
    # Exactly "application/json": discord.py's json_or_text() compares the header verbatim.
    body = json.dumps(data).encode()
    return web.Response(status=status, body=body, content_type="application/json")


def _now() -> str:
    return datetime.now(UTC).isoformat()


class DiscordError(Exception):
    def __init__(self, status: int, message: str, code: int, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {message} ({code})")
        self.status, self.body = status, {"message": message, "code": code}
        if errors:
            self.body["errors"] = errors


UNKNOWN_CHANNEL = (404, "Unknown Channel", 10003)
UNKNOWN_MESSAGE = (404, "Unknown Message", 10008)
UNKNOWN_WEBHOOK = (404, "Unknown Webhook", 10015)
FAILURES = {403: (403, "Missing Permissions", 50013), 404: UNKNOWN_CHANNEL}
ADMINISTRATOR, VIEW_CHANNEL, SEND_MESSAGES = 1 << 3, 1 << 10, 1 << 11
MANAGE_MESSAGES, READ_MESSAGE_HISTORY = 1 << 13, 1 << 16
ALL_PERMISSIONS = (1 << 53) - 1


@dataclass(eq=False)
class Message:
    """A message the bot produced; `raw` is the Discord message object, kept current on edits."""

    raw: JSON
    files: list[tuple[str, str, bytes]] = field(default_factory=list)
    allowed_mentions: JSON | None = None
    callback_type: int | None = None  # set on the message returned by Interaction.wait_response()
    deleted: bool = False  # DELETE marks it; it stays in channel_messages / followups
    edits: int = 0  # PATCHes applied to it (tests check a message was left alone)

    @property
    def id(self) -> int:
        return int(self.raw["id"])

    @property
    def channel_id(self) -> int | None:
        return int(self.raw["channel_id"]) if "channel_id" in self.raw else None

    @property
    def content(self) -> str | None:
        return self.raw.get("content")

    @property
    def embeds(self) -> list[JSON]:
        return self.raw["embeds"]

    @property
    def components(self) -> list[JSON]:
        return self.raw["components"]

    @property
    def attachments(self) -> list[JSON]:
        return self.raw["attachments"]

    @property
    def flags(self) -> int:
        return int(self.raw["flags"])

    @property
    def nonce(self) -> str | None:
        return self.raw.get("nonce")

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)


Response = Message


class Interaction:
    """Handle on one INTERACTION_CREATE the fake sent, collecting the bot's replies."""

    def __init__(self, fake: FakeDiscord, payload: JSON, original: Message | None = None) -> None:
        self._fake, self.raw = fake, payload
        self.id: int = int(payload["id"])
        self.token: str = payload["token"]
        self.type: int = payload["type"]
        self.channel_id: int = int(payload["channel"]["id"])
        self.guild_id: int | None = int(payload["guild_id"]) if "guild_id" in payload else None
        self.callback_types: list[int] = []
        self.original: Message | None = original  # for a component click: the clicked message
        self.followups: list[Message] = []
        self.response: Message | None = None
        self.choices: list[JSON] | None = None  # autocomplete (type 8) result
        self.modal: JSON | None = None  # type 9 callback data
        # time.monotonic() when the fake sent it and when the bot's first callback arrived:
        # Discord drops an interaction not acknowledged within 3 s.
        self.sent_at: float = time.monotonic()
        self.first_callback_at: float | None = None
        # The [shard, count] of the gateway connection it was dispatched on.
        self.shard: tuple[int, int] | None = None

    @property
    def ack_latency(self) -> float | None:
        """Seconds from sending the interaction to the bot's first callback (reply or defer)."""
        return None if self.first_callback_at is None else self.first_callback_at - self.sent_at

    @property
    def deferred(self) -> bool:
        return any(t in (5, 6) for t in self.callback_types)

    def _finish(self, message: Message) -> None:
        if self.response is None:
            message.callback_type = self.callback_types[-1]
            self.response = message

    async def wait_response(self, timeout: float = 10) -> Response:
        return await self._fake.wait_for(lambda: self.response, timeout, f"reply to {self.id}")

    async def wait_followups(self, count: int, timeout: float = 10) -> list[Message]:
        await self._fake.wait_for(lambda: len(self.followups) >= count, timeout, "follow-ups")
        return self.followups[:count]


@dataclass
class _Session:
    id: str
    seq: int = 0
    shard: tuple[int, int] = (0, 1)  # [shard, count] from the IDENTIFY

    def owns(self, guild_id: int | None) -> bool:
        """Discord's rule: a guild's events go to shard (guild_id >> 22) % count; DMs to 0."""
        shard, count = self.shard
        return shard == (0 if guild_id is None else (guild_id >> 22) % count)


class _Conn:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.session: _Session | None = None
        self.out: asyncio.Queue[JSON | asyncio.Event | Callable[[], None]] = asyncio.Queue()
        self.ready = asyncio.Event()  # READY and its GUILD_CREATEs (or RESUMED) are sent

    def emit(self, event: str, data: Any) -> None:
        assert self.session is not None
        self.session.seq += 1
        self.out.put_nowait({"op": 0, "t": event, "s": self.session.seq, "d": data})

    async def writer(self) -> None:
        while True:
            item = await self.out.get()
            if isinstance(item, asyncio.Event):
                item.set()
            elif callable(item):
                item()
            else:
                await self.ws.send_str(json.dumps(item))


@dataclass
class _Req:
    params: dict[str, str]
    query: Any
    body: Any
    files: list[tuple[str, str, bytes]]
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[_Req], Awaitable[Any]]


class FakeDiscord(MemberRoutes):
    def __init__(
        self,
        *,
        token: str = "fake-token",
        application_id: int = 1100,
        bot_user_id: int = 1100,
        guild_ids: Iterable[int] = (5000,),
    ) -> None:
        self.token, self.application_id, self.bot_user_id = token, application_id, bot_user_id
        self.api_base = self.gateway_url = ""
        self.ready = asyncio.Event()
        self.identify_count = self.resume_count = 0
        self.synced: dict[int | None, list[JSON]] = {}
        self.guilds: dict[int, JSON] = {}
        self.channels: dict[int, JSON] = {}
        self.members: dict[int, dict[int, JSON]] = defaultdict(dict)
        self.messages: dict[int, Message] = {}
        self.channel_messages: dict[int, list[Message]] = defaultdict(list)
        self.interactions: dict[str, Interaction] = {}
        # Bytes a file sent in answer to an interaction may have: each INTERACTION_CREATE
        # carries it (10 MiB without boosts), and Discord refuses a larger file with 413.
        # Read when an interaction is sent: tests set it before invoking a command.
        self.attachment_size_limit = 10 * 1024 * 1024
        self.requests: list[tuple[str, str]] = []
        self.unhandled: list[tuple[str, str]] = []
        self.noop_edits = 0
        self._failures: dict[int, int] = {}
        self._nonces: dict[tuple[int, str], tuple[float, Message]] = {}
        self._sessions: dict[str, _Session] = {}
        self._conn: _Conn | None = None  # the connection identified or resumed last
        self._conns: set[_Conn] = set()
        # The live connection of each [shard, count], in the order they identified.
        self.shard_conns: dict[tuple[int, int], _Conn] = {}
        self.invalid_shards: list[tuple[int, int]] = []  # IDENTIFYs refused with 4010
        self._changed = asyncio.Event()
        self._counter = itertools.count()
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, str, re.Pattern[str], Handler]] = []
        for gid in guild_ids:
            self.add_guild(gid)
        r = self._route
        r("GET", "/users/@me", lambda q: self._ok(self.bot_user()))
        r("GET", "/users/{uid}", lambda q: self._ok(self.user(int(q.params["uid"]))))
        r("GET", "/oauth2/applications/@me", self._application)
        r("GET", "/gateway", lambda q: self._ok({"url": self.gateway_url}))
        r("GET", "/gateway/bot", self._gateway_bot)
        r("GET", "/channels/{cid}", lambda q: self._ok(self._channel(q)))
        r("POST", "/channels/{cid}/typing", self._typing)
        r("POST", "/channels/{cid}/messages", self._post_message)
        r("GET", "/channels/{cid}/messages", self._list_channel_messages)
        r("GET", "/channels/{cid}/messages/{mid}", self._get_channel_message)
        r("PATCH", "/channels/{cid}/messages/{mid}", self._edit_channel_message)
        r("DELETE", "/channels/{cid}/messages/{mid}", self._delete_channel_message)
        r("GET", "/guilds/{gid}", lambda q: self._ok(self._guild(q)))
        r("GET", "/guilds/{gid}/channels", lambda q: self._ok(self._guild(q)["channels"]))
        r("GET", "/guilds/{gid}/roles", lambda q: self._ok(self._guild(q)["roles"]))
        r("GET", "/guilds/{gid}/members/{uid}", self._member)
        for scope in ("", "/guilds/{gid}"):
            r("PUT", f"/applications/{{app}}{scope}/commands", self._sync)
            r("GET", f"/applications/{{app}}{scope}/commands", self._get_commands)
        r("POST", "/interactions/{iid}/{token}/callback", self._callback)
        r("POST", "/webhooks/{app}/{token}", self._followup)
        r("GET", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_get)
        r("PATCH", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_edit)
        r("DELETE", "/webhooks/{app}/{token}/messages/{mid}", self._webhook_delete)
        self._init_members()

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.api_base = f"http://127.0.0.1:{port}/api/v10"
        self.gateway_url = f"ws://127.0.0.1:{port}/gateway"

    async def stop(self) -> None:
        for conn in list(self._conns):
            await conn.ws.close(code=1001, message=b"fake shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10, what: str = "") -> T:
        """Wait until `predicate()` is truthy (re-checked after every request or gateway op,
        and every 50 ms, for predicates on the bot's cache: it follows gateway events later)."""
        try:
            async with asyncio.timeout(timeout):
                while not (result := predicate()):
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), 0.05)
        except TimeoutError:
            raise TimeoutError(f"FakeDiscord: no {what or 'match'} within {timeout}s") from None
        return result

    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _snowflake(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (next(self._counter) & 0x3FFFFF)

    # ---- world ----------------------------------------------------------------------------

    def user(self, user_id: int, username: str | None = None) -> JSON:
        return {
            "id": str(user_id),
            "username": username or f"user{user_id}",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": False,
            "public_flags": 0,
            "flags": 0,
        }

    def bot_user(self) -> JSON:
        return {
            **self.user(self.bot_user_id, "FakeBot"),
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "locale": "en-US",
        }

    def _member_obj(self, user: JSON, roles: Iterable[int] = (), perms: str | None = None) -> JSON:
        member = {
            "user": user,
            "roles": [str(r) for r in roles],
            "nick": None,
            "avatar": None,
            "joined_at": _now(),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        return member if perms is None else {**member, "permissions": perms}

    def add_guild(
        self,
        guild_id: int,
        *,
        name: str = "Guild",
        owner_id: int = 1,
        channels: list[JSON] | None = None,
        roles: list[JSON] | None = None,
    ) -> None:
        everyone = {
            "id": str(guild_id),
            "name": "@everyone",
            "permissions": EVERYONE_PERMISSIONS,
            "position": 0,
            "color": 0,
            "colors": {"primary_color": 0},
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "icon": None,
            "flags": 0,
        }
        roles = list(roles or [])
        if not any(int(r["id"]) == guild_id for r in roles):
            roles.insert(0, everyone)
        self.guilds[guild_id] = {
            "id": str(guild_id),
            "name": name,
            "owner_id": str(owner_id),
            "icon": None,
            "splash": None,
            "description": None,
            "features": [],
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "channels": [],
            "verification_level": 0,
            "mfa_level": 0,
            "explicit_content_filter": 0,
            "default_message_notifications": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "nsfw_level": 0,
            "max_members": 500000,
            "premium_progress_bar_enabled": False,
            "application_id": None,
        }
        self.members[guild_id][self.bot_user_id] = self._member_obj(self.bot_user())
        for ch in channels if channels is not None else [{"id": guild_id + 1, "name": "general"}]:
            # Sent within the GUILD_CREATE below, not as CHANNEL_CREATEs before it.
            self._make_channel(
                guild_id, int(ch["id"]), name=ch.get("name", "feed"), type=ch.get("type", 0)
            )
        for conn in self._conns_for(guild_id):
            conn.emit("GUILD_CREATE", self._guild_create(guild_id))

    def add_channel(
        self, guild_id: int, channel_id: int, *, name: str = "feed", type: int = 0
    ) -> None:
        channel = self._make_channel(guild_id, channel_id, name=name, type=type)
        for conn in self._conns_for(guild_id):
            if conn.ready.is_set():
                conn.emit("CHANNEL_CREATE", channel)

    def _make_channel(self, guild_id: int, channel_id: int, *, name: str, type: int) -> JSON:
        guild = self.guilds[guild_id]
        channel = {
            "id": str(channel_id),
            "type": type,
            "guild_id": str(guild_id),
            "name": name,
            "position": len(guild["channels"]),
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if type in (2, 13):
            channel.update(bitrate=64000, user_limit=0, rtc_region=None)
        guild["channels"].append(channel)
        self.channels[channel_id] = channel
        return channel

    def fail_channel(self, channel_id: int, status: int | None) -> None:
        if status is None:
            self._failures.pop(channel_id, None)
        else:
            self._failures[channel_id] = status

    def _guild_create(self, guild_id: int) -> JSON:
        members = list(self.members[guild_id].values())
        return {
            **self.guilds[guild_id],
            "unavailable": False,
            "large": False,
            "lazy": True,
            "joined_at": _now(),
            "member_count": len(members),
            "members": members,
            "presences": [],
            "voice_states": [],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ---- gateway --------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Conn(ws)
        self._conns.add(conn)
        writer = asyncio.create_task(conn.writer())
        conn.out.put_nowait({"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None})
        try:
            async for frame in ws:
                if frame.type is not WSMsgType.TEXT:
                    continue
                msg = json.loads(frame.data)
                op, d = msg.get("op"), msg.get("d")
                if op == 1:
                    conn.out.put_nowait({"op": 11, "d": None, "s": None, "t": None})
                elif op in (2, 6) and d.get("token") != self.token:
                    await ws.close(code=4004, message=b"Authentication failed.")
                elif op == 2 and not self._identify(conn, d):
                    # Discord: close code 4010, "Invalid shard"; no session is made.
                    await ws.close(code=4010, message=b"Invalid shard")
                elif op == 6:
                    self._resume(conn, d)
                elif op == 8:
                    gid = int(d["guild_id"])
                    members = list(self.members[gid].values())
                    conn.emit(
                        "GUILD_MEMBERS_CHUNK",
                        {
                            "guild_id": str(gid),
                            "members": members,
                            "chunk_index": 0,
                            "chunk_count": 1,
                            "not_found": [],
                            "nonce": d.get("nonce"),
                        },
                    )
        finally:
            writer.cancel()
            self._conns.discard(conn)
            if self._conn is conn:
                self._conn = None
            for key, live in list(self.shard_conns.items()):
                if live is conn:
                    del self.shard_conns[key]
            self._bump()
        return ws

    # -- shards

    def _conns_for(self, guild_id: int | None) -> list[_Conn]:
        """The live connections a guild's events go to (one unless counts are mixed)."""
        return [
            c
            for c in self.shard_conns.values()
            if c.session is not None and c.session.owns(guild_id)
        ]

    def shard_of(self, guild_id: int, count: int | None = None) -> int:
        """The shard of ``guild_id`` under ``count`` (default: the count connected)."""
        if count is None:
            count = next(iter(self.shard_conns))[1] if self.shard_conns else 1
        return (guild_id >> 22) % count

    def _flushed(self, conn: _Conn) -> None:
        """The writer sent everything up to READY (or RESUMED): the connection is ready,
        and the fake is once every shard of its count is."""
        conn.ready.set()
        if conn.session is not None:
            count = conn.session.shard[1]
            live = [self.shard_conns.get((s, count)) for s in range(count)]
            if all(c is not None and c.ready.is_set() for c in live):
                self.ready.set()
        self._bump()

    async def wait_shards_ready(
        self, count: int, shard_ids: Iterable[int] | None = None, timeout: float = 15
    ) -> None:
        """Wait until the given shards (default: all) of ``count`` have a ready connection."""
        ids = list(range(count) if shard_ids is None else shard_ids)

        def ready() -> bool:
            live = [self.shard_conns.get((s, count)) for s in ids]
            return all(c is not None and c.ready.is_set() for c in live)

        await self.wait_for(ready, timeout, f"shards {ids} of {count}")

    def _identify(self, conn: _Conn, d: JSON) -> bool:
        """READY and the shard's guilds; False for a shard outside its count."""
        shard, count = (int(x) for x in d.get("shard", [0, 1]))
        if count < 1 or not 0 <= shard < count:
            self.invalid_shards.append((shard, count))
            return False
        self.identify_count += 1
        self.gateway_intents = int(d.get("intents", 0))
        self.ready.clear()
        conn.session = session = _Session(secrets.token_hex(16), shard=(shard, count))
        self._sessions[session.id] = session
        self._conn = conn
        old = self.shard_conns.pop((shard, count), None)
        if old is not None and old is not conn:
            old.ready.clear()  # a second IDENTIFY of a shard takes its events over
        self.shard_conns[(shard, count)] = conn
        guilds = [g for g in self.guilds if session.owns(g)]
        conn.emit(
            "READY",
            {
                "v": 10,
                "user": self.bot_user(),
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.gateway_url,
                "shard": [shard, count],
                "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
                "application": {"id": str(self.application_id), "flags": 0},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "geo_ordered_rtc_regions": [],
                "guild_join_requests": [],
                "_trace": ["fake"],
            },
        )
        for gid in guilds:
            conn.emit("GUILD_CREATE", self._guild_create(gid))
        # The writer calls it once everything above is sent.
        conn.out.put_nowait(lambda: self._flushed(conn))
        self._bump()
        return True

    def _resume(self, conn: _Conn, d: JSON) -> None:
        session = self._sessions.get(d.get("session_id", ""))
        if session is None:
            conn.out.put_nowait({"op": 9, "d": False, "s": None, "t": None})
            return
        conn.session, self._conn = session, conn
        self.shard_conns[session.shard] = conn
        self.resume_count += 1
        conn.emit("RESUMED", {"_trace": ["fake"]})
        conn.out.put_nowait(lambda: self._flushed(conn))
        self._bump()

    async def request_reconnect(self, shard: int | None = None) -> None:
        """Send op 7 RECONNECT (to ``shard``'s connection, default the latest); discord.py
        then reconnects and RESUMEs."""

        def target() -> _Conn | None:
            if shard is None:
                return self._conn
            return next((c for (s, _), c in self.shard_conns.items() if s == shard), None)

        conn = await self.wait_for(target, 10, "gateway client")
        conn.out.put_nowait({"op": 7, "d": None, "s": None, "t": None})

    # ---- interactions (fake -> bot) --------------------------------------------------------

    def _command_id(self, name: str, guild_id: int | None) -> tuple[str, int | None]:
        for scope in (guild_id, None):
            for cmd in self.synced.get(scope, []):
                if cmd["name"] == name:
                    return cmd["id"], scope
        return str(self._snowflake()), None

    async def interact(
        self,
        name: str,
        options: list[JSON] | None = None,
        *,
        type: int = 2,
        resolved: JSON | None = None,
        command_type: int = 1,
        target_id: int | None = None,
        **who: Any,
    ) -> Interaction:
        cmd_id, scope = self._command_id(name, who.get("guild_id", 5000))
        data: JSON = {"id": cmd_id, "name": name, "type": command_type}
        if scope is not None:
            data["guild_id"] = str(scope)
        for key, value in (("options", options), ("resolved", resolved), ("target_id", target_id)):
            if value:
                data[key] = value if key != "target_id" else str(value)
        return await self._send_interaction(type, data, **who)

    async def autocomplete(self, name: str, options: list[JSON], **who: Any) -> list[JSON]:
        it = await self.interact(name, options, type=4, **who)
        await self.wait_for(lambda: 8 in it.callback_types, 10, "autocomplete choices")
        return it.choices or []

    async def click(
        self,
        message: Message,
        custom_id: str,
        *,
        component_type: int = 2,
        values: list[str] | None = None,
        **who: Any,
    ) -> Interaction:
        data: JSON = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            data["values"] = values
        who.setdefault("channel_id", message.channel_id)
        guild_id = message.raw.get("guild_id")
        who.setdefault("guild_id", int(guild_id) if guild_id else None)
        return await self._send_interaction(3, data, message=message, **who)

    async def _send_interaction(
        self,
        type: int,
        data: JSON,
        *,
        guild_id: int | None = 5000,
        channel_id: int | None = None,
        user_id: int = 42,
        username: str | None = None,
        permissions: int | str = 0,
        member_roles: Iterable[int] = (),
        locale: str = "en-US",
        message: Message | None = None,
    ) -> Interaction:
        def live() -> _Conn | None:
            return next((c for c in self._conns_for(guild_id) if c.ready.is_set()), None)

        conn = await self.wait_for(live, 10, f"gateway client of guild {guild_id}")
        iid, user = self._snowflake(), self.user(user_id, username)
        payload: JSON = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": type,
            "data": data,
            "token": f"fake-itoken-{iid}-{secrets.token_urlsafe(16)}",
            "version": 1,
            "locale": locale,
            "app_permissions": ALL_PERMISSIONS,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": self.attachment_size_limit,
        }
        if guild_id is not None:
            channel = (
                self.channels.get(channel_id)
                if channel_id is not None
                else next((c for c in self.guilds[guild_id]["channels"] if c["type"] == 0), None)
            )
            if channel is None:
                channel = {
                    "id": str(channel_id),
                    "type": 0,
                    "guild_id": str(guild_id),
                    "name": "unknown",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "flags": 0,
                }
            # A known member keeps its stored roles and nick; `member_roles` only colours
            # this payload, as a one-off view of who is asking.
            explicit = [str(r) for r in member_roles]
            stored = self.members[guild_id].get(user_id)
            if stored is None:
                stored = self.members[guild_id][user_id] = self._member_obj(user, explicit)
            member = {
                **stored,
                "user": user if username is not None else stored["user"],
                "roles": explicit or stored["roles"],
                "permissions": str(int(permissions)),
            }
            payload.update(
                guild_id=str(guild_id),
                member=member,
                guild_locale="en-US",
                guild={"id": str(guild_id), "locale": "en-US", "features": []},
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
            )
        else:
            channel = {
                "id": str(channel_id or user_id + 1),
                "type": 1,
                "recipients": [user],
                "last_message_id": None,
                "flags": 0,
            }
            payload.update(user=user, context=1, authorizing_integration_owners={"0": "0"})
        payload.update(channel=channel, channel_id=channel["id"])
        if message is not None:
            payload["message"] = message.raw
        it = Interaction(self, payload, original=message)
        self.interactions[it.token] = it
        assert conn.session is not None
        it.shard = conn.session.shard  # one connection, even with counts mixed
        conn.emit("INTERACTION_CREATE", payload)
        return it

    # ---- REST plumbing ---------------------------------------------------------------------

    def _route(self, method: str, template: str, handler: Handler) -> None:
        pattern = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(template))
        self._routes.append((method, template, re.compile(pattern), handler))

    @staticmethod
    async def _ok(data: Any) -> Any:
        return data

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = re.sub(r"^/api/v\d+", "", request.path)
        self.requests.append((request.method, path))
        public = path.startswith(("/webhooks/", "/interactions/", "/gateway"))
        if not public and request.headers.get("Authorization") != f"Bot {self.token}":
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        for method, template, pattern, handler in self._routes:
            m = pattern.fullmatch(path)
            if m is None or method != request.method:
                continue
            params = m.groupdict()
            refusal, limit_headers = self._meter(f"{method} {template}", params)
            if refusal is not None:
                self._bump()
                return refusal
            body, files = await self._read_body(request)
            try:
                cid = params.get("cid")
                if cid is not None and int(cid) in self._failures:
                    raise DiscordError(*FAILURES[self._failures[int(cid)]])
                result = await handler(_Req(params, request.query, body, files, request.headers))
            except DiscordError as e:
                response = _json(e.body, e.status)
            else:
                response = web.Response(status=204) if result is None else _json(result)
            finally:
                self._bump()
            response.headers.update(limit_headers)
            return response
        self.unhandled.append((request.method, path))
        return _json({"message": "404: Not Found", "code": 0}, 404)

    @staticmethod
    async def _read_body(request: web.Request) -> tuple[Any, list[tuple[str, str, bytes]]]:
        files: list[tuple[str, str, bytes]] = []
        if request.content_type == "multipart/form-data":
            body = None
            async for part in await request.multipart():
                if part.name == "payload_json":
                    body = json.loads(await part.text())  # type: ignore[union-attr]
                else:
                    ctype = part.headers.get("Content-Type", "application/octet-stream")
                    files.append((part.filename or "", ctype, bytes(await part.read())))  # type: ignore[union-attr]
            return body, files
        return (await request.json() if request.can_read_body else None), files

    # ---- messages --------------------------------------------------------------------------

    def _new_message(
        self,
        payload: JSON,
        files: list[tuple[str, str, bytes]],
        channel_id: int,
        it: Interaction | None = None,
    ) -> Message:
        mid = self._snowflake()
        raw: JSON = {
            "id": str(mid),
            "channel_id": str(channel_id),
            "type": 0,
            "content": "",
            "author": self.bot_user(),
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts")),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
        }
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        if guild_id:
            raw["guild_id"] = guild_id
        if "nonce" in payload:
            raw["nonce"] = payload["nonce"]
        if it is not None:
            app, owners = str(self.application_id), it.raw["authorizing_integration_owners"]
            user = it.raw.get("member", it.raw)["user"]
            raw.update(
                webhook_id=app,
                application_id=app,
                type=20 if it.type == 2 else 0,
                interaction_metadata={
                    "id": str(it.id),
                    "type": it.type,
                    "user": user,
                    "authorizing_integration_owners": owners,
                },
            )
        msg = Message(raw=raw)
        self._apply(msg, payload, files, edit=False)
        self.messages[mid] = msg
        return msg

    def _apply(
        self, msg: Message, payload: JSON, files: list[tuple[str, str, bytes]], *, edit: bool = True
    ) -> None:
        problem = message_limits_problem(payload)
        if problem is not None:
            raise DiscordError(400, "Invalid Form Body", 50035, {"message": problem})
        raw = msg.raw
        for key in ("content", "embeds", "components", "poll"):
            if key in payload:
                empty = "" if key == "content" else []
                raw[key] = payload[key] if payload[key] is not None else empty
        raw["embeds"] = [{"type": "rich", **e} for e in raw["embeds"]]
        if "flags" in payload:
            raw["flags"] = int(payload["flags"] or 0) | (raw["flags"] & EPHEMERAL if edit else 0)
        if edit:
            raw["flags"] &= ~LOADING
            raw["edited_timestamp"] = _now()
            msg.edits += 1
        if payload.get("allowed_mentions") is not None:
            msg.allowed_mentions = payload["allowed_mentions"]
        if "content" in payload or "allowed_mentions" in payload:
            self._resolve_mentions(raw, payload.get("allowed_mentions"))
        if "attachments" in payload or files:
            old = {a["id"]: a for a in raw["attachments"]}
            new: list[JSON] = []
            wanted = payload.get("attachments")
            if wanted is None:  # no list given: keep what is there (on edits) and add the files
                wanted = [{"id": a} for a in old] + [{"id": i} for i in range(len(files))]
            for spec in wanted:
                if str(spec["id"]) in old:
                    new.append(old[str(spec["id"])])
                elif int(spec["id"]) < len(files):
                    name, ctype, data = files[int(spec["id"])]
                    aid = str(self._snowflake())
                    url = f"https://cdn.discordapp.com/attachments/{raw['channel_id']}/{aid}/{name}"
                    new.append(
                        {
                            "id": aid,
                            "filename": spec.get("filename", name),
                            "size": len(data),
                            "url": url,
                            "proxy_url": url,
                            "content_type": ctype,
                            "description": spec.get("description"),
                        }
                    )
            raw["attachments"] = new
            msg.files = [*msg.files, *files] if edit else list(files)

    def _resolve_mentions(self, raw: JSON, allowed: JSON | None) -> None:
        """Who the message pings, as Discord decides: the mentions in its content that
        ``allowed_mentions`` permits (without it, every mention in the content)."""
        content = raw.get("content") or ""
        users = [int(u) for u in re.findall(r"<@!?(\d+)>", content)]
        roles = re.findall(r"<@&(\d+)>", content)
        everyone = "@everyone" in content or "@here" in content
        if allowed is not None:
            parse = allowed.get("parse") or []
            listed = {str(u) for u in allowed.get("users") or []}
            users = [u for u in users if "users" in parse or str(u) in listed]
            listed_roles = {str(r) for r in allowed.get("roles") or []}
            roles = [r for r in roles if "roles" in parse or r in listed_roles]
            everyone = everyone and "everyone" in parse
        raw["mentions"] = [self.user(u) for u in dict.fromkeys(users)]
        raw["mention_roles"] = list(dict.fromkeys(roles))
        raw["mention_everyone"] = everyone

    def _channel(self, q: _Req) -> JSON:
        channel = self.channels.get(int(q.params["cid"]))
        if channel is None:
            raise DiscordError(*UNKNOWN_CHANNEL)
        return channel

    def _chan_msg(self, q: _Req) -> Message:
        self._channel(q)
        msg = self.messages.get(int(q.params["mid"]))
        if msg is None or msg.deleted or msg.channel_id != int(q.params["cid"]):
            raise DiscordError(*UNKNOWN_MESSAGE)
        return msg

    async def _typing(self, q: _Req) -> None:
        self._channel(q)

    def bot_permissions(self, channel: JSON) -> int:
        """The bot's permissions in a guild channel, computed as Discord does: @everyone
        and its roles, then the channel's overwrites (@everyone, roles, the member)."""
        guild = self.guilds[int(channel["guild_id"])]
        member = self.members[int(guild["id"])].get(self.bot_user_id, {})
        mine = {str(r) for r in member.get("roles", [])}
        perms = 0
        for role in guild["roles"]:
            if role["id"] == guild["id"] or role["id"] in mine:
                perms |= int(role["permissions"])
        if int(guild["owner_id"]) == self.bot_user_id or perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        overwrites = channel.get("permission_overwrites") or []
        for ow in overwrites:
            if ow["id"] == guild["id"]:
                perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
        allow = deny = 0
        for ow in overwrites:
            if int(ow.get("type", 0)) == 0 and ow["id"] in mine:
                allow, deny = allow | int(ow["allow"]), deny | int(ow["deny"])
        perms = (perms & ~deny) | allow
        for ow in overwrites:
            if int(ow.get("type", 0)) == 1 and int(ow["id"]) == self.bot_user_id:
                perms = (perms & ~int(ow["deny"])) | int(ow["allow"])
        return perms

    def _require(self, channel: JSON, needed: int) -> None:
        if "guild_id" not in channel:
            return
        perms = self.bot_permissions(channel)
        if not perms & VIEW_CHANNEL:
            raise DiscordError(403, "Missing Access", 50001)
        if perms & needed != needed:
            raise DiscordError(*FAILURES[403])

    async def _post_message(self, q: _Req) -> JSON:
        self._require(self._channel(q), SEND_MESSAGES)
        cid, payload = int(self._channel(q)["id"]), q.body or {}
        key = (cid, str(payload.get("nonce")))
        seen = self._nonces.get(key)
        if payload.get("enforce_nonce") and seen and time.monotonic() - seen[0] < NONCE_WINDOW_S:
            return seen[1].raw  # Discord answers a repeated nonce with the original message
        msg = self._new_message(payload, q.files, cid)
        if payload.get("nonce") is not None:
            self._nonces[key] = (time.monotonic(), msg)
        self.channel_messages[cid].append(msg)
        self.channels[cid]["last_message_id"] = str(msg.id)
        if self.ready.is_set():
            member = {k: v for k, v in self._member_obj(msg.raw["author"]).items() if k != "user"}
            self._emit("MESSAGE_CREATE", {**msg.raw, "member": member})
        return msg.raw

    async def _list_channel_messages(self, q: _Req) -> list[JSON]:
        """A channel's history as Discord serves it (with Read Message History): the
        ``limit`` (up to 100) messages next after ``after``, or the latest, newest first."""
        channel = self._channel(q)
        self._require(channel, READ_MESSAGE_HISTORY)
        limit = max(1, min(int(q.query.get("limit", 50)), 100))
        live = self.live_messages(int(channel["id"]))
        if "after" in q.query:
            after = int(q.query["after"])
            chosen = [m for m in live if m.id > after][:limit]
        else:
            chosen = live[-limit:]
        return [m.raw for m in reversed(chosen)]

    async def _get_channel_message(self, q: _Req) -> JSON:
        # Discord: reading a message needs View Channel and Read Message History.
        self._require(self._channel(q), READ_MESSAGE_HISTORY)
        return self._chan_msg(q).raw

    async def _edit_channel_message(self, q: _Req) -> JSON:
        self._require(self._channel(q), 0)
        msg = self._chan_msg(q)
        if int(msg.raw["author"]["id"]) != self.bot_user_id:
            raise DiscordError(403, "Cannot edit a message authored by another user", 50005)
        shown = json.dumps([msg.raw.get("content"), msg.raw["embeds"]], sort_keys=True)
        self._apply(msg, q.body or {}, q.files)
        if json.dumps([msg.raw.get("content"), msg.raw["embeds"]], sort_keys=True) == shown:
            self.noop_edits += 1  # an edit that changed nothing anyone sees
        return msg.raw

    async def _delete_channel_message(self, q: _Req) -> None:
        channel = self._channel(q)
        msg = self._chan_msg(q)
        own = int(msg.raw["author"]["id"]) == self.bot_user_id
        self._require(channel, 0 if own else MANAGE_MESSAGES)
        self.delete_message(int(channel["id"]), msg.id)

    def delete_message(self, channel_id: int, message_id: int) -> None:
        """Delete a message, as a moderator would; the bot hears of it (MESSAGE_DELETE)
        if it asked for the GUILD_MESSAGES intent."""
        msg = self.messages[message_id]
        if msg.deleted or msg.channel_id != channel_id:
            raise KeyError(f"no message {message_id} in channel {channel_id}")
        msg.deleted = True
        event: JSON = {"id": str(message_id), "channel_id": str(channel_id)}
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        if guild_id:
            event["guild_id"] = guild_id
        self._emit("MESSAGE_DELETE", event)
        self._bump()

    def live_messages(self, channel_id: int) -> list[Message]:
        """The channel's messages that were not deleted, oldest first."""
        return [m for m in self.channel_messages[channel_id] if not m.deleted]

    def set_overwrites(self, channel_id: int, overwrites: list[JSON]) -> None:
        """Replace a channel's permission overwrites (CHANNEL_UPDATE)."""
        channel = self.channels[channel_id]
        channel["permission_overwrites"] = overwrites
        self._emit("CHANNEL_UPDATE", channel)
        self._bump()

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (CHANNEL_DELETE); its messages go with it."""
        channel = self.channels.pop(channel_id)
        guild = self.guilds[int(channel["guild_id"])]
        guild["channels"] = [c for c in guild["channels"] if int(c["id"]) != channel_id]
        for msg in self.channel_messages[channel_id]:
            msg.deleted = True
        self._emit("CHANNEL_DELETE", channel)
        self._bump()

    # ---- guilds, app, commands -------------------------------------------------------------

    def _guild(self, q: _Req) -> JSON:
        guild = self.guilds.get(int(q.params["gid"]))
        if guild is None:
            raise DiscordError(404, "Unknown Guild", 10004)
        return guild

    async def _member(self, q: _Req) -> JSON:
        member = self.members[int(self._guild(q)["id"])].get(int(q.params["uid"]))
        if member is None:
            raise DiscordError(404, "Unknown Member", 10007)
        return member

    async def _application(self, q: _Req) -> JSON:
        return {
            "id": str(self.application_id),
            "name": "FakeBot",
            "icon": None,
            "description": "",
            "summary": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "flags": 0,
            "owner": self.user(1, "owner"),
            "team": None,
            "verify_key": "0" * 64,
            "hook": True,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "bot": self.bot_user(),
            "approximate_guild_count": len(self.guilds),
        }

    async def _gateway_bot(self, q: _Req) -> JSON:
        return {
            "url": self.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 999,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }

    def _scope(self, q: _Req) -> int | None:
        if int(q.params["app"]) != self.application_id:
            raise DiscordError(403, "Missing Access", 50001)
        return int(self._guild(q)["id"]) if "gid" in q.params else None

    async def _get_commands(self, q: _Req) -> list[JSON]:
        return self.synced.get(self._scope(q), [])

    async def _sync(self, q: _Req) -> list[JSON]:
        scope, errors = self._scope(q), {}
        for i, cmd in enumerate(q.body):
            if problem := _validate(cmd, top=True):
                errors[str(i)] = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": problem}]}
        if errors:
            raise DiscordError(400, "Invalid Form Body", 50035, errors)
        previous = {c["name"]: c["id"] for c in self.synced.get(scope, [])}
        result = [
            {
                "type": 1,
                "default_member_permissions": None,
                "nsfw": False,
                **cmd,
                "id": previous.get(cmd["name"]) or str(self._snowflake()),
                "application_id": str(self.application_id),
                "version": str(self._snowflake()),
                **({"guild_id": str(scope)} if scope is not None else {}),
            }
            for cmd in q.body
        ]
        self.synced[scope] = result
        return result

    async def wait_synced(self, guild_id: int | None = None, timeout: float = 10) -> list[JSON]:
        await self.wait_for(lambda: guild_id in self.synced, timeout, f"sync of {guild_id}")
        return self.synced[guild_id]

    async def wait_channel_messages(
        self, channel_id: int, count: int, timeout: float = 10
    ) -> list[Message]:
        msgs = self.channel_messages[channel_id]
        await self.wait_for(lambda: len(msgs) >= count, timeout, f"messages in {channel_id}")
        return msgs[:count]

    # ---- interaction callbacks and webhooks (bot -> fake) ------------------------------------

    async def _callback(self, q: _Req) -> JSON:
        it = self.interactions.get(q.params["token"])
        if it is None or it.id != int(q.params["iid"]):
            raise DiscordError(404, "Unknown interaction", 10062)
        if it.callback_types:
            raise DiscordError(400, "Interaction has already been acknowledged.", 40060)
        if any(len(data) > it.raw["attachment_size_limit"] for _, _, data in q.files):
            raise DiscordError(413, "Request entity too large", 40005)
        kind, data = int(q.body["type"]), q.body.get("data") or {}
        if kind in (6, 7) and it.original is None:
            raise DiscordError(400, "Invalid Form Body", 50035)
        if it.first_callback_at is None:
            it.first_callback_at = time.monotonic()
        it.callback_types.append(kind)
        msg: Message | None = None
        if kind == 4:
            msg = it.original = self._new_message(data, q.files, it.channel_id, it)
            it._finish(msg)
        elif kind == 5:
            flags = LOADING | (int(data.get("flags", 0)) & EPHEMERAL)
            msg = it.original = self._new_message({"flags": flags}, [], it.channel_id, it)
        elif kind in (6, 7):
            msg = it.original
            if kind == 7:
                self._apply(msg, data, q.files)
                it._finish(msg)
        elif kind == 8:
            it.choices = list(data.get("choices", []))
        elif kind == 9:
            it.modal = data
        resource: JSON = {"type": kind}
        info: JSON = {"id": str(it.id), "type": it.type, "response_message_loading": kind == 5}
        if msg is not None:
            resource["message"] = msg.raw
            info.update(response_message_id=str(msg.id), response_message_ephemeral=msg.ephemeral)
        return {"interaction": info, "resource": resource}

    def _webhook(self, q: _Req) -> Interaction:
        it = self.interactions.get(q.params["token"])
        if int(q.params["app"]) != self.application_id or it is None or not it.callback_types:
            raise DiscordError(*UNKNOWN_WEBHOOK)
        return it

    def _webhook_msg(self, q: _Req) -> tuple[Interaction, Message]:
        it, mid = self._webhook(q), q.params["mid"]
        if mid == "@original":
            found = it.original
        else:
            found = next((m for m in [it.original, *it.followups] if m and m.id == int(mid)), None)
        if found is None or found.deleted:
            raise DiscordError(*UNKNOWN_MESSAGE)
        return it, found

    async def _followup(self, q: _Req) -> JSON | None:
        it = self._webhook(q)
        if any(len(data) > it.raw["attachment_size_limit"] for _, _, data in q.files):
            raise DiscordError(413, "Request entity too large", 40005)
        original = it.original
        if (
            5 in it.callback_types
            and original is not None
            and not original.deleted
            and original.raw["flags"] & LOADING
        ):
            # Discord: the first follow-up after a deferral (type 5) is the deferred
            # message itself, with the deferral's flags: a public "thinking" stays public
            # whatever the follow-up asks (discord-api-docs #2866, #3466).
            body = {k: v for k, v in (q.body or {}).items() if k != "flags"}
            self._apply(original, body, q.files)
            msg = original
        else:
            msg = self._new_message(q.body or {}, q.files, it.channel_id, it)
        it.followups.append(msg)
        if it.deferred:
            it._finish(msg)
        return msg.raw if q.query.get("wait") in ("1", "true", "True") else None

    async def _webhook_get(self, q: _Req) -> JSON:
        return self._webhook_msg(q)[1].raw

    async def _webhook_edit(self, q: _Req) -> JSON:
        it, msg = self._webhook_msg(q)
        if any(len(data) > it.raw["attachment_size_limit"] for _, _, data in q.files):
            raise DiscordError(413, "Request entity too large", 40005)
        self._apply(msg, q.body or {}, q.files)
        if it.deferred and msg is it.original:
            it._finish(msg)
        return msg.raw

    async def _webhook_delete(self, q: _Req) -> None:
        self._webhook_msg(q)[1].deleted = True


# Discord's message limits (docs: Message Resource and Embed Limits).
EMBED_LIMITS = {"title": 256, "description": 4096, "fields": 25, "field_name": 256,
                "field_value": 1024, "footer": 2048, "author": 256, "total": 6000}  # fmt: skip


def message_limits_problem(payload: JSON) -> str | None:
    """What in a message payload Discord would refuse (400, 50035), or None."""
    content = payload.get("content")
    if isinstance(content, str) and len(content) > 2000:
        return "content is over 2,000 characters"
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        return "more than 10 embeds"
    total = 0
    for embed in embeds:
        fields = embed.get("fields") or []
        sizes = {
            "title": len(embed.get("title") or ""),
            "description": len(embed.get("description") or ""),
            "fields": len(fields),
            "footer": len((embed.get("footer") or {}).get("text") or ""),
            "author": len((embed.get("author") or {}).get("name") or ""),
        }
        for name, size in sizes.items():
            if size > EMBED_LIMITS[name]:
                return f"embed {name} over {EMBED_LIMITS[name]}"
        for f in fields:
            if len(f.get("name") or "") > EMBED_LIMITS["field_name"]:
                return "embed field name over 256"
            if len(f.get("value") or "") > EMBED_LIMITS["field_value"]:
                return "embed field value over 1,024"
            total += len(f.get("name") or "") + len(f.get("value") or "")
        total += sizes["title"] + sizes["description"] + sizes["footer"] + sizes["author"]
    if total > EMBED_LIMITS["total"]:
        return "embeds over 6,000 characters in all"
    return None


def _validate(cmd: JSON, *, top: bool = False) -> str | None:
    """The checks Discord applies at sync time that discord.py does not apply locally."""
    name, desc, opts = cmd.get("name", ""), cmd.get("description", ""), cmd.get("options") or []
    if top and cmd.get("type", 1) != 1:  # user/message context menu: free-form name, no options
        return None if 1 <= len(name) <= 32 else f"invalid name {name!r}"
    if not _NAME_RE.fullmatch(name) or name != name.lower():
        return f"invalid name {name!r}"
    if not 1 <= len(desc) <= 100:
        return f"description of {name!r} must be 1-100 characters"
    if len(opts) > 25 or len(cmd.get("choices") or []) > 25:
        return f"{name!r} has more than 25 options or choices"
    return next((p for o in opts if (p := _validate(o))), None)
