"""A guild whose roles the bot syncs, for the role and nickname tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import discord

from tests.bot.tracker.conftest import Clock
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, opt, sub

MANAGE_ROLES, MANAGE_NICKNAMES = 1 << 28, 1 << 27
BOT_ROLE = 9000
TH16, TH17, CLAN_A_ROLE, CLAN_B_ROLE, ELDER_A, VERIFIED, UNMANAGED = range(9001, 9008)
ABOVE = 9100  # above the bot's role
CLAN_A, CLAN_B = "#2PP", "#2QQ"
OWNER = 1


def build_guild(
    harness: Harness, *, bot_permissions: int = MANAGE_ROLES | MANAGE_NICKNAMES
) -> None:
    fake = harness.discord
    fake.add_role(GUILD_ID, BOT_ROLE, "Tracker", position=10, permissions=bot_permissions)
    for position, (role_id, name) in enumerate(
        [(TH16, "TH16"), (TH17, "TH17"), (CLAN_A_ROLE, "Clan A"), (CLAN_B_ROLE, "Clan B"),
         (ELDER_A, "Elder A"), (VERIFIED, "Verified"), (UNMANAGED, "Artist")], start=1,
    ):  # fmt: skip
        fake.add_role(GUILD_ID, role_id, name, position=position)
    fake.add_role(GUILD_ID, ABOVE, "Admins", position=20, permissions=MANAGE_ROLES)
    fake.set_bot_roles(GUILD_ID, [BOT_ROLE])


async def cached(harness: Harness, check: Callable[[], Any]) -> None:
    """Wait until ``check()`` holds in discord.py's cache (the fake re-checks after each of
    its requests and events, and every 50 ms for what the bot does after one)."""
    await harness.discord.wait_for(check, 10, "discord.py's cache to follow")


async def cache_has_roles(harness: Harness) -> None:
    def ready() -> bool:
        guild = harness.bot.get_guild(GUILD_ID)
        return bool(
            guild and guild.get_role(ABOVE) and guild.me and guild.me.top_role.id == BOT_ROLE
        )

    await cached(harness, ready)


def role_option(harness: Harness, role_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    role = next(r for r in harness.discord.guilds[GUILD_ID]["roles"] if int(r["id"]) == role_id)
    return opt("role", str(role_id), type=8), {"roles": {str(role_id): role}}


async def map_role(harness: Harness, kind: str, value: str, role_id: int, **who: Any) -> Any:
    """As an admin with Manage Server and Manage Roles, whose highest role is above all."""
    option, resolved = role_option(harness, role_id)
    who.setdefault("permissions", MANAGE_GUILD | MANAGE_ROLES)
    who.setdefault("member_roles", [ABOVE])
    return await harness.run(
        "roles", sub("map", opt("kind", kind), opt("value", value), option),
        resolved=resolved, **who,
    )  # fmt: skip


def member_option(harness: Harness, user_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    member = harness.discord.members[GUILD_ID][user_id]
    resolved = {
        "users": {str(user_id): member["user"]},
        "members": {str(user_id): {k: v for k, v in member.items() if k != "user"}},
    }
    return opt("member", str(user_id), type=6), resolved


def roles_of(harness: Harness, user_id: int) -> set[int]:
    return harness.discord.member_roles(GUILD_ID, user_id)


async def settle(harness: Harness) -> None:
    """Wait until the role sync loop has had a whole cycle after this point."""
    service = harness.bot.role_sync
    assert service is not None
    await asyncio.wait_for(service.wait_cycle(), 10)


def future_clock() -> Clock:
    clock = Clock()
    clock.now = datetime.now(UTC) + timedelta(minutes=1)
    return clock


def guild(harness: Harness) -> discord.Guild:
    found = harness.bot.get_guild(GUILD_ID)
    assert found is not None
    return found
