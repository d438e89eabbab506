"""The Clash of Clans API client: coc.py, wrapped so every failure is a domain error.

Commands and the tracker call ``ClashApi``; they never see coc.py or aiohttp
exceptions. Raw JSON is used throughout (see ``bot.profile``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import aiohttp
import coc
from coc.http import Route

from bot.api_throttle import WallClockThrottler
from bot.errors import (
    ApiAccessDenied,
    ApiMaintenance,
    ApiRateLimited,
    ApiUnavailable,
    ClanNotFound,
    InvalidTag,
    PlayerNotFound,
    WarLogPrivate,
)
from bot.settings import Settings
from bot.timeutil import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

# coc.py retries 5xx and timeouts itself (about 25 s in all); a user should not
# wait that long, so a command's request is cut off after this many seconds.
COMMAND_DEADLINE = 12.0
# An email log-in re-keys on ``accessDenied.invalidIp``. More than this many
# re-keys a minute means coc.py 4.0's loop after an IP change (about 30
# developer-site log-ins in 5 s, never recovering): stop it and build a fresh
# client instead.
MAX_REKEYS_PER_MINUTE = 3
# The longest cache age taken from an answer (the planner's blank intervals follow it).
MAX_CACHE_AGE = 900.0


def fetched_at(data: Mapping[str, Any]) -> datetime:
    """When the API answered with ``data``: the observation time of a command's lookup.

    coc.py serves repeated lookups from its cache (up to the API's max-age, 60 s
    for players) and stamps each body with the epoch time of its real fetch.
    Stamping a cached body with the present instead made an old profile look
    newer than the tracker's last poll, writing a bogus change back to history.
    """
    stamp = data.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        return datetime.fromtimestamp(stamp, UTC)
    return utcnow()


def _object(data: object) -> dict[str, Any]:
    """A 200 body that is a player or clan object, else ``ApiUnavailable``.

    coc.py hands back a non-JSON 200 (a proxy's HTML page) as a string and an
    empty body as ``{}``; parsing those raised AttributeError or ValueError,
    which commands answered with "Something went wrong" and the tracker logged
    as an unexpected error with a traceback on every poll.
    """
    if isinstance(data, dict) and isinstance(data.get("tag"), str) and data["tag"]:
        return data
    kind = "empty object" if isinstance(data, dict) else type(data).__name__
    raise ApiUnavailable(f"unreadable body ({kind})", answered=True)


def _max_age(data: object) -> float | None:
    """The answer's Cache-Control max-age, which coc.py leaves in the body it returns."""
    if isinstance(data, dict):
        age = data.get("_response_retry")
        if isinstance(age, int | float) and not isinstance(age, bool) and age > 0:
            return float(age)
    return None


def _map_error(exc: BaseException, tag: str, *, clan: bool = False) -> Exception:
    if isinstance(exc, coc.NotFound):
        return ClanNotFound(tag) if clan else PlayerNotFound(tag)
    if isinstance(exc, coc.Maintenance):
        return ApiMaintenance()
    if isinstance(exc, coc.Forbidden):
        reason = exc.reason if isinstance(getattr(exc, "reason", None), str) else "accessDenied"
        return ApiAccessDenied(reason)
    if isinstance(exc, coc.InvalidArgument):
        return InvalidTag(tag)
    if isinstance(exc, coc.HTTPException) and getattr(exc, "status", None) == 429:
        return ApiRateLimited()
    if isinstance(exc, coc.GatewayError | coc.HTTPException):
        status = getattr(exc, "status", None)
        if status is None:  # coc.py's own "timed out" after its retries
            return ApiUnavailable("TimeoutError")
        return ApiUnavailable(f"HTTP {status}", answered=True)
    if isinstance(exc, ValueError):
        # A body that is not JSON (coc.py hands back text): an answer, a bad one.
        return ApiUnavailable(type(exc).__name__, answered=True)
    return ApiUnavailable(type(exc).__name__)


class ClashApi:
    """A thin, injectable facade over one ``coc.Client``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: coc.Client | None = None
        self._rebuild_lock = asyncio.Lock()
        self._rekeys: list[float] = []
        self._needs_rebuild = False
        # The longest cache age each kind of endpoint answered with: the API's max-age
        # counts down to its cache's next refresh, so one answer may say 2 s; the most
        # seen is the cache's length (the budget planner's blank intervals).
        self.cache_ages: dict[str, float] = {}

    def _note_age(self, kind: str, data: object) -> None:
        age = _max_age(data)
        if age is not None and age > self.cache_ages.get(kind, 0.0):
            # Bounded: one odd answer (a caching proxy's) must not slow a kind for the
            # rest of the process's life. The recorded ages are 60 to 600 s.
            self.cache_ages[kind] = min(age, MAX_CACHE_AGE)

    @property
    def client(self) -> coc.Client:
        if self._client is None:
            raise RuntimeError("ClashApi.start() has not been called")
        return self._client

    def _new_client(self) -> coc.Client:
        s = self._settings
        return coc.Client(
            key_count=s.coc_key_count,
            key_names=s.coc_key_name,
            throttle_limit=s.coc_throttle_limit,
            base_url=s.coc_api_base_url,
            timeout=10.0,
            load_game_data=coc.LoadGameData(never=True),
            throttler=WallClockThrottler,
        )

    async def start(self) -> None:
        """Log in: tokens make no request; email logs in to the developer site."""
        client = self._new_client()
        s = self._settings
        if s.coc_tokens:
            await client.login_with_tokens(*(t.get() for t in s.coc_tokens))
        else:
            assert s.coc_email and s.coc_password
            try:
                await client.login(s.coc_email, s.coc_password.get())
            except coc.InvalidCredentials as exc:
                await client.close()
                raise ApiAccessDenied("invalidCredentials") from exc
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                # The developer site (where email log-in creates keys) is unreachable.
                await client.close()
                raise ApiUnavailable(f"developer site: {type(exc).__name__}") from exc
            self._guard_rekeying(client)
        self._client = client

    async def close(self) -> None:
        if self._client is not None and self._client.http is not None:
            await self._client.close()
        self._client = None

    def _guard_rekeying(self, client: coc.Client) -> None:
        http = client.http
        original = http.initialise_keys

        async def guarded() -> Any:
            now = time.monotonic()
            self._rekeys = [t for t in self._rekeys if now - t < 60.0]
            self._rekeys.append(now)
            if len(self._rekeys) > MAX_REKEYS_PER_MINUTE:
                self._needs_rebuild = True
                log.warning(
                    "Clash of Clans keys were re-created %d times in a minute "
                    "(accessDenied.invalidIp): rebuilding the client",
                    len(self._rekeys),
                )
                raise ApiAccessDenied("accessDenied.invalidIp")
            return await original()

        http.initialise_keys = guarded

    async def _rebuild(self) -> None:
        async with self._rebuild_lock:
            if not self._needs_rebuild:
                return
            old = self._client
            self._client = None
            if old is not None:
                await old.close()
            self._rekeys.clear()
            self._needs_rebuild = False
            await self.start()

    async def _call(
        self,
        factory: Callable[[], Awaitable[T]],
        tag: str,
        *,
        clan: bool = False,
        deadline: float | None = COMMAND_DEADLINE,
    ) -> T:
        try:
            # asyncio.timeout, not wait_for: no extra task per request (tracker hot path).
            async with asyncio.timeout(deadline):
                return await factory()
        except (
            TimeoutError,
            coc.ClashOfClansException,
            aiohttp.ClientError,
            OSError,
            ValueError,
        ) as exc:
            error = _map_error(exc, tag, clan=clan)
        except ApiAccessDenied as exc:
            error = exc
        if self._needs_rebuild:
            try:
                await self._rebuild()
            except Exception:
                log.exception("Rebuilding the Clash of Clans client failed")
        raise error

    async def get_player(
        self, tag: str, *, fresh: bool = False, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any]:
        """The raw ``GET /players/{tag}`` body.

        ``fresh`` bypasses coc.py's cache both ways: the tracker must see the
        newest data and must not fill the cache with thousands of profiles.
        """
        data = await self._call(
            lambda: self.client.http.get_player(
                tag, lookup_cache=not fresh, update_cache=not fresh
            ),
            tag,
            deadline=deadline,
        )
        self._note_age("player", data)
        return _object(data)

    async def get_clan(
        self, tag: str, *, fresh: bool = False, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any]:
        data = await self._call(
            lambda: self.client.http.get_clan(tag, lookup_cache=not fresh, update_cache=not fresh),
            tag,
            clan=True,
            deadline=deadline,
        )
        self._note_age("clan", data)
        return _object(data)

    # -- wars: raw bodies without a top-level tag; a private war log is its own error --

    async def _war_call(
        self,
        factory: Callable[[], Awaitable[Any]],
        clan_tag: str,
        *,
        missing_is_none: bool,
        deadline: float | None,
    ) -> dict[str, Any] | None:
        try:
            data = await self._call(factory, clan_tag, clan=True, deadline=deadline)
        except ClanNotFound:
            if missing_is_none:
                return None
            raise
        except ApiAccessDenied as exc:
            # On a war endpoint a plain accessDenied is the clan's private war log; a key
            # bound to another IP is still the key's problem.
            if exc.reason == "accessDenied":
                raise WarLogPrivate(clan_tag) from exc
            raise
        if not isinstance(data, dict):
            raise ApiUnavailable(f"unreadable body ({type(data).__name__})", answered=True)
        return data

    async def get_current_war(
        self, clan_tag: str, *, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any]:
        """The raw ``/clans/{tag}/currentwar`` body (``state`` notInWar when not at war)."""
        data = await self._war_call(
            lambda: self.client.http.get_clan_current_war(
                clan_tag, realtime=False, lookup_cache=False, update_cache=False
            ),
            clan_tag,
            missing_is_none=False,
            deadline=deadline,
        )
        assert data is not None
        self._note_age("war", data)
        return data

    async def get_league_group(
        self, clan_tag: str, *, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any] | None:
        """The clan's CWL group, or None when it is not in the league this season (404)."""
        return await self._war_call(
            lambda: self.client.http.get_clan_war_league_group(
                clan_tag, realtime=False, lookup_cache=False, update_cache=False
            ),
            clan_tag,
            missing_is_none=True,
            deadline=deadline,
        )

    async def get_league_war(
        self, war_tag: str, *, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any] | None:
        """One CWL round war by its war tag, or None if the API does not know it."""
        return await self._war_call(
            lambda: self.client.http.get_cwl_wars(
                war_tag, realtime=False, lookup_cache=False, update_cache=False
            ),
            war_tag,
            missing_is_none=True,
            deadline=deadline,
        )

    async def get_war_log(
        self, clan_tag: str, *, limit: int = 10, deadline: float | None = COMMAND_DEADLINE
    ) -> list[dict[str, Any]]:
        """The clan's last ``limit`` war results, newest first (no attacks in them)."""
        data = await self._war_call(
            lambda: self.client.http.get_clan_war_log(
                clan_tag, limit=limit, lookup_cache=False, update_cache=False
            ),
            clan_tag,
            missing_is_none=False,
            deadline=deadline,
        )
        assert data is not None
        items = data.get("items")
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    async def get_raid_seasons(
        self, clan_tag: str, *, limit: int = 2, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any]:
        """The raw ``/clans/{tag}/capitalraidseasons`` body: the clan's last ``limit``
        raid weekends, newest first."""
        data = await self._call(
            lambda: self.client.http.get_clan_raid_log(
                clan_tag, limit=limit, lookup_cache=False, update_cache=False
            ),
            clan_tag,
            clan=True,
            deadline=deadline,
        )
        if not isinstance(data, dict):
            raise ApiUnavailable(f"unreadable body ({type(data).__name__})", answered=True)
        self._note_age("raid", data)
        return data

    # -- ranked: coc.py 4.0 has no methods for these routes, so they go through its HTTP
    # client as raw JSON (its throttle, keys and retries still apply).

    async def _player_route(
        self, tag: str, route: str, *, deadline: float | None, cached: bool
    ) -> dict[str, Any]:
        http = self.client.http
        path = f"/players/{tag}/{route}"
        data = await self._call(
            lambda: http.request(
                Route("GET", http.base_url, path),
                lookup_cache=cached,
                update_cache=cached,
            ),
            tag,
            deadline=deadline,
        )
        if not isinstance(data, dict):
            raise ApiUnavailable(f"unreadable body ({type(data).__name__})", answered=True)
        return data

    async def get_battle_log(
        self, tag: str, *, deadline: float | None = COMMAND_DEADLINE, cached: bool = False
    ) -> dict[str, Any]:
        """The raw ``/players/{tag}/battlelog`` body: up to 50 battles, newest first."""
        data = await self._player_route(tag, "battlelog", deadline=deadline, cached=cached)
        self._note_age("battlelog", data)
        return data

    async def get_league_history(
        self, tag: str, *, deadline: float | None = COMMAND_DEADLINE, cached: bool = False
    ) -> dict[str, Any]:
        """The raw ``/players/{tag}/leaguehistory`` body: the player's past ranked weeks."""
        return await self._player_route(tag, "leaguehistory", deadline=deadline, cached=cached)

    async def get_league_tiers(
        self, *, deadline: float | None = COMMAND_DEADLINE
    ) -> dict[str, Any]:
        """The raw ``/leaguetiers`` body (cached by coc.py for its max-age)."""
        http = self.client.http
        data = await self._call(
            lambda: http.request(Route("GET", http.base_url, "/leaguetiers")),
            "leaguetiers",
            deadline=deadline,
        )
        if not isinstance(data, dict):
            raise ApiUnavailable(f"unreadable body ({type(data).__name__})", answered=True)
        return data

    async def verify_token(self, tag: str, token: str) -> bool:
        """True when ``token`` is the player's current in-game API token."""
        data = await self._call(
            lambda: self.client.http.verify_player_token(tag, token, lookup_cache=False), tag
        )
        return isinstance(data, dict) and data.get("status") == "ok"

    async def ping(self) -> float:
        """One cheap authenticated request; returns its latency in seconds.

        A 404 still proves the key was accepted (only 403 means it was not).
        """
        start = time.perf_counter()
        try:
            await self._call(
                lambda: self.client.http.search_locations(limit=1, lookup_cache=False), "#0"
            )
        except (PlayerNotFound, InvalidTag):
            pass
        return time.perf_counter() - start
