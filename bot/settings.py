"""Settings: ``.env`` loaded with python-dotenv, then one typed, frozen object.

Every problem is collected before anything starts so that an operator fixes
their ``.env`` once, not once per missing value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_COC_API = "https://api.clashofclans.com/v1"
# TRACK_INTERVAL_SECONDS left blank: the clan endpoint's cache age. Asking sooner returns
# the same answer; the budget planner stretches it when the keys cannot keep up.
PLANNED_TRACK_INTERVAL = 120.0


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__


class SettingsError(Exception):
    """Raised with every problem found; the message points at .env.example."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"The bot cannot start: {len(problems)} setting problem(s):\n{lines}\n"
            "See .env.example for every setting and its meaning."
        )


@dataclass(frozen=True, slots=True)
class Settings:
    discord_token: Secret
    discord_guild_id: int | None = None
    discord_api_base_url: str | None = None
    discord_gateway_url: str | None = None
    # Discord sharding: the total number of shards, and those this process runs (None:
    # all of them). Unset SHARD_COUNT: one unsharded connection.
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    coc_tokens: tuple[Secret, ...] = ()
    coc_email: str | None = None
    coc_password: Secret | None = None
    coc_key_name: str = "coc-tracker-bot"
    coc_key_count: int = 1
    coc_throttle_limit: int = 30
    coc_api_base_url: str = DEFAULT_COC_API
    database_url: Secret | None = None
    data_dir: Path = Path("data")
    track_interval_seconds: float = PLANNED_TRACK_INTERVAL
    # Wars of tracked clans (default: TRACK_INTERVAL_SECONDS).
    war_interval_seconds: float = PLANNED_TRACK_INTERVAL
    # Raid weekends of tracked clans (default: TRACK_INTERVAL_SECONDS).
    raid_interval_seconds: float = PLANNED_TRACK_INTERVAL
    # Battle logs of tracked players who played within a day (default: TRACK_INTERVAL_SECONDS).
    battlelog_interval_seconds: float = PLANNED_TRACK_INTERVAL
    # The intervals left blank ("track", "war", "raid", "battlelog"): never below the
    # endpoint's cache age. One set explicitly is honoured, also below it. Either is
    # stretched when the API budget cannot keep up (bot.tracker.budget).
    planned_intervals: frozenset[str] = frozenset()
    # How often every syncing guild's members are all re-checked (changes sync at once).
    role_sync_interval_seconds: float = 3600.0
    # How often each auto-updating board is re-rendered (edited only when it changed).
    board_refresh_seconds: float = 300.0
    # A month's clan games maximum per player (the game's is 4,000 in most months).
    clan_games_max: int = 4000
    tracker_enabled: bool = True
    tracker_concurrency: int = 32
    pool_min_size: int = 2
    pool_max_size: int = 10
    pool_close_timeout: float = 3.0
    db_command_timeout: float = 60.0
    log_level: str = "INFO"
    # uvloop when installed (bot.runtime); UVLOOP=false keeps asyncio's own loop.
    use_uvloop: bool = True

    def secret_values(self) -> tuple[str, ...]:
        """Every secret's text, for the log filter that redacts them."""
        values = [self.discord_token.get(), *(t.get() for t in self.coc_tokens)]
        if self.coc_password:
            values.append(self.coc_password.get())
        if self.database_url:
            password = urlsplit(self.database_url.get()).password
            if password:
                values.append(password)
        return tuple(v for v in values if len(v) >= 4)


class _Reader:
    """Reads raw environment strings and records what is wrong with them."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            self.problems.append(f"{name} must be a whole number, got {raw!r}")
            return default
        if not low <= value <= high:
            self.problems.append(f"{name} must be between {low} and {high}, got {value}")
            return default
        return value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            self.problems.append(f"{name} must be a number, got {raw!r}")
            return default
        if not (low < value <= high):
            self.problems.append(f"{name} must be greater than {low} and at most {high}, got {raw}")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = self.text(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problems.append(f"{name} must be true or false, got {raw!r}")
        return default

    def url(self, name: str, schemes: tuple[str, ...], *, secret: bool = False) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        shown = "(hidden)" if secret else repr(raw)
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            self.problems.append(f"{name} is not a valid URL: {shown}")
            return None
        if parts.scheme not in schemes:
            self.problems.append(
                f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, "
                f"got {shown}"
            )
            return None
        if not parts.netloc and not (parts.scheme.startswith("postgres") and parts.query):
            self.problems.append(f"{name} has no host: {shown}")
            return None
        return raw


MAX_SHARDS = 10_000


def _shards(r: _Reader) -> tuple[int | None, tuple[int, ...] | None]:
    """SHARD_COUNT and SHARD_IDS: each id a shard of the count, none twice."""
    count = r.integer("SHARD_COUNT", None, 1, MAX_SHARDS)
    raw = r.text("SHARD_IDS")
    if raw is None:
        return count, None
    parts = [p.strip() for p in raw.split(",")]
    try:
        ids = tuple(int(p) for p in parts)
    except ValueError:
        r.problems.append(
            f"SHARD_IDS must be comma-separated whole numbers (e.g. 0,1), got {raw!r}"
        )
        return count, None
    if r.text("SHARD_COUNT") is None:
        r.problems.append(
            "SHARD_IDS is set without SHARD_COUNT: set SHARD_COUNT to the total number "
            "of shards (the same in every process)"
        )
        return None, None
    if count is None:  # SHARD_COUNT itself is wrong, and named already
        return None, None
    bad = [i for i in ids if not 0 <= i < count]
    if bad:
        r.problems.append(
            f"SHARD_IDS must be shards of SHARD_COUNT={count}, from 0 to {count - 1}, got "
            + ", ".join(str(i) for i in bad)
        )
        return count, None
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        r.problems.append(
            "SHARD_IDS names a shard more than once: " + ", ".join(str(i) for i in twice)
        )
        return count, None
    return count, ids


def load_settings(env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
    """Read settings from ``env`` (default: ``.env`` then the process environment).

    Values already in the environment win over ``.env``, so a deployment can
    override one setting without editing the file.
    """
    if env is None:
        if dotenv:
            from dotenv import find_dotenv, load_dotenv

            load_dotenv(find_dotenv(usecwd=True), override=False)
        env = os.environ
    r = _Reader(env)

    token = r.text("DISCORD_TOKEN")
    if token is None:
        r.problems.append(
            "DISCORD_TOKEN is missing: the bot token from the Discord developer portal"
        )

    guild_id = r.integer("DISCORD_GUILD_ID", None, 1, 2**63 - 1)
    api_base = r.url("DISCORD_API_BASE_URL", ("http", "https"))
    gateway = r.url("DISCORD_GATEWAY_URL", ("ws", "wss", "http", "https"))
    shard_count, shard_ids = _shards(r)

    tokens = tuple(Secret(t.strip()) for t in (r.text("COC_TOKENS") or "").split(",") if t.strip())
    email = r.text("COC_EMAIL")
    password = r.text("COC_PASSWORD")
    if not tokens and not (email and password):
        if email and not password:
            r.problems.append(
                "COC_PASSWORD is missing: COC_EMAIL needs its developer-site password"
            )
        elif password and not email:
            r.problems.append("COC_EMAIL is missing: COC_PASSWORD needs its developer-site email")
        else:
            r.problems.append(
                "no Clash of Clans credentials: set COC_TOKENS, or COC_EMAIL and COC_PASSWORD"
            )
    key_count = r.integer("COC_KEY_COUNT", 1, 1, 10)
    throttle = r.integer("COC_THROTTLE_LIMIT", 30, 1, 100_000)
    coc_base = r.url("COC_API_BASE_URL", ("http", "https")) or DEFAULT_COC_API

    database_url = r.url("DATABASE_URL", ("postgres", "postgresql"), secret=True)
    pool_min = r.integer("POOL_MIN_SIZE", 2, 0, 1000)
    # At least 2: the feed sender holds one connection for LISTEN, and with a pool
    # of 1 every command waited forever for the other (no reply, nothing logged).
    pool_max = r.integer("POOL_MAX_SIZE", 10, 2, 1000)
    if pool_min is not None and pool_max is not None and pool_min > pool_max:
        r.problems.append(f"POOL_MIN_SIZE ({pool_min}) is larger than POOL_MAX_SIZE ({pool_max})")

    level = (r.text("LOG_LEVEL") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        r.problems.append(
            f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {level!r}"
        )
        level = "INFO"

    track_interval = r.number("TRACK_INTERVAL_SECONDS", PLANNED_TRACK_INTERVAL, 0.0, 86_400 * 7)
    # Blank intervals are planned; one defaulting to an explicit TRACK_INTERVAL_SECONDS
    # is explicit too (the operator chose that pace).
    planned = {
        name
        for name, var in (
            ("track", "TRACK_INTERVAL_SECONDS"),
            ("war", "WAR_INTERVAL_SECONDS"),
            ("raid", "RAID_INTERVAL_SECONDS"),
            ("battlelog", "BATTLELOG_INTERVAL_SECONDS"),
        )
        if r.text(var) is None and r.text("TRACK_INTERVAL_SECONDS") is None
    }
    settings_kwargs = dict(
        discord_guild_id=guild_id,
        discord_api_base_url=api_base,
        discord_gateway_url=gateway,
        shard_count=shard_count,
        shard_ids=shard_ids,
        coc_tokens=tokens,
        coc_email=email,
        coc_password=Secret(password) if password else None,
        coc_key_name=r.text("COC_KEY_NAME") or "coc-tracker-bot",
        coc_key_count=key_count or 1,
        coc_throttle_limit=throttle or 30,
        coc_api_base_url=coc_base.rstrip("/"),
        database_url=Secret(database_url) if database_url else None,
        data_dir=Path(r.text("DATA_DIR") or "data"),
        track_interval_seconds=track_interval,
        war_interval_seconds=r.number("WAR_INTERVAL_SECONDS", track_interval, 0.0, 86_400 * 7),
        raid_interval_seconds=r.number("RAID_INTERVAL_SECONDS", track_interval, 0.0, 86_400 * 7),
        battlelog_interval_seconds=r.number(
            "BATTLELOG_INTERVAL_SECONDS", track_interval, 0.0, 86_400 * 7
        ),
        planned_intervals=frozenset(planned),
        role_sync_interval_seconds=r.number("ROLE_SYNC_INTERVAL_SECONDS", 3600.0, 0.0, 86_400 * 7),
        board_refresh_seconds=r.number("BOARD_REFRESH_SECONDS", 300.0, 0.0, 86_400),
        clan_games_max=r.integer("CLAN_GAMES_MAX", 4000, 1, 100_000) or 4000,
        tracker_enabled=r.boolean("TRACKER_ENABLED", True),
        tracker_concurrency=r.integer("TRACKER_CONCURRENCY", 32, 1, 1000) or 32,
        pool_min_size=pool_min if pool_min is not None else 2,
        pool_max_size=pool_max or 10,
        pool_close_timeout=r.number("POOL_CLOSE_TIMEOUT", 3.0, 0.0, 3600.0),
        db_command_timeout=r.number("DB_COMMAND_TIMEOUT", 60.0, 0.0, 86_400.0),
        log_level=level,
        use_uvloop=r.boolean("UVLOOP", True),
    )
    if r.problems:
        raise SettingsError(r.problems)
    return Settings(discord_token=Secret(token or ""), **settings_kwargs)  # type: ignore[arg-type]


def data_dir_from_env() -> Path:
    """DATA_DIR alone, for the health check (which must not need every setting)."""
    from dotenv import find_dotenv, load_dotenv

    load_dotenv(find_dotenv(usecwd=True), override=False)
    return Path(os.environ.get("DATA_DIR", "").strip() or "data")
