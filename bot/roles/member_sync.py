"""One member brought in line with their linked accounts, through discord.py.

Every change is one REST call through discord.py (its per-route rate limits
ride out 429s), with an audit-log reason; a member already right costs none.
Roles are added and removed one by one, never by replacing the member's list:
a role someone else gives meanwhile is never taken away. The member's current
roles and nickname come from discord.py's member cache (the members intent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import asyncpg
import discord

from bot.roles.nicknames import main_account, parse_format, render, values_of
from bot.roles.rules import CLAN_KINDS, counted, plan, wanted_roles
from db import roles
from db.model import LinkedAccount, RoleConfig

log = logging.getLogger(__name__)

REASON = "Clash tracker: roles follow linked accounts"
NICK_REASON = "Clash tracker: nickname follows the linked account"

NO_MANAGE_ROLES = "the bot lacks Manage Roles: give the bot's role the Manage Roles permission"
ABOVE_BOT = (
    "the role is at or above the bot's highest role: in Server Settings > Roles, drag the "
    "bot's role above it"
)
DELETED = "the role no longer exists: map this kind to another role, or unmap it"
MANAGED = "the role belongs to an integration (a bot, boosts or a subscription): no one can give it"
EVERYONE = "@everyone is every member's already"
UNTRACKED_CLAN = (
    "the clan is no longer tracked here, so its members are not kept current: track it "
    "again with /track clan, or unmap this"
)
REFUSED = "Discord refused to change it: check the bot's role and permissions"
NO_MANAGE_NICKNAMES = (
    "the bot lacks Manage Nicknames: give the bot's role the Manage Nicknames permission"
)


def role_problem(guild: discord.Guild, role_id: int) -> str | None:
    """Why the bot cannot give or take ``role_id`` in ``guild`` now, or None."""
    role = guild.get_role(role_id)
    if role is None:
        return DELETED
    if role.is_default():
        return EVERYONE
    if role.managed:
        return MANAGED
    me = guild.me
    if me.id == guild.owner_id:
        return None
    if not me.guild_permissions.manage_roles:
        return NO_MANAGE_ROLES
    if role >= me.top_role:
        return ABOVE_BOT
    return None


def nickname_problem(guild: discord.Guild) -> str | None:
    me = guild.me
    if me.id == guild.owner_id or me.guild_permissions.manage_nicknames:
        return None
    return NO_MANAGE_NICKNAMES


@dataclass
class Outcome:
    """What one member's sync did (REST calls made, and what it could not do)."""

    added: int = 0
    removed: int = 0
    renamed: int = 0
    refused: list[int] = field(default_factory=list)  # roles Discord refused
    owner_skipped: bool = False

    @property
    def calls(self) -> int:
        return self.added + self.removed + self.renamed


@dataclass(frozen=True)
class GuildPlan:
    """What every member of one guild is synced against, worked out once per batch."""

    config: RoleConfig
    league_rank: Mapping[str, int]
    skipped: Mapping[int, str]  # role id -> why it is skipped
    nickname_problem: str | None

    @property
    def managed(self) -> set[int]:
        return {m.role_id for m in self.config.mappings}


def guild_plan(
    guild: discord.Guild, config: RoleConfig, league_rank: Mapping[str, int]
) -> GuildPlan:
    """Roles the bot cannot give now are skipped; so is a role Discord refused although
    the cache said it could be given, until the next full pass tries it again."""
    skipped: dict[int, str] = {}
    for m in config.mappings:
        problem = role_problem(guild, m.role_id)
        if problem is None and m.kind in CLAN_KINDS and m.value not in config.tracked_clans:
            problem = UNTRACKED_CLAN
        if problem is None and m.problem == REFUSED:
            problem = REFUSED
        if problem is not None:
            skipped[m.role_id] = problem
    problem = nickname_problem(guild) if config.nickname_format else None
    return GuildPlan(config, league_rank, skipped, problem)


class RecentChanges:
    """Role changes this process made that discord.py's cache may not show yet.

    Adding or removing a role answers with no member; the cache follows only when
    Discord's member update event arrives. A sync planned in between (an unlink and a
    relink, two accounts swapping clans) would otherwise plan from the old roles.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self.ttl = ttl
        self._made: dict[tuple[int, int], tuple[set[int], set[int], float]] = {}

    def held(self, member: discord.Member) -> set[int]:
        held = {r.id for r in member.roles}
        key = (member.guild.id, member.id)
        entry = self._made.get(key)
        if entry is None:
            return held
        added, removed, at = entry
        if time.monotonic() - at > self.ttl:
            del self._made[key]
            return held
        return (held | added) - removed

    def confirm(self, member: discord.Member) -> None:
        """A member update from Discord: what the cache now shows needs no remembering.
        From then on the cache is the truth, also for a change someone makes by hand."""
        key = (member.guild.id, member.id)
        entry = self._made.get(key)
        if entry is None:
            return
        held = {r.id for r in member.roles}
        adds, removes, at = entry
        adds, removes = adds - held, removes & held
        if adds or removes:
            self._made[key] = (adds, removes, at)
        else:
            del self._made[key]

    def undo(self, member: discord.Member, role_id: int) -> None:
        """A change that did not happen (Discord refused it)."""
        entry = self._made.get((member.guild.id, member.id))
        if entry is not None:
            entry[0].discard(role_id)
            entry[1].discard(role_id)

    def record(self, member: discord.Member, role_id: int, *, added: bool) -> None:
        key = (member.guild.id, member.id)
        adds, removes, _ = self._made.get(key, (set(), set(), 0.0))
        (adds if added else removes).add(role_id)
        (removes if added else adds).discard(role_id)
        self._made[key] = (adds, removes, time.monotonic())


async def sync_member(
    con: asyncpg.Connection,
    member: discord.Member,
    accounts: Sequence[LinkedAccount],
    gplan: GuildPlan,
    recent: RecentChanges | None = None,
) -> Outcome:
    """Add and remove the member's mapped roles and set their nickname, as needed."""
    outcome = Outcome()
    # A member still in membership screening would be let past it by any role.
    if member.bot or member.pending:
        return outcome
    recent = recent if recent is not None else RecentChanges()
    config = gplan.config
    mine = counted(accounts, config.verified_only)
    if config.mappings:
        wanted = wanted_roles(mine, config.mappings, gplan.league_rank)
        skipped = set(gplan.skipped)
        # An account read but with no tier known yet (no full profile since tracking
        # began): their highest league is unknown, so league roles are neither given
        # nor taken.
        if any(a.name and (a.league or "").lower() not in gplan.league_rank for a in mine):
            skipped |= {m.role_id for m in config.mappings if m.kind == "league"}
        todo = plan(recent.held(member), wanted, gplan.managed, skipped)
        for role_id, add in [(r, True) for r in sorted(todo.add)] + [
            (r, False) for r in sorted(todo.remove)
        ]:
            if await _tracked_change(member, role_id, add, outcome, recent):
                if add:
                    outcome.added += 1
                else:
                    outcome.removed += 1
    if config.nickname_format and gplan.nickname_problem is None:
        await _sync_nickname(con, member, mine, config.nickname_format, outcome)
    return outcome


async def _tracked_change(
    member: discord.Member, role_id: int, add: bool, outcome: Outcome, recent: RecentChanges
) -> bool:
    """One role change, remembered before the request: Discord's member update may come
    back (and confirm it) before the request's own answer does. Forgotten if it fails."""
    recent.record(member, role_id, added=add)
    done = False
    try:
        done = await _change_role(member, role_id, add=add, outcome=outcome)
    finally:
        if not done:
            recent.undo(member, role_id)
    return done


async def _change_role(
    member: discord.Member, role_id: int, *, add: bool, outcome: Outcome
) -> bool:
    role = discord.Object(role_id)
    try:
        if add:
            await member.add_roles(role, reason=REASON)
        else:
            await member.remove_roles(role, reason=REASON)
    except discord.Forbidden:
        outcome.refused.append(role_id)
        return False
    except discord.NotFound:
        # The role was deleted, or the member left, since the cache said otherwise.
        log.debug("role %s or member %s gone in guild %s", role_id, member.id, member.guild.id)
        return False
    return True


async def _sync_nickname(
    con: asyncpg.Connection,
    member: discord.Member,
    accounts: Sequence[LinkedAccount],
    text: str,
    outcome: Outcome,
) -> None:
    guild = member.guild
    main = main_account(accounts)
    values = values_of(main) if main is not None else None
    ours = await roles.get_nickname(con, guild.id, member.id)
    if values is None:
        # No account (left): a nickname the bot gave is cleared; any other is theirs.
        if main is None and ours is not None and member.nick == ours:
            if await _rename(member, None, outcome):
                await roles.forget_nickname(con, guild.id, member.id)
        return
    nick = render(parse_format(text), values)
    if nick is None and (ours is None or member.nick != ours):
        return  # nothing to show (no clan for "{clan}"): their own nickname stays
    if nick == member.nick:
        if nick is not None and ours != nick:
            await roles.save_nickname(con, guild.id, member.id, nick)
        return
    if member.id == guild.owner_id:
        outcome.owner_skipped = True
        return
    me = guild.me
    if me.id != guild.owner_id and member.top_role >= me.top_role:
        log.debug("member %s is above the bot in guild %s: nickname left", member.id, guild.id)
        return
    if await _rename(member, nick, outcome):
        if nick is None:
            await roles.forget_nickname(con, guild.id, member.id)
        else:
            await roles.save_nickname(con, guild.id, member.id, nick)


async def _rename(member: discord.Member, nick: str | None, outcome: Outcome) -> bool:
    try:
        await member.edit(nick=nick, reason=NICK_REASON)
    except discord.Forbidden:
        log.info("Discord refused to rename member %s in guild %s", member.id, member.guild.id)
        return False
    except discord.NotFound:
        return False
    except discord.HTTPException as exc:
        if exc.status != 400:
            raise
        # Discord counts a nickname's length its own way (some characters count twice):
        # this one stays as it is, and nothing else of the member's sync is lost.
        log.warning(
            "Discord refused nickname %r for member %s in guild %s: %s",
            nick, member.id, member.guild.id, exc.text,
        )  # fmt: skip
        return False
    outcome.renamed += 1
    return True
