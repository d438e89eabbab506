"""Hostile input: every option of every command, through the fake Discord, to the real bot.

The commands and their options are read from the payload the bot synced to the
fake Discord, so a new command or option is covered without touching this file
(an option type with no strategy here fails loudly). Hypothesis generates the
values: SQL fragments, 5 KB strings, NUL and control characters, emoji, RTL
marks, markdown and mention syntax, integers at and past their bounds, unknown
users and channels with and without resolved data, choices that are not in the
list, options left out or made up, from a guild or a DM, with and without
Manage Server.

Hypothesis and the bot do not share an event loop well, so the examples are
drawn first (``derandomize=True``, no example database: the same inputs on
every run) and then sent, one after another, to one bot on one fresh database.
For every interaction:

* the first callback (reply or defer) arrives within Discord's 3 seconds, and
  a final reply arrives;
* no reply is the "unexpected error" one and no ERROR is logged (an expected
  bad input is refused, not a bug);
* every message would be accepted by Discord (content, embed and autocomplete
  limits) and carries ``allowed_mentions`` with nothing to ping;
* no reply echoes a control character;
* nothing is stored wrongly: every tag in the database is a valid tag of a
  player or clan that exists, every row belongs to the guild and users that
  sent the commands, a feed only points at this guild's text channels;
* the bot is alive afterwards: a normal command still works and the gateway
  session was never lost.

``test_hostile_input_quick`` runs a few examples per command with the normal
suite; ``test_hostile_input_heavy`` (``-m heavy``) runs many and prints the
figures that RELIABILITY.md quotes.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.tree import UNEXPECTED
from db import feeds, guild_tracking, links
from tests.db.test_history import seed_player
from tests.fakes.coc_api import make_clan, make_player
from tests.fakes.discord_members import role_payload
from tests.fakes.discord_server import Interaction, Message
from tests.harness import ADMINISTRATOR, GUILD_ID, MANAGE_GUILD, Harness, opt, running_bot, sub

JSON = dict[str, Any]

ACK_LIMIT_S = 3.0  # Discord drops an interaction that is not acknowledged within 3 s
REPLY_TIMEOUT_S = 10.0
ALL_PERMISSIONS = (1 << 53) - 1
# A real tag: 3 to 12 characters of the tag alphabet after '#', never starting with 0.
TAG_RE = r"^#[289PYLQGRJCUV][0289PYLQGRJCUV]{2,11}$"
# Control characters a reply must not echo (newline and tab are layout).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

TEXT_CHANNEL = GUILD_ID + 1  # the fake guild's #general
VOICE_CHANNEL = GUILD_ID + 2
NEWS_CHANNEL = GUILD_ID + 3
FEED_CHANNELS = (TEXT_CHANNEL, NEWS_CHANNEL)  # where a feed may point: text or news, this guild
OTHER_GUILD = 7000  # the bot is in it too; commands never come from it
OTHER_CHANNEL = OTHER_GUILD + 1
INVOKERS = (42, 7, 8)
BOT_USER = 1100

HOSTILE_NAME = "@everyone @here <@&5000> <@42> **bold** ||x|| `\u202etick"
KNOWN_PLAYER = "#2PP0JCCL"  # exists, has the hostile name, its API token is known
PLAIN_PLAYER = "#9P9PRYQ0"
CLAN_MEMBER = "#8QU8J9LP"
KNOWN_CLAN = "#2YLPCG8V"  # exists, hostile name, CLAN_MEMBER in it
UNKNOWN_TAG = "#QQQQQQQQ"  # a valid tag the API does not know (404)
PLAYER_TAGS = (KNOWN_PLAYER, PLAIN_PLAYER, CLAN_MEMBER)
KNOWN_TOKEN = "abcd1234"

# ---- the values ---------------------------------------------------------------------------

SQL = [
    "'; DROP TABLE players; --",
    "#2PP0JCCL'; DELETE FROM links; --",
    "' OR '1'='1",
    '"; TRUNCATE tracked_players; --',
    "$1",
    "%s%s%s%n",
    "{0}{tag!r}",
    "\\x00",
    "E'\\\\'",
    "1; SELECT pg_sleep(10)",
]
MENTIONS = [
    "@everyone",
    "@here",
    "<@42>",
    "<@!42>",
    "<@&5000>",
    "<#5001>",
    "</player:1>",
    "<t:0:R>",
    "@\u200beveryone",
    "＠everyone",
]
MARKDOWN = [
    "**bold** __under__ ~~strike~~ ||spoiler||",
    "`code` ```block```",
    "[click](https://example.invalid)",
    "> quote\n# Heading\n- item",
    "\\*escaped\\*",
    "_" * 40,
]
UNICODE = [
    "\u202e#2PP0JCCL",
    "\u200f\u200e\u202b\u202c",
    "\u200b\u200c\u200d\ufeff",
    "🏆🔥",
    "👨\u200d👩\u200d👧\u200d👦",
    "Z\u0334\u031b\u0316a\u0338l\u0335g\u0337o\u0336",
    "ＡＢＣ＃２ＰＰ",
    "İıßﬁ",
    "\U0010fffd",
    "\ufffd",
]
CONTROL = [
    "\x00",
    "#2PP0JCCL\x00",
    "\x00#2PP0JCCL",
    "\r\n\t",
    "\x07\x1b[31m",
    "\x7f",
    "\x1f\x0b\x0c",
]
MISC = ["", " ", "\n", "NaN", "null", "None", "-1", "1e309", "0x10", "../../etc/passwd"]
FRAGMENTS = SQL + MENTIONS + MARKDOWN + UNICODE + CONTROL + MISC

_DECORATIONS: list[Callable[[str], str]] = [
    lambda t: t,
    str.lower,
    lambda t: t[1:],
    lambda t: f"  {t}  ",
    lambda t: t.replace("0", "O"),
    lambda t: "#" + t,
    lambda t: f"`{t}`",
    lambda t: f"{t}\x00",
    lambda t: f"\u202e{t}",
    lambda t: f"{t} @everyone",
    lambda t: f"<@42>{t}",
    lambda t: t + "'; DROP TABLE links; --",
    lambda t: t[:-1],
    lambda t: t + t[1:],
    lambda t: " ".join(t),
]
tag_like = st.builds(
    lambda tag, decorate: decorate(tag),
    st.sampled_from([*PLAYER_TAGS, KNOWN_CLAN, UNKNOWN_TAG]),
    st.sampled_from(_DECORATIONS),
)
alphabet_soup = st.text(alphabet="#0289PYLQGRJCUVOo ", max_size=16)
big_text = st.builds(
    lambda fragment, size: ((fragment or "x") * (size // max(1, len(fragment)) + 1))[:size],
    st.sampled_from([*FRAGMENTS, "#P", "Q"]),
    st.sampled_from([101, 2001, 5 * 1024, 6000, 10_000]),
)
hostile_text = st.one_of(
    st.sampled_from(FRAGMENTS),
    tag_like,
    alphabet_soup,
    big_text,
    st.text(max_size=40),  # any code point but surrogates: control characters included
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8), tag_like), min_size=2, max_size=4
    ).map("".join),
)
# Names Discord resolves for users and channels: short and free of control characters
# (Discord's limits), anything else goes.
_NAME_CHARS = st.characters(exclude_categories=("Cs", "Cc"))
hostile_name = st.one_of(
    st.sampled_from([f for f in FRAGMENTS if not _CONTROL.search(f)]),
    st.text(alphabet=_NAME_CHARS, min_size=1, max_size=32),
).map(lambda s: s[:32] or "x")
snowflake = st.integers(min_value=1, max_value=2**63 - 1)


# Values that mean something to this bot, so that generated input also reaches the
# paths past validation: tags of players and a clan that exist, the known API token,
# event kinds. Looked up by option name; any option also gets hostile text.
PLAUSIBLE: dict[str, list[str]] = {
    "tag": [*PLAYER_TAGS, KNOWN_CLAN, UNKNOWN_TAG, KNOWN_PLAYER.lower()],
    "token": [KNOWN_TOKEN, f" {KNOWN_TOKEN} "],
    "events": ["all", "town hall, hero", "trophies", "clan_join,clan_leave", "hero, hero"],
    "value": ["16", "TH17", "19", "Legend League", "legend league", KNOWN_CLAN, "-"],
    "format": ["{name} | TH{th}", "{name} [{clan}]", "{nick}", "{name.__class__}", "x" * 40],
}


def _integers(option: JSON) -> st.SearchStrategy[int]:
    low, high = option.get("min_value"), option.get("max_value")
    edges = {0, 1, -1, -(2**53), 2**53, 2**63, -(2**63) - 1, 10**30}
    if low is not None:
        edges |= {low - 1, low}
    if high is not None:
        edges |= {high, high + 1}
    near = st.integers(
        min_value=(low if low is not None else -1000) - 50,
        max_value=(high if high is not None else 1000) + 50,
    )
    return st.one_of(st.sampled_from(sorted(edges)), near, st.integers())


def _now() -> str:
    return "2026-01-01T00:00:00+00:00"


def _user(user_id: int, name: str, global_name: str | None) -> JSON:
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "public_flags": 0,
    }


def _member(nick: str | None) -> JSON:
    return {
        "roles": [],
        "nick": nick,
        "avatar": None,
        "joined_at": _now(),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "permissions": "0",
        "communication_disabled_until": None,
    }


def _channel(channel_id: int, name: str, kind: int, permissions: int) -> JSON:
    data: JSON = {
        "id": str(channel_id),
        "name": name,
        "type": kind,
        "permissions": str(permissions),
        "parent_id": None,
        "flags": 0,
    }
    if kind in (10, 11, 12):  # threads: Discord always sends their metadata
        data.update(
            parent_id=str(TEXT_CHANNEL),
            owner_id=str(BOT_USER),
            member_count=1,
            message_count=0,
            thread_metadata={
                "archived": False,
                "auto_archive_duration": 1440,
                "archive_timestamp": _now(),
                "locked": False,
            },
        )
    return data


@dataclass
class Leaf:
    """One invocable command: a top-level command, or a subcommand of a group."""

    command: JSON
    path: tuple[str, ...]  # subcommand group and subcommand names under the command
    options: list[JSON]

    @property
    def label(self) -> str:
        return " ".join((self.command["name"], *self.path))

    @property
    def manage_server(self) -> bool:
        return self.command.get("default_member_permissions") is not None

    def wrap(self, options: list[JSON]) -> list[JSON]:
        """The option list Discord sends: nested under the subcommand (and its group)."""
        for depth, name in reversed(list(enumerate(self.path))):
            kind = 1 if depth == len(self.path) - 1 else 2
            options = [{"type": kind, "name": name, "options": options}]
        return options


def leaves(payload: list[JSON]) -> Iterator[Leaf]:
    for command in payload:
        if command.get("type", 1) != 1:
            continue  # context menus take no options
        options = command.get("options") or []
        subs = [o for o in options if o["type"] in (1, 2)]
        if not subs:
            yield Leaf(command, (), options)
        for child in subs:
            if child["type"] == 1:
                yield Leaf(command, (child["name"],), child.get("options") or [])
            else:
                for inner in child.get("options") or []:
                    yield Leaf(command, (child["name"], inner["name"]), inner.get("options") or [])


@dataclass
class Example:
    leaf: Leaf
    options: list[JSON]
    resolved: JSON | None
    who: JSON
    autocomplete: str | None = None  # the focused option's name

    def describe(self) -> str:
        shown = repr(self.options)
        if len(shown) > 300:
            shown = shown[:300] + "..."
        extra = f" resolved={self.resolved!r}"[:200] if self.resolved else ""
        return f"/{self.leaf.label} {shown}{extra} who={self.who}"


@st.composite
def _who(draw: st.DrawFn) -> JSON:
    in_dm = draw(st.integers(0, 6)) == 0
    return {
        "user_id": draw(st.sampled_from(INVOKERS)),
        "permissions": draw(st.sampled_from([MANAGE_GUILD, ADMINISTRATOR, ALL_PERMISSIONS, 0])),
        "guild_id": None if in_dm else GUILD_ID,
    }


def _value(draw: st.DrawFn, option: JSON, resolved: JSON, in_guild: bool) -> Any:
    kind = option["type"]
    choices = option.get("choices")
    if choices:
        if draw(st.booleans()):
            return draw(st.sampled_from([c["value"] for c in choices]))
        # Not in the list: a label instead of a value, or anything at all.
        other = hostile_text if kind == 3 else _integers(option)
        return draw(st.one_of(st.sampled_from([c["name"] for c in choices]), other))
    if kind == 3:
        plausible = PLAUSIBLE.get(option["name"])
        if plausible and draw(st.booleans()):
            return draw(st.sampled_from(plausible))
        return draw(hostile_text)
    if kind == 4:
        return draw(_integers(option))
    if kind == 5:
        return draw(st.booleans())
    if kind == 6:
        user_id = draw(st.one_of(st.sampled_from([*INVOKERS, BOT_USER, 1]), snowflake))
        how = draw(st.sampled_from(["none", "user", "member"] if in_guild else ["none", "user"]))
        if how != "none":
            user = _user(user_id, draw(hostile_name), draw(st.none() | hostile_name))
            resolved.setdefault("users", {})[str(user_id)] = user
            if how == "member":
                member = _member(draw(st.none() | hostile_name))
                resolved.setdefault("members", {})[str(user_id)] = member
        return str(user_id)
    if kind == 7:
        known = [TEXT_CHANNEL, VOICE_CHANNEL, NEWS_CHANNEL, OTHER_CHANNEL, GUILD_ID, 1]
        channel_id = draw(st.one_of(st.sampled_from(known), snowflake))
        if draw(st.booleans()):
            kind_ = draw(st.sampled_from([0, 5, 2, 4, 13, 15, 11]))
            perms = draw(st.sampled_from([0, ALL_PERMISSIONS]))
            channel = _channel(channel_id, draw(hostile_name), kind_, perms)
            resolved.setdefault("channels", {})[str(channel_id)] = channel
        return str(channel_id)
    if kind == 8:
        # @everyone, roles the guild does not have, anything; resolved or not, any shape.
        role_id = draw(st.one_of(st.sampled_from([GUILD_ID, GUILD_ID + 50, 1]), snowflake))
        if draw(st.booleans()):
            resolved.setdefault("roles", {})[str(role_id)] = role_payload(
                role_id,
                draw(hostile_name),
                position=draw(st.integers(0, 300)),
                managed=draw(st.booleans()),
            )
        return str(role_id)
    raise NotImplementedError(
        f"no hostile-input strategy for option type {kind} ({option['name']}): add one"
    )


@st.composite
def invocation(draw: st.DrawFn, leaf: Leaf) -> Example:
    who = draw(_who())
    resolved: JSON = {}
    options = []
    for option in leaf.options:
        if option.get("required"):
            # Left out: a forged interaction, or one from a stale command version.
            present = draw(st.integers(0, 19)) != 0
        else:
            present = draw(st.booleans())
        if present:
            value = _value(draw, option, resolved, who["guild_id"] is not None)
            options.append({"type": option["type"], "name": option["name"], "value": value})
    if draw(st.integers(0, 19)) == 0:
        options.append(opt("not_an_option", draw(hostile_text)))
    return Example(leaf, leaf.wrap(options), resolved or None, who)


@st.composite
def completion(draw: st.DrawFn, leaf: Leaf, focused: JSON) -> Example:
    who = draw(_who())
    resolved: JSON = {}
    options = []
    for option in leaf.options:
        if option is focused:
            current = draw(hostile_text)
            options.append({**opt(option["name"], current, option["type"]), "focused": True})
        elif draw(st.booleans()):
            value = _value(draw, option, resolved, who["guild_id"] is not None)
            options.append({"type": option["type"], "name": option["name"], "value": value})
    return Example(leaf, leaf.wrap(options), resolved or None, who, autocomplete=focused["name"])


def draw_examples(strategy: st.SearchStrategy[Example], count: int, key: str) -> list[Example]:
    """``count`` examples (fewer if the strategy has fewer), the same ones on every run.

    The seed comes from ``key`` (a command's name), not from this file: editing the
    file does not change the inputs, so the figures stay comparable between runs.
    """
    found: list[Example] = []

    @hypothesis.seed(zlib.crc32(key.encode()))
    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(example: Example) -> None:
        found.append(example)

    collect()
    return found


# ---- what a reply must satisfy -------------------------------------------------------------

EMBED_LIMITS = {"title": 256, "description": 4096}


def discord_limit_problems(message: Message) -> list[str]:
    """What real Discord would reject (the fake does not check these) or render wrongly."""
    problems = []
    content = message.content or ""
    if len(content) > 2000:
        problems.append(f"content has {len(content)} characters (Discord allows 2000)")
    embeds = message.embeds
    if len(embeds) > 10:
        problems.append(f"{len(embeds)} embeds")
    texts = [content]
    for embed in embeds:
        total = 0
        for key, limit in EMBED_LIMITS.items():
            text = embed.get(key) or ""
            texts.append(text)
            total += len(text)
            if len(text) > limit:
                problems.append(f"embed {key} has {len(text)} characters (limit {limit})")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            problems.append(f"{len(fields)} embed fields")
        for f in fields:
            texts += [f["name"], f["value"]]
            total += len(f["name"]) + len(f["value"])
            if not 1 <= len(f["name"]) <= 256 or not 1 <= len(f["value"]) <= 1024:
                problems.append(f"embed field {f['name'][:40]!r} breaks the limits")
        footer = (embed.get("footer") or {}).get("text") or ""
        texts.append(footer)
        total += len(footer)
        if len(footer) > 2048 or total > 6000:
            problems.append("embed footer or total too long")
    for text in texts:
        if _CONTROL.search(text):
            problems.append(f"a control character is echoed: {text[:80]!r}")
            break
    return problems


def ping_problems(message: Message) -> list[str]:
    """A message may ping only if allowed_mentions says nobody (content is where pings live)."""
    if not message.content:
        return []
    allowed = message.allowed_mentions
    if allowed is None:
        return [f"no allowed_mentions on {message.content[:80]!r}"]
    if allowed.get("parse") or allowed.get("users") or allowed.get("roles"):
        return [f"allowed_mentions {allowed} could ping: {message.content[:80]!r}"]
    return []


def choice_problems(choices: list[JSON]) -> list[str]:
    problems = []
    if len(choices) > 25:
        problems.append(f"{len(choices)} autocomplete choices (Discord allows 25)")
    for choice in choices:
        name, value = choice.get("name", ""), choice.get("value")
        if not 1 <= len(name) <= 100:
            problems.append(f"choice name of {len(name)} characters")
        if isinstance(value, str) and len(value) > 100:
            problems.append(f"choice value of {len(value)} characters")
        if _CONTROL.search(name) or (isinstance(value, str) and _CONTROL.search(value)):
            problems.append(f"control character in choice {choice!r}"[:120])
    return problems


# ---- what the database may hold -------------------------------------------------------------

WRONG_ROWS = """
SELECT src, tag FROM (
    SELECT 'links' AS src, tag FROM links
    UNION ALL SELECT 'tracked_players', tag FROM tracked_players
    UNION ALL SELECT 'tracked_players.via_clan', via_clan FROM tracked_players
        WHERE via_clan IS NOT NULL
    UNION ALL SELECT 'tracked_clans', clan_tag FROM tracked_clans
    UNION ALL SELECT 'players', tag FROM players
    UNION ALL SELECT 'player_polls', tag FROM player_polls
    UNION ALL SELECT 'clan_polls', clan_tag FROM clan_polls
    UNION ALL SELECT 'player_history', tag FROM player_history
    UNION ALL SELECT 'player_seasons', tag FROM player_seasons
    UNION ALL SELECT 'player_events', tag FROM player_events
) AS tags
WHERE tag !~ $1
   OR (src IN ('links', 'tracked_players', 'players', 'player_polls') AND tag <> ALL($2::text[]))
   OR (src IN ('tracked_clans', 'clan_polls', 'tracked_players.via_clan') AND tag <> $3)
UNION ALL
SELECT 'links.user_id', user_id::text FROM links WHERE user_id <> ALL($4::bigint[])
UNION ALL
SELECT 'guild_id', guild_id::text FROM (
    SELECT guild_id FROM tracked_players
    UNION ALL SELECT guild_id FROM tracked_clans
    UNION ALL SELECT guild_id FROM guild_settings
    UNION ALL SELECT guild_id FROM feeds
) AS guilds WHERE guild_id <> $5
UNION ALL
SELECT 'feeds.channel_id', channel_id::text FROM feeds WHERE channel_id <> ALL($6::bigint[])
UNION ALL
SELECT 'tracked_players.added_by', added_by::text FROM tracked_players
    WHERE added_by <> ALL($4::bigint[])
"""


async def wrong_rows(h: Harness) -> list[str]:
    async with h.pool.acquire() as con:
        rows = await con.fetch(
            WRONG_ROWS,
            TAG_RE,
            list(PLAYER_TAGS),
            KNOWN_CLAN,
            list(INVOKERS),
            GUILD_ID,
            list(FEED_CHANNELS),
        )
    return [f"{r['src']}: {r['tag']!r}" for r in rows]


# ---- the run ------------------------------------------------------------------------------


@dataclass
class Figures:
    tried: Counter[str] = field(default_factory=Counter)
    answered: int = 0
    max_ack_s: float = 0.0
    acks: list[float] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    mentions_in_replies: int = 0
    messages_checked: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    wrong_rows: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def report(self) -> str:
        acks = sorted(self.acks)
        p99 = acks[min(len(acks) - 1, int(len(acks) * 0.99))] if acks else 0.0
        lines = [
            f"inputs tried: {sum(self.tried.values())} in {len(self.tried)} commands/options",
            *(
                f"  {label}: {count}"
                + ("" if "[" in label else f" ({self.accepted[label]} completed, rest refused)")
                for label, count in sorted(self.tried.items())
            ),
            f"answered: {self.answered}, first callback max {self.max_ack_s * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms (limit {ACK_LIMIT_S:.0f} s)",
            f"refused with a friendly reply: {sum(self.refusals.values())} "
            f"{dict(self.refusals.most_common())}",
            f"messages checked for pings and limits: {self.messages_checked} "
            f"({self.mentions_in_replies} carried mention syntax, none could ping)",
            f"wrong rows: {len(self.wrong_rows)}",
            f"warnings logged: {dict(self.warnings)}",
            f"problems: {len(self.problems)}",
        ]
        return "\n".join(lines)


async def seed(h: Harness) -> None:
    """A world the inputs can reach: players and a clan that exist, channels, some history."""
    h.coc.set_player(make_player(KNOWN_PLAYER, name=HOSTILE_NAME))
    h.coc.set_player(make_player(PLAIN_PLAYER, name="Plain"))
    member = make_player(CLAN_MEMBER, name="<@&5000> member")
    h.coc.set_player(member)
    h.coc.set_clan(make_clan(KNOWN_CLAN, [member], name=HOSTILE_NAME))
    h.coc.set_token_valid(KNOWN_PLAYER, KNOWN_TOKEN)
    h.discord.add_channel(GUILD_ID, VOICE_CHANNEL, name="voice", type=2)
    h.discord.add_channel(GUILD_ID, NEWS_CHANNEL, name="news", type=5)
    joined = asyncio.ensure_future(
        h.bot.wait_for("guild_available", check=lambda g: g.id == OTHER_GUILD, timeout=10)
    )
    await asyncio.sleep(0)  # the listener is registered before the guild appears
    h.discord.add_guild(OTHER_GUILD, channels=[{"id": OTHER_CHANNEL, "name": "elsewhere"}])
    await joined
    reply = await h.run("link", opt("tag", PLAIN_PLAYER), user_id=42)
    assert "Linked" in (reply.content or ""), reply.content
    # History for /history and /progress to draw (tracking comes with restore()).
    now = datetime.now(UTC)
    rows = [(now - timedelta(days=d), {"trophies": 3000 + 10 * d}) for d in (20, 9, 2)]
    await seed_player(h.pool, KNOWN_PLAYER, HOSTILE_NAME, rows, guild_id=None)


async def restore(h: Harness) -> None:
    """Before each command's batch: undo what earlier batches changed, so each one meets
    a link, a tracked player and a feed (an earlier /unlink or /track remove took them)."""
    async with h.pool.acquire() as con:
        await links.save_link(con, PLAIN_PLAYER, 42, False)
        await links.set_require_verified(con, GUILD_ID, False)
        await guild_tracking.track_player(con, GUILD_ID, KNOWN_PLAYER, 42)
        await feeds.set_feed(con, GUILD_ID, TEXT_CHANNEL, None, 42)


def messages_of(it: Interaction) -> list[Message]:
    seen: dict[int, Message] = {}
    for message in (it.original, it.response, *it.followups):
        if message is not None:
            seen[message.id] = message
    return list(seen.values())


async def canary(h: Harness) -> list[str]:
    """A normal command still works and the gateway session never dropped."""
    problems = []
    try:
        reply = await h.run("status")
        if not reply.embeds or reply.embeds[0].get("title") != "Status":
            problems.append(f"/status answered {reply.content!r}")
    except TimeoutError:
        problems.append("/status got no reply: the bot is down")
    if h.bot.is_closed():
        problems.append("the bot closed")
    if h.discord.identify_count != 1 or h.discord.resume_count:
        problems.append(
            f"the gateway session dropped (identify {h.discord.identify_count}, "
            f"resume {h.discord.resume_count})"
        )
    return problems


async def drive(
    h: Harness, example: Example, figures: Figures, caplog: pytest.LogCaptureFixture
) -> None:
    label = example.leaf.label + (
        f" [autocomplete {example.autocomplete}]" if example.autocomplete else ""
    )
    figures.tried[label] += 1
    first_record = len(caplog.records)
    kind = 4 if example.autocomplete else 2
    it = await h.discord.interact(
        example.leaf.command["name"],
        example.options,
        type=kind,
        resolved=example.resolved,
        **example.who,
    )
    problems: list[str] = []
    try:
        if example.autocomplete:
            await h.discord.wait_for(lambda: 8 in it.callback_types, REPLY_TIMEOUT_S, "choices")
            problems += choice_problems(it.choices or [])
        else:
            reply = await it.wait_response(timeout=REPLY_TIMEOUT_S)
            if reply.content == UNEXPECTED:
                problems.append("the 'unexpected error' reply")
    except TimeoutError:
        problems.append(f"no reply within {REPLY_TIMEOUT_S:.0f} s (callbacks {it.callback_types})")
    latency = it.ack_latency
    if latency is None:
        problems.append("never acknowledged")
    else:
        figures.answered += 1
        figures.acks.append(latency)
        figures.max_ack_s = max(figures.max_ack_s, latency)
        if latency > ACK_LIMIT_S:
            problems.append(f"acknowledged after {latency:.2f} s")
    for message in messages_of(it):
        figures.messages_checked += 1
        if re.search(r"@everyone|@here|<@[!&]?\d+>", message.content or ""):
            figures.mentions_in_replies += 1
        problems += ping_problems(message) + discord_limit_problems(message)
    refused = False
    for record in caplog.records[first_record:]:
        text = record.getMessage()
        if record.name == "bot.tree" and " refused: " in text:  # the tree's expected errors
            refused = True
            figures.refusals[text.rsplit(" ", 1)[-1]] += 1
        ours = record.name.split(".")[0] in ("bot", "cogs", "db")
        if record.levelno >= logging.ERROR or (record.levelno == logging.WARNING and ours):
            # Bad input is expected: it is refused, not logged as a failure.
            problems.append(f"{record.levelname} {record.name}: {text[:200]}")
        elif record.levelno == logging.WARNING:
            figures.warnings[record.name] += 1
    if not refused and not example.autocomplete:
        figures.accepted[label] += 1
    # A wrong row is blamed on the first input after which it appears.
    for row in await wrong_rows(h):
        if row not in figures.wrong_rows:
            figures.wrong_rows.add(row)
            problems.append(f"wrong row {row}")
    figures.problems += [f"{example.describe()}: {p}" for p in problems]


def draw_plan(
    payload: list[JSON], per_command: int, per_autocomplete: int
) -> list[tuple[str, list[Example]]]:
    """The inputs for every command, and for every option with autocomplete."""
    plan: list[tuple[str, list[Example]]] = []
    for leaf in leaves(payload):
        plan.append((leaf.label, draw_examples(invocation(leaf), per_command, leaf.label)))
        for option in leaf.options:
            if option.get("autocomplete"):
                key = f"{leaf.label} {option['name']}"
                examples = draw_examples(completion(leaf, option), per_autocomplete, key)
                plan.append((f"{leaf.label} [autocomplete]", examples))
    return plan


async def hostile_run(
    dsn: str,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
    *,
    per_command: int,
    per_autocomplete: int,
) -> Figures:
    caplog.set_level(logging.INFO)
    figures = Figures()
    async with running_bot(dsn, data_dir) as h:
        # Drawn in a thread: the bot's event loop (and its gateway heartbeat) keeps running.
        plan = await asyncio.to_thread(
            draw_plan, h.discord.synced[GUILD_ID], per_command, per_autocomplete
        )
        await seed(h)
        started = time.monotonic()
        for label, examples in plan:
            await restore(h)
            for example in examples:
                await drive(h, example, figures, caplog)
                if len(figures.problems) > 20:
                    break
            if dead := await canary(h):
                figures.problems += [f"after /{label}: {p}" for p in dead]
            if len(figures.problems) > 20:
                break
        for message in h.discord.messages.values():  # every message the bot ever sent or edited
            figures.problems += [f"message {message.id}: {p}" for p in ping_problems(message)]
        # Anything logged between inputs (a background task's failure) counts too.
        for record in caplog.records:
            if record.levelno >= logging.ERROR:
                figures.problems.append(f"{record.name}: {record.getMessage()[:200]}")
        print(f"\nhostile input: {time.monotonic() - started:.1f} s\n{figures.report()}")
    return figures


def test_the_payload_walk_covers_every_command() -> None:
    payload = [
        {"name": "a", "options": [{"type": 3, "name": "x", "required": True}]},
        {
            "name": "g",
            "options": [
                {"type": 1, "name": "s", "options": []},
                {
                    "type": 2,
                    "name": "grp",
                    "options": [{"type": 1, "name": "t", "options": [{"type": 4, "name": "n"}]}],
                },
            ],
        },
    ]
    found = {leaf.label: leaf for leaf in leaves(payload)}
    assert set(found) == {"a", "g s", "g grp t"}
    assert found["g grp t"].wrap([opt("n", 1, 4)]) == [
        {
            "type": 2,
            "name": "grp",
            "options": [{"type": 1, "name": "t", "options": [opt("n", 1, 4)]}],
        }
    ]


def test_examples_are_the_same_on_every_run() -> None:
    leaf = Leaf({"name": "x"}, (), [{"type": 3, "name": "s", "required": True}])
    first = [e.options for e in draw_examples(invocation(leaf), 15, "x")]
    assert first == [e.options for e in draw_examples(invocation(leaf), 15, "x")]
    assert first != [e.options for e in draw_examples(invocation(leaf), 15, "y")]
    values = [o[0]["value"] for o in first if o and o[0]["name"] == "s"]
    assert len(set(values)) > 5


async def test_hostile_input_quick(
    db_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    figures = await hostile_run(db_dsn, tmp_path, caplog, per_command=8, per_autocomplete=4)
    assert not figures.problems, "\n".join(figures.problems)


@pytest.mark.heavy
async def test_hostile_input_heavy(
    db_dsn: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    figures = await hostile_run(db_dsn, tmp_path, caplog, per_command=1000, per_autocomplete=500)
    assert not figures.problems, "\n".join(figures.problems)
    assert figures.max_ack_s < ACK_LIMIT_S


# ---- what this suite found, pinned down -------------------------------------------------


@pytest.mark.parametrize("days", [0, 366, -5, 2**53, 10**20])
async def test_days_out_of_bounds_are_refused(
    harness: Harness, caplog: pytest.LogCaptureFixture, days: int
) -> None:
    """discord.py does not check ``Range`` bounds at run time; 10**20 days overflowed."""
    for command in (
        [opt("tag", KNOWN_PLAYER), opt("stat", "trophies"), opt("days", days, 4)],
        [opt("tag", KNOWN_PLAYER), opt("days", days, 4)],
    ):
        name = "history" if len(command) == 3 else "progress"
        reply = await harness.run(name, *command)
        assert reply.ephemeral and reply.content == "Choose a whole number from 1 to 365.", (
            reply.content
        )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_feed_refuses_channels_discord_would_not_offer(harness: Harness) -> None:
    """Another server's channel, or a voice channel that resolved data calls text."""
    harness.discord.add_channel(GUILD_ID, VOICE_CHANNEL, name="voice", type=2)
    joined = asyncio.ensure_future(
        harness.bot.wait_for("guild_available", check=lambda g: g.id == OTHER_GUILD, timeout=10)
    )
    await asyncio.sleep(0)
    harness.discord.add_guild(OTHER_GUILD, channels=[{"id": OTHER_CHANNEL, "name": "elsewhere"}])
    await joined
    for channel_id in (OTHER_CHANNEL, VOICE_CHANNEL):
        channel = _channel(channel_id, "looks-like-text", 0, ALL_PERMISSIONS)
        reply = await harness.run(
            "feed",
            sub("set", opt("channel", str(channel_id), 7)),
            resolved={"channels": {str(channel_id): channel}},
            permissions=MANAGE_GUILD,
        )
        assert reply.ephemeral and reply.content.startswith("I cannot post in"), reply.content
    async with harness.pool.acquire() as con:
        assert await feeds.get_feed(con, GUILD_ID) is None


@pytest.mark.parametrize(
    "raw", ["\x00\x07#2PP\x1b[31m", "`#2PP` **x**", "\u202e#LQ\u200f", "#Q\r\nQ\tQ\x7fQQQQQQQQQQQQ"]
)
async def test_a_refused_tag_is_shown_without_control_characters(
    harness: Harness, raw: str
) -> None:
    reply = await harness.run("player", opt("tag", raw))
    assert reply.ephemeral and "is not a valid Clash of Clans tag" in reply.content
    shown = reply.content.split("` is not", 1)[0][1:]
    assert shown and all(c.isprintable() and c != "`" for c in shown), repr(shown)
    assert not discord_limit_problems(reply)


async def test_autocomplete_survives_a_nul(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL text cannot hold NUL: the query failed and every suggestion was lost."""
    async with harness.pool.acquire() as con:
        await links.save_link(con, PLAIN_PLAYER, 42, False)
    choices = await harness.complete("player", [{**opt("tag", "9P9\x00"), "focused": True}])
    assert [c["value"] for c in choices] == [PLAIN_PLAYER]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
