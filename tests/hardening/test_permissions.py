"""Manage Server commands refuse everybody else, also when the interaction is forged.

Which commands need Manage Server is read from the payload the bot synced
(``default_member_permissions``), so a new one is covered at once. Discord
only *hides* such a command from members; a forged or replayed interaction
reaches the bot anyway, with any options set. Each one is sent:

* by a member without permissions, and by one with every permission but Manage
  Server and Administrator: refused;
* from a DM, claiming Manage Server: refused (a DM has no server to manage);
* with Manage Server, and with Administrator alone: allowed.

A refusal must be the friendly ephemeral reply and leave every table exactly as
it was; the same invocation with the permission changes what it should, so an
unchanged database after a refusal means something.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from db import feeds, guild_tracking, links
from tests.fakes.coc_api import make_clan, make_player
from tests.fakes.discord_members import role_payload
from tests.hardening.test_hostile_input import (
    ALL_PERMISSIONS,
    CLAN_MEMBER,
    KNOWN_CLAN,
    KNOWN_PLAYER,
    NEWS_CHANNEL,
    PLAIN_PLAYER,
    TEXT_CHANNEL,
    Leaf,
    _channel,
    leaves,
)
from tests.harness import ADMINISTRATOR, GUILD_ID, MANAGE_GUILD, Harness, opt

JSON = dict[str, Any]

OTHER_CLAN = "#9QQ2YLPR"
OWNER, MANAGER, MEMBER = 42, 43, 7
NEED_MANAGE = "You need the Manage Server permission to do this."
ONLY_IN_SERVER = "This command only works in a server."

# Subcommands of a Manage Server group that are meant for every member (the list
# of tracked players, read-only). Discord hides them with their group, so members
# use /tracked; a forged invocation still works and changes nothing.
OPEN_TO_MEMBERS = {"track list"}

# Options that make each known command change something from the baseline below;
# a new command gets plausible values by option type and is checked for refusal.
VALID: dict[tuple[str, str], Any] = {
    ("track add", "tag"): PLAIN_PLAYER,
    ("track remove", "tag"): KNOWN_PLAYER,
    ("track clan", "tag"): KNOWN_CLAN,
    ("track clan-remove", "tag"): OTHER_CLAN,
    ("feed set", "channel"): NEWS_CHANNEL,
    ("feed set", "events"): "hero, town hall",
    ("link-settings", "require_verified"): True,
}
READ_ONLY = {"feed show", "track list"}

REFUSED_CASES: list[tuple[str, JSON]] = [
    ("no permissions", {"permissions": 0, "user_id": MEMBER}),
    (
        "every permission but Manage Server and Administrator",
        {"permissions": ALL_PERMISSIONS & ~MANAGE_GUILD & ~ADMINISTRATOR, "user_id": MEMBER},
    ),
    ("a DM claiming Manage Server", {"permissions": MANAGE_GUILD, "guild_id": None}),
    ("a DM from the manager", {"permissions": ALL_PERMISSIONS, "guild_id": None}),
]
ALLOWED_CASES: list[tuple[str, JSON]] = [
    ("Manage Server", {"permissions": MANAGE_GUILD, "user_id": MANAGER}),
    ("Administrator alone", {"permissions": ADMINISTRATOR, "user_id": MANAGER}),
]

TABLES = (
    "tracked_players",
    "tracked_clans",
    "player_polls",
    "clan_polls",
    "players",
    "player_history",
    "player_events",
    "links",
    "guild_settings",
    "feeds",
    "feed_batches",
    "feed_outbox",
)


async def snapshot(h: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table a command could write, in a stable order."""
    out = {}
    async with h.pool.acquire() as con:
        for table in TABLES:
            rows = await con.fetch(f"SELECT * FROM {table}")  # test-only, fixed table names
            out[table] = sorted(tuple(r.values()) for r in rows)
    return out


async def baseline(h: Harness) -> None:
    """The same starting point for every case."""
    async with h.pool.acquire() as con:
        await con.execute(f"TRUNCATE {', '.join(TABLES)}")
        await guild_tracking.track_player(con, GUILD_ID, KNOWN_PLAYER, OWNER)
        await guild_tracking.track_clan(con, GUILD_ID, OTHER_CLAN, "Other", OWNER)
        await links.save_link(con, PLAIN_PLAYER, OWNER, False)
        await links.set_require_verified(con, GUILD_ID, False)
        await feeds.set_feed(con, GUILD_ID, TEXT_CHANNEL, None, OWNER)


def invocation(leaf: Leaf) -> tuple[list[JSON], JSON | None]:
    """The options (every one set) and resolved data for ``leaf``."""
    options, resolved = [], {}
    for option in leaf.options:
        kind, name = option["type"], option["name"]
        value = VALID.get((leaf.label, name))
        if value is None:
            if option.get("choices"):
                value = option["choices"][0]["value"]
            elif kind == 4:
                value = option.get("min_value", 1)
            elif kind == 5:
                value = True
            elif kind == 6:
                value = str(OWNER)
            elif kind == 7:
                value = TEXT_CHANNEL
            elif kind == 8:
                value = GUILD_ID  # @everyone: a role every guild has
            else:
                value = KNOWN_CLAN if "clan" in leaf.label else KNOWN_PLAYER
        if kind == 8:
            everyone = role_payload(GUILD_ID, "@everyone", position=0)
            resolved.setdefault("roles", {})[str(value)] = everyone
            value = str(value)
        if kind == 7:
            kinds = {TEXT_CHANNEL: 0, NEWS_CHANNEL: 5}
            channel = _channel(value, "feed", kinds.get(value, 0), ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[str(value)] = channel
            value = str(value)
        options.append(opt(name, value, kind))
    return leaf.wrap(options), resolved or None


async def test_manage_server_commands_refuse_everyone_else(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    h = harness
    member = make_player(CLAN_MEMBER, name="Member")
    for tag in (KNOWN_PLAYER, PLAIN_PLAYER):
        h.coc.set_player(make_player(tag))
    h.coc.set_player(member)
    h.coc.set_clan(make_clan(KNOWN_CLAN, [member], name="Clan"))
    h.discord.add_channel(GUILD_ID, NEWS_CHANNEL, name="news", type=5)

    payload = h.discord.synced[GUILD_ID]
    guarded = [leaf for leaf in leaves(payload) if leaf.manage_server]
    for leaf in guarded:
        assert int(leaf.command["default_member_permissions"]) & MANAGE_GUILD, leaf.label
    labels = {leaf.label for leaf in guarded}
    # The commands that change a server's setup are among them.
    assert {"track add", "track remove", "track clan", "feed set", "link-settings"} <= labels

    problems: list[str] = []
    cases = 0
    for leaf in guarded:
        options, resolved = invocation(leaf)
        open_to_members = leaf.label in OPEN_TO_MEMBERS
        for case, who in REFUSED_CASES:
            await baseline(h)
            before = await snapshot(h)
            reply = await h.run(leaf.command["name"], *options, resolved=resolved, **who)
            cases += 1
            in_dm = who.get("guild_id", GUILD_ID) is None
            if open_to_members and not in_dm:
                if reply.content in (NEED_MANAGE, ONLY_IN_SERVER):
                    problems.append(f"/{leaf.label} ({case}): refused an ordinary member")
            elif not reply.ephemeral or reply.content not in (NEED_MANAGE, ONLY_IN_SERVER):
                problems.append(f"/{leaf.label} ({case}): not refused: {reply.content!r}")
            if await snapshot(h) != before:
                problems.append(f"/{leaf.label} ({case}): the database changed")
        for case, who in ALLOWED_CASES:
            await baseline(h)
            before = await snapshot(h)
            reply = await h.run(leaf.command["name"], *options, resolved=resolved, **who)
            cases += 1
            if reply.content in (NEED_MANAGE, ONLY_IN_SERVER):
                problems.append(f"/{leaf.label} ({case}): refused: {reply.content!r}")
            changed = await snapshot(h) != before
            if leaf.label in READ_ONLY and changed:
                problems.append(f"/{leaf.label} ({case}): a read-only command changed rows")
            known = any(label == leaf.label for label, _ in VALID) or leaf.label in READ_ONLY
            if known and leaf.label not in READ_ONLY and not changed:
                problems.append(f"/{leaf.label} ({case}): allowed, but nothing changed")
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]
    assert not problems, "\n".join(problems)
    print(f"\npermissions: {len(guarded)} Manage Server commands, {cases} cases, all held")


async def test_track_list_is_open_but_hidden_like_its_group(harness: Harness) -> None:
    """/track list is meant for everyone; it stays read-only for them."""
    await baseline(harness)
    before = await snapshot(harness)
    reply = await harness.run("track", {"type": 1, "name": "list", "options": []}, permissions=0)
    assert reply.embeds and KNOWN_PLAYER in reply.embeds[0]["description"]
    assert await snapshot(harness) == before


async def test_only_the_owner_unlinks_an_account(harness: Harness) -> None:
    """Not a Manage Server rule, but the same kind: Manage Server does not override it."""
    await baseline(harness)
    before = await snapshot(harness)
    for who in (
        {"user_id": MEMBER, "permissions": 0},
        {"user_id": MANAGER, "permissions": MANAGE_GUILD},
        {"user_id": MANAGER, "permissions": ADMINISTRATOR},
        {"user_id": MANAGER, "permissions": ALL_PERMISSIONS, "guild_id": None},
    ):
        reply = await harness.run("unlink", opt("tag", PLAIN_PLAYER), **who)
        assert reply.ephemeral and "only they can unlink it" in reply.content, (who, reply.content)
    assert await snapshot(harness) == before
    reply = await harness.run("unlink", opt("tag", PLAIN_PLAYER), user_id=OWNER)
    assert reply.content == f"Unlinked `{PLAIN_PLAYER}`."
    assert await snapshot(harness) != before
