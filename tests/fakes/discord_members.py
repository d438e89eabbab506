"""Members, roles and per-route rate limits for the fake Discord (`FakeDiscord` inherits
`MemberRoutes`).

World-building helpers change the fake's guilds and members and, once a gateway session
exists, send the events real Discord sends so a connected discord.py's cache follows. The
REST routes apply Discord's permission and role-hierarchy rules and refuse with Discord's
status, message and code; every successful mutation is recorded with its audit-log reason.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote

from aiohttp import web

if TYPE_CHECKING:
    from .discord_server import Handler, _Conn, _Req

JSON = dict[str, Any]

ADMINISTRATOR = 1 << 3
CHANGE_NICKNAME, MANAGE_NICKNAMES, MANAGE_ROLES = 1 << 26, 1 << 27, 1 << 28
ALL_PERMISSIONS = (1 << 53) - 1
INTENT_GUILDS, INTENT_GUILD_MEMBERS = 1 << 0, 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
NICK_MAX = 32

MISSING_PERMISSIONS = (403, "Missing Permissions", 50013)
UNKNOWN_GUILD = (404, "Unknown Guild", 10004)
UNKNOWN_MEMBER = (404, "Unknown Member", 10007)
UNKNOWN_ROLE = (404, "Unknown Role", 10011)

# Route keys: "METHOD template", as counted in `route_calls` and keyed in `route_limits`.
MEMBERS_LIST = "GET /guilds/{gid}/members"
MEMBER_GET = "GET /guilds/{gid}/members/{uid}"
MEMBER_PATCH = "PATCH /guilds/{gid}/members/{uid}"
ROLE_PUT = "PUT /guilds/{gid}/members/{uid}/roles/{rid}"
ROLE_DELETE = "DELETE /guilds/{gid}/members/{uid}/roles/{rid}"
MEMBER_MUTATIONS = frozenset({MEMBER_PATCH, ROLE_PUT, ROLE_DELETE})
# Discord counts adding and removing a member's role against one bucket (both answer with
# the same X-RateLimit-Bucket); a route not listed here is a bucket of its own.
ROUTE_BUCKETS = {ROLE_PUT: "member-roles", ROLE_DELETE: "member-roles", MEMBER_PATCH: "member"}
# What Discord reports for these routes: 10 requests per 10 s, per guild, in a fixed
# window (member role PUT still answers that way: discord-api-docs issue 7680).
DEFAULT_ROUTE_LIMITS: dict[str, tuple[int, float]] = {
    ROLE_PUT: (10, 10.0),
    ROLE_DELETE: (10, 10.0),
    MEMBER_PATCH: (10, 10.0),
}
RATE_LIMITED = "You are being rate limited."


def _refuse(status: int, message: str, code: int, errors: JSON | None = None) -> NoReturn:
    # Imported here rather than at the top: discord_server imports this module for the mixin.
    from .discord_server import DiscordError

    raise DiscordError(status, message, code, errors)


def _rank(role: JSON) -> tuple[int, int]:
    """A role's place in the hierarchy: by position and, on a tie, the older (lower id) role
    ranks higher, the order discord.py's Role comparison uses too."""
    return int(role["position"]), -int(role["id"])


def _ms_up(seconds: float) -> float:
    # Rounded up to the millisecond so a client that waits exactly this long is never early.
    return math.ceil(max(seconds, 0.0) * 1000) / 1000


def _bucket_hash(bucket: str) -> str:
    return hashlib.sha256(bucket.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class MemberChange:
    """One successful member mutation, with the audit-log reason it carried."""

    method: str  # PUT / DELETE (one role) or PATCH (nick and/or the full role list)
    guild_id: int
    user_id: int
    role_id: int | None
    nick: str | None  # PATCH with "nick": the new nick (None when reset)
    reason: str | None
    at: float  # time.monotonic()
    roles: frozenset[int] | None = None  # PATCH with "roles": the member's new role set


@dataclass
class _Window:
    used: int = 0
    resets_at: float = 0.0  # time.monotonic()


def role_payload(
    role_id: int, name: str, *, position: int, permissions: int = 0, managed: bool = False
) -> JSON:
    """A role object with every field discord.py's Role parser reads."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "icon": None,
        "flags": 0,
    }


class MemberRoutes:
    """Members and roles: helpers, REST routes, rules and rate limits. Needs the state and
    plumbing `FakeDiscord` provides; `_init_members()` sets up its own."""

    bot_user_id: int
    guilds: dict[int, JSON]
    members: dict[int, dict[int, JSON]]
    _conn: _Conn | None

    if TYPE_CHECKING:

        def user(self, user_id: int, username: str | None = None) -> JSON: ...
        def _member_obj(
            self, user: JSON, roles: Iterable[int] = (), perms: str | None = None
        ) -> JSON: ...
        def _route(self, method: str, template: str, handler: Handler) -> None: ...
        def _bump(self) -> None: ...
        def _conns_for(self, guild_id: int | None) -> list[_Conn]: ...

    def _init_members(self) -> None:
        self.member_changes: list[MemberChange] = []
        self.route_limits: dict[str, tuple[int, float]] = dict(DEFAULT_ROUTE_LIMITS)
        self.route_calls: Counter[str] = Counter()
        self.rate_limited = 0
        self.gateway_intents = 0  # from the last IDENTIFY: Discord filters events by them
        self._windows: dict[tuple[str, str], _Window] = {}
        self._forced_429s: list[float] = []
        for key, handler in (
            (MEMBERS_LIST, self._list_members),
            (MEMBER_PATCH, self._patch_member),
            (ROLE_PUT, self._put_member_role),
            (ROLE_DELETE, self._delete_member_role),
        ):
            method, template = key.split(" ", 1)
            self._route(method, template, handler)

    # ---- world -------------------------------------------------------------------------------

    def add_role(
        self,
        guild_id: int,
        role_id: int,
        name: str,
        *,
        position: int,
        permissions: int = 0,
        managed: bool = False,
        bot_id: int | None = None,
    ) -> JSON:
        """Create a role. A managed role is a bot's integration role (`bot_id`, the fake's
        own bot unless given), which nobody can assign or remove."""
        roles = self.guilds[guild_id]["roles"]
        if any(int(r["id"]) == role_id for r in roles):
            raise ValueError(f"role {role_id} already exists in guild {guild_id}")
        role = role_payload(role_id, name, position=position, permissions=permissions,
                            managed=managed)  # fmt: skip
        if managed:
            role["tags"] = {"bot_id": str(bot_id if bot_id is not None else self.bot_user_id)}
        roles.append(role)
        self._emit("GUILD_ROLE_CREATE", {"guild_id": str(guild_id), "role": role})
        return role

    def move_role(self, guild_id: int, role_id: int, position: int) -> JSON:
        return self._update_role(guild_id, role_id, position=position)

    def set_role_permissions(self, guild_id: int, role_id: int, permissions: int) -> JSON:
        return self._update_role(guild_id, role_id, permissions=str(permissions))

    def _update_role(self, guild_id: int, role_id: int, **changes: Any) -> JSON:
        role = self._role(guild_id, role_id)
        if role is None:
            raise KeyError(f"no role {role_id} in guild {guild_id}")
        role.update(changes)
        self._emit("GUILD_ROLE_UPDATE", {"guild_id": str(guild_id), "role": role})
        return role

    def delete_role(self, guild_id: int, role_id: int) -> None:
        """Delete a role; like Discord, take it from every member holding it too."""
        guild = self.guilds[guild_id]
        if self._role(guild_id, role_id) is None:
            raise KeyError(f"no role {role_id} in guild {guild_id}")
        guild["roles"] = [r for r in guild["roles"] if int(r["id"]) != role_id]
        self._emit("GUILD_ROLE_DELETE", {"guild_id": str(guild_id), "role_id": str(role_id)})
        for member in self.members[guild_id].values():
            if str(role_id) in member["roles"]:
                member["roles"] = [r for r in member["roles"] if r != str(role_id)]
                self._member_updated(guild_id, member)

    def add_member(
        self,
        guild_id: int,
        user_id: int,
        *,
        roles: Iterable[int] = (),
        nick: str | None = None,
        username: str | None = None,
    ) -> JSON:
        """Add a member (GUILD_MEMBER_ADD); an existing one is replaced (GUILD_MEMBER_UPDATE,
        since discord.py drops an ADD for a member it already caches)."""
        roles = list(roles)
        for role_id in roles:
            if self._role(guild_id, role_id) is None:
                raise KeyError(f"no role {role_id} in guild {guild_id}")
        existed = user_id in self.members[guild_id]
        member = self._member_obj(self.user(user_id, username), roles)
        member["nick"] = nick
        self.members[guild_id][user_id] = member
        if existed:
            self._member_updated(guild_id, member)
        else:
            self._emit("GUILD_MEMBER_ADD", {**member, "guild_id": str(guild_id)})
        return member

    def remove_member(self, guild_id: int, user_id: int) -> None:
        member = self.members[guild_id].pop(user_id)
        self._emit("GUILD_MEMBER_REMOVE", {"guild_id": str(guild_id), "user": member["user"]})

    def set_bot_roles(self, guild_id: int, role_ids: Iterable[int]) -> None:
        role_ids = list(role_ids)
        for role_id in role_ids:
            if self._role(guild_id, role_id) is None:
                raise KeyError(f"no role {role_id} in guild {guild_id}")
        member = self.members[guild_id][self.bot_user_id]
        member["roles"] = [str(r) for r in role_ids]
        self._member_updated(guild_id, member)

    def member_roles(self, guild_id: int, user_id: int) -> set[int]:
        return {int(r) for r in self.members[guild_id][user_id]["roles"]}

    def member_nick(self, guild_id: int, user_id: int) -> str | None:
        return self.members[guild_id][user_id]["nick"]

    def bot_guild_permissions(self, guild_id: int) -> int:
        """The bot's guild-wide permissions: @everyone OR its roles; the owner and
        ADMINISTRATOR get everything."""
        guild = self.guilds[guild_id]
        if int(guild["owner_id"]) == self.bot_user_id:
            return ALL_PERMISSIONS
        held = self.member_roles(guild_id, self.bot_user_id) | {guild_id}
        perms = 0
        for role in guild["roles"]:
            if int(role["id"]) in held:
                perms |= int(role["permissions"])
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def top_role(self, guild_id: int, user_id: int) -> JSON:
        """A member's highest role (@everyone when it holds none)."""
        held = self.member_roles(guild_id, user_id) | {guild_id}
        return max((r for r in self.guilds[guild_id]["roles"] if int(r["id"]) in held), key=_rank)

    def _role(self, guild_id: int, role_id: int) -> JSON | None:
        return next((r for r in self.guilds[guild_id]["roles"] if int(r["id"]) == role_id), None)

    # ---- gateway -----------------------------------------------------------------------------

    def _emit(self, event: str, data: JSON) -> None:
        # Once IDENTIFY has queued READY and GUILD_CREATE, anything queued after them reaches
        # discord.py in order; before that the GUILD_CREATE snapshot carries the change.
        # Only to the connection(s) of the guild's shard.
        raw_guild = data.get("guild_id")
        conns = self._conns_for(int(raw_guild) if raw_guild else None)
        if not conns:
            return
        # Discord sends member events only with the GUILD_MEMBERS intent, except updates of
        # the bot's own member; message events need GUILD_MESSAGES; role and channel
        # events need GUILDS.
        if event.startswith("GUILD_MEMBER_"):
            own = event == "GUILD_MEMBER_UPDATE" and data["user"]["id"] == str(self.bot_user_id)
            if not (own or self.gateway_intents & INTENT_GUILD_MEMBERS):
                return
        elif event.startswith("MESSAGE_"):
            if not self.gateway_intents & INTENT_GUILD_MESSAGES:
                return
        elif not self.gateway_intents & INTENT_GUILDS:
            return
        for conn in conns:
            conn.emit(event, data)

    def _member_updated(self, guild_id: int, member: JSON) -> None:
        # discord.py updates its member cache only from this event (add_roles returns nothing).
        self._emit("GUILD_MEMBER_UPDATE", {**member, "guild_id": str(guild_id)})

    # ---- rate limits -------------------------------------------------------------------------

    def set_route_limit(self, route: str, limit: int | None, per: float = 1.0) -> None:
        """Allow `limit` calls per `per` seconds on `route` and every route sharing its
        bucket (None: no limit, and no rate-limit headers); the bucket starts afresh."""
        bucket = ROUTE_BUCKETS.get(route, route)
        for key in {route, *(k for k, b in ROUTE_BUCKETS.items() if b == bucket)}:
            if limit is None:
                self.route_limits.pop(key, None)
            else:
                self.route_limits[key] = (limit, per)
        self._windows = {k: w for k, w in self._windows.items() if k[0] != bucket}

    def force_429(self, count: int, retry_after: float = 0.5) -> None:
        """Answer the next `count` member mutations with a 429, whatever their bucket says."""
        self._forced_429s.extend([retry_after] * count)

    def _meter(
        self, route: str, params: Mapping[str, str]
    ) -> tuple[web.Response | None, dict[str, str]]:
        """Count a call and apply its route's rate limit. Returns the 429 to answer instead
        (the request is then not applied), and the headers for the answer."""
        self.route_calls[route] += 1
        forced = route in MEMBER_MUTATIONS and bool(self._forced_429s)
        now, retry_after = time.monotonic(), 0.0
        headers: dict[str, str] = {}
        if route in self.route_limits:
            limit, per = self.route_limits[route]
            bucket = ROUTE_BUCKETS.get(route, route)
            major = params.get("gid") or params.get("cid") or ""
            window = self._windows.setdefault((bucket, major), _Window())
            if now >= window.resets_at:
                window.used, window.resets_at = 0, now + per
            over = window.used >= limit
            if not (forced or over):
                window.used += 1
            reset_after = _ms_up(window.resets_at - now)
            headers = {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(limit - window.used, 0)),
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Bucket": _bucket_hash(bucket),
            }
            if over:
                retry_after = reset_after
                headers["X-RateLimit-Scope"] = "user"
            elif not forced:
                return None, headers
        elif not forced:
            return None, headers
        if forced:
            retry_after = _ms_up(self._forced_429s.pop(0))
            if headers:
                headers["X-RateLimit-Scope"] = "user"
        self.rate_limited += 1
        body = {"message": RATE_LIMITED, "retry_after": retry_after, "global": False}
        # discord.py retries a 429 only when it carries Via (else it takes it for Cloudflare).
        headers.update({"Retry-After": str(math.ceil(retry_after)), "Via": "1.1 google"})
        response = web.Response(
            status=429, body=json.dumps(body).encode(), content_type="application/json"
        )
        response.headers.update(headers)
        return response, headers

    # ---- REST --------------------------------------------------------------------------------

    def _guild_id(self, q: _Req) -> int:
        guild_id = int(q.params["gid"])
        if guild_id not in self.guilds:
            _refuse(*UNKNOWN_GUILD)
        return guild_id

    def _target(self, guild_id: int, uid: str) -> tuple[int, JSON]:
        user_id = self.bot_user_id if uid == "@me" else int(uid)
        member = self.members[guild_id].get(user_id)
        if member is None:
            _refuse(*UNKNOWN_MEMBER)
        return user_id, member

    def _check_role(self, guild_id: int, role_id: int) -> None:
        """May the bot give or take this role? Discord: MANAGE_ROLES, then a role strictly
        below the bot's highest (the owner is exempt), never @everyone or a managed role."""
        if not self.bot_guild_permissions(guild_id) & MANAGE_ROLES:
            _refuse(*MISSING_PERMISSIONS)
        role = self._role(guild_id, role_id)
        if role is None:
            _refuse(*UNKNOWN_ROLE)
        if role_id == guild_id or role["managed"]:
            _refuse(*MISSING_PERMISSIONS)
        if self._bot_outranks(guild_id, role):
            return
        _refuse(*MISSING_PERMISSIONS)

    def _bot_outranks(self, guild_id: int, role: JSON) -> bool:
        if int(self.guilds[guild_id]["owner_id"]) == self.bot_user_id:
            return True
        return _rank(role) < _rank(self.top_role(guild_id, self.bot_user_id))

    def _check_nick(self, guild_id: int, user_id: int) -> None:
        perms = self.bot_guild_permissions(guild_id)
        if user_id == self.bot_user_id:  # its own nick: CHANGE_NICKNAME is enough
            if not perms & (CHANGE_NICKNAME | MANAGE_NICKNAMES):
                _refuse(*MISSING_PERMISSIONS)
            return
        if not perms & MANAGE_NICKNAMES or int(self.guilds[guild_id]["owner_id"]) == user_id:
            _refuse(*MISSING_PERMISSIONS)
        if not self._bot_outranks(guild_id, self.top_role(guild_id, user_id)):
            _refuse(*MISSING_PERMISSIONS)

    def _record(
        self,
        q: _Req,
        method: str,
        guild_id: int,
        user_id: int,
        *,
        role_id: int | None = None,
        nick: str | None = None,
        roles: frozenset[int] | None = None,
    ) -> None:
        reason = q.headers.get("X-Audit-Log-Reason")
        change = MemberChange(
            method=method,
            guild_id=guild_id,
            user_id=user_id,
            role_id=role_id,
            nick=nick,
            reason=unquote(reason) if reason is not None else None,
            at=time.monotonic(),
            roles=roles,
        )
        self.member_changes.append(change)

    async def _list_members(self, q: _Req) -> list[JSON]:
        guild_id = self._guild_id(q)
        try:
            limit, after = int(q.query.get("limit", 1)), int(q.query.get("after", 0))
        except ValueError:
            limit, after = 0, 0
        if not 1 <= limit <= 1000:
            error = {"code": "NUMBER_TYPE_MAX", "message": "Must be between 1 and 1000."}
            _refuse(400, "Invalid Form Body", 50035, {"limit": {"_errors": [error]}})
        ids = sorted(uid for uid in self.members[guild_id] if uid > after)
        return [self.members[guild_id][uid] for uid in ids[:limit]]

    async def _put_member_role(self, q: _Req) -> None:
        await self._change_role(q, add=True)

    async def _delete_member_role(self, q: _Req) -> None:
        await self._change_role(q, add=False)

    async def _change_role(self, q: _Req, *, add: bool) -> None:
        guild_id = self._guild_id(q)
        user_id, member = self._target(guild_id, q.params["uid"])
        role_id = int(q.params["rid"])
        self._check_role(guild_id, role_id)
        held = str(role_id) in member["roles"]
        # Idempotent like Discord: adding a held role (or removing one not held) succeeds
        # and changes nothing, so no GUILD_MEMBER_UPDATE follows.
        if add and not held:
            member["roles"] = [*member["roles"], str(role_id)]
        elif not add and held:
            member["roles"] = [r for r in member["roles"] if r != str(role_id)]
        self._record(q, "PUT" if add else "DELETE", guild_id, user_id, role_id=role_id)
        if add != held:
            self._member_updated(guild_id, member)

    async def _patch_member(self, q: _Req) -> JSON:
        guild_id = self._guild_id(q)
        user_id, member = self._target(guild_id, q.params["uid"])
        body = q.body or {}
        nick = body.get("nick") or None  # "" and null both reset
        if nick is not None and (not isinstance(nick, str) or len(nick) > NICK_MAX):
            message = f"Must be between 1 and {NICK_MAX} in length."
            error = {"code": "BASE_TYPE_BAD_LENGTH", "message": message}
            _refuse(400, "Invalid Form Body", 50035, {"nick": {"_errors": [error]}})
        roles: list[str] | None = None
        if "roles" in body:
            if not self.bot_guild_permissions(guild_id) & MANAGE_ROLES:
                _refuse(*MISSING_PERMISSIONS)
            roles = list(dict.fromkeys(str(r) for r in body["roles"] or []))
            # Only what changes is checked: a member may keep a role above the bot.
            for role_id in sorted(set(roles) ^ set(member["roles"])):
                self._check_role(guild_id, int(role_id))
        if "nick" in body:
            self._check_nick(guild_id, user_id)
        changed = False
        if "nick" in body and member["nick"] != nick:
            member["nick"], changed = nick, True
        if roles is not None and set(roles) != set(member["roles"]):
            member["roles"], changed = roles, True
        new_roles = None if roles is None else frozenset(int(r) for r in roles)
        self._record(q, "PATCH", guild_id, user_id, nick=nick, roles=new_roles)
        if changed:
            self._member_updated(guild_id, member)
        return member
