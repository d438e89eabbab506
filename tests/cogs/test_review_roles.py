"""Regressions from the two reviews of issue 15 (roles and nicknames): each failed
before its fix. One pins a limit."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
import discord
import pytest

import bot.roles.service as service_module
from bot.roles.service import RoleSyncService
from db import roles
from db.links import save_link
from tests.cogs.activity_helpers import poll_at
from tests.cogs.roles_helpers import (
    MANAGE_ROLES,
    TH16,
    TH17,
    UNMANAGED,
    build_guild,
    cache_has_roles,
    cached,
    future_clock,
    guild,
    map_role,
    roles_of,
)
from tests.fakes.coc_api import make_player
from tests.fakes.discord_members import ADMINISTRATOR, ROLE_PUT
from tests.fakes.discord_server import EVERYONE_PERMISSIONS, DiscordError
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, opt, sub

USER, OTHER = 77, 99
TAG = "#2PP0JCCL"


async def _seed_player(h: Harness, tag: str, user: int, th: int) -> None:
    async with h.pool.acquire() as con:
        await con.execute(
            """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
                   war_stars, attack_wins, defense_wins, donations, donations_received,
                   builder_trophies, best_builder_trophies, builder_hall,
                   capital_contributions, fetched_at, changed_at)
               VALUES ($1, 'Chief', $2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now(), now())""",
            tag, th,
        )  # fmt: skip
        await save_link(con, tag, user, False)


async def _leased(h: Harness, user: int) -> bool:
    async with h.pool.acquire() as con:
        return bool(
            await con.fetchval(
                "SELECT leased_until IS NOT NULL FROM role_sync_queue WHERE user_id = $1", user
            )
        )


async def test_a_sync_outliving_its_lease_does_not_leave_a_stale_town_hall_role(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was a defect: a batch's leases (LEASE, 2 min) were never renewed while discord.py waits
    out rate limits. Once a lease expires, a second process leases the same member and syncs
    it from newer data while the first is still applying its old plan; the first's FINISH
    even clears the second's lease. Here process A plans "add TH16" and waits in the role
    bucket; the player reaches TH17; process B (lease expired) plans "add TH17" (TH16 not
    held yet) and deletes the queue row. The member ends with TH16 and TH17, and nothing is
    left queued to fix it until the next full pass."""
    h = harness
    build_guild(h)
    h.discord.add_member(GUILD_ID, USER, roles=[UNMANAGED])
    h.discord.add_member(GUILD_ID, OTHER)
    await cache_has_roles(h)
    await cached(h, lambda: guild(h).get_member(OTHER) is not None)
    for th, role in (("16", TH16), ("17", TH17)):
        assert "now follows" in (await map_role(h, "town_hall", th, role)).content
    assert h.bot.role_sync is not None
    await h.bot.role_sync.wait_cycle()
    await h.bot.role_sync.stop()  # two stand-in processes take over below

    # One role change per 3 s in this guild; the bucket is used up now.
    h.discord.set_route_limit(ROLE_PUT, 1, per=3.0)
    other = guild(h).get_member(OTHER)
    assert other is not None
    # discord.py holds the exhausted bucket until it resets: run the call in the background.
    dummy = asyncio.create_task(other.add_roles(discord.Object(UNMANAGED)))
    await h.discord.wait_for(lambda: len(h.discord.member_changes) == 1, 5)

    monkeypatch.setattr(service_module, "LEASE", timedelta(seconds=0.5))
    await _seed_player(h, TAG, USER, 16)  # the link queues the member
    a, b = RoleSyncService(h.bot), RoleSyncService(h.bot)
    task_a = asyncio.create_task(a.run_once())
    for _ in range(100):
        if await _leased(h, USER):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # A has planned and waits for the bucket
    async with h.pool.acquire() as con:
        await con.execute("UPDATE players SET town_hall = 17 WHERE tag = $1", TAG)
    await asyncio.sleep(0.6)  # A's lease ran out; A is still waiting
    task_b = asyncio.create_task(b.run_once())
    await asyncio.wait_for(asyncio.gather(task_a, task_b, dummy), 30)
    # A renewed its lease while it waited: B found nothing to take. The change made
    # meanwhile queued the member again, so A's finish left the row for one more sync.
    for _ in range(3):  # whatever is still due is synced
        await a.run_once()
    async with h.pool.acquire() as con:
        left = await con.fetchval("SELECT count(*) FROM role_sync_queue")
    assert roles_of(h, USER) == {UNMANAGED, TH17}, (roles_of(h, USER), "queued:", left)


async def test_an_unmapped_role_is_not_given_after_unmap_says_so(harness: Harness) -> None:
    """Was a defect (an unmapped role touched): a batch reads the guild's mappings once
    (_sync_guild) and applies them for minutes under Discord's rate limits. /roles unmap
    answers "no longer added or removed" at once, yet the batch in flight keeps giving
    the role to the rest of its members. Same for /nickname off and a remapped role."""

    h = harness
    build_guild(h)
    members = [201, 202, 203, 204, 205]
    for user in members:
        h.discord.add_member(GUILD_ID, user)
        await _seed_player(h, f"#U{user}", user, 16)
    await cache_has_roles(h)
    await cached(h, lambda: all(guild(h).get_member(u) is not None for u in members))
    h.discord.set_route_limit(ROLE_PUT, 1, per=1.0)  # one role change a second
    assert "now follows" in (await map_role(h, "town_hall", "16", TH16)).content
    await h.discord.wait_for(lambda: any(c.role_id == TH16 for c in h.discord.member_changes))
    reply = await h.run(
        "roles", sub("unmap", opt("kind", "town_hall"), opt("value", "16")),
        permissions=MANAGE_GUILD,
    )  # fmt: skip
    assert "no longer follows" in reply.content
    unmapped_at = time.monotonic()
    await asyncio.sleep(4)
    late = [c.user_id for c in h.discord.member_changes if c.role_id == TH16 and c.at > unmapped_at]
    assert not late, f"TH16 given to {late} after /roles unmap said it no longer is"


async def test_a_discord_error_fetching_an_uncached_member_does_not_kill_the_loop(
    harness: Harness,
) -> None:
    """Was a defect (a crash): in a guild not chunked (every guild after a restart, since
    chunk_guilds_at_startup=False, until its next full pass), a queued member missing
    from the cache is fetched with guild.fetch_member, and _fetch_member catches only
    NotFound. A 503 (or a 403, or a 429 without Via) escapes run_once: the supervised task
    dies (health check down, back-off), and the batch's other leases are left to expire."""

    h = harness
    build_guild(h)
    h.discord.add_member(GUILD_ID, USER)
    await cache_has_roles(h)
    assert "now follows" in (await map_role(h, "town_hall", "16", TH16)).content
    assert h.bot.role_sync is not None
    await h.bot.role_sync.wait_cycle()

    async def unavailable(_q: object) -> None:
        raise DiscordError(503, "Service Unavailable", 0)

    h.discord._routes = [
        (m, t, p, unavailable if (m, t) == ("GET", "/guilds/{gid}/members/{uid}") else f)
        for m, t, p, f in h.discord._routes
    ]
    g = guild(h)
    g._member_count = (g.member_count or 0) + 500  # a large guild not chunked yet
    assert not g.chunked
    await _seed_player(h, "#OUT", 4242, 16)  # a linked user not in the cache
    await asyncio.sleep(2)
    state = next(s for s in h.bot.supervisor.states() if s.name == "role sync")
    assert state.last_error is None, state.last_error


async def test_an_empty_rendered_nickname_does_not_wipe_the_members_own_nickname(
    harness: Harness,
) -> None:
    """Was a defect: with a format whose values can all be empty ("{clan}", "{clan} {th}"), a
    clanless member renders to None, and _sync_nickname then PATCHes nick=None: the nickname
    the member chose (never one the bot gave) is wiped."""

    h = harness
    build_guild(h)
    h.discord.add_member(GUILD_ID, USER, nick="MyOwnNick")
    await cache_has_roles(h)
    await cached(h, lambda: getattr(guild(h).get_member(USER), "nick", None) == "MyOwnNick")
    reply = await h.run("nickname", sub("set", opt("format", "{clan}")), permissions=MANAGE_GUILD)
    assert "now follow" in reply.content, reply.content
    await _seed_player(h, "#NOCLAN", USER, 16)  # linked, in no clan
    assert h.bot.role_sync is not None
    await h.bot.role_sync.wait_cycle()
    await h.bot.role_sync.wait_cycle()
    assert h.discord.member_nick(GUILD_ID, USER) == "MyOwnNick"


async def test_a_link_during_a_long_full_pass_is_synced_at_once(harness: Harness) -> None:
    """Was a defect ("on link and unlink at once", "within one interval"): LEASE_DUE orders by
    due_at only, and a full pass queues every member with due_at = now(). A link (or a
    Town Hall the tracker saw) made while a pass is being worked off gets a later due_at
    and waits behind the whole pass; with Discord's 10 role changes per 10 s per guild, a
    first pass over 1,000 members takes most of an hour."""

    h = harness
    build_guild(h)
    crowd = list(range(300, 345))  # 45 members the pass has to give TH16 to
    for user in crowd:
        h.discord.add_member(GUILD_ID, user)
        await _seed_player(h, f"#C{user}", user, 16)
    h.discord.add_member(GUILD_ID, USER)
    await cache_has_roles(h)
    await cached(h, lambda: all(guild(h).get_member(u) is not None for u in [*crowd, USER]))
    h.discord.set_route_limit(ROLE_PUT, 1, per=0.1)
    assert "now follows" in (await map_role(h, "town_hall", "16", TH16)).content
    await h.discord.wait_for(lambda: any(c.role_id == TH16 for c in h.discord.member_changes))

    h.coc.set_player(make_player(TAG, name="Chief", town_hall=16))
    reply = await h.run("link", opt("tag", TAG), user_id=USER)
    assert "Linked" in reply.content
    await h.discord.wait_for(lambda: TH16 in roles_of(h, USER), 30)
    puts = [c.user_id for c in h.discord.member_changes if c.role_id == TH16]
    before = puts.index(USER)
    # The batch already leased (20) may finish first; the rest of the pass should not.
    assert before <= 21, f"the new link waited behind {before} members of the pass"


async def test_a_member_still_in_membership_screening_gets_no_role(harness: Harness) -> None:
    """Was a defect: Discord lets a member who has not passed the server's Membership Screening
    (rules gate, member.pending) in as a full member as soon as any role is given to them
    (discord-api-docs #2479, #2652: "grant roles only after the user completes screening").
    on_member_join queues a linked newcomer and the sync gives their roles at once, so every
    linked account holder skips the server's rules screen. Members with member.pending
    should wait (queued again on the member update that clears it)."""

    h = harness
    build_guild(h)
    await cache_has_roles(h)
    assert "now follows" in (await map_role(h, "town_hall", "16", TH16)).content

    h.coc.set_player(make_player(TAG, name="Chief", town_hall=16))
    reply = await h.run("link", opt("tag", TAG), user_id=USER, guild_id=None)  # in a DM
    assert "Linked" in reply.content
    plain = h.discord._member_obj

    def screening(user: dict, roles: object = (), perms: object = None) -> dict:
        return {**plain(user, roles, perms), "pending": True}  # type: ignore[arg-type]

    h.discord._member_obj = screening  # type: ignore[method-assign]
    h.discord.add_member(GUILD_ID, USER)  # joins, has not accepted the rules yet
    h.discord._member_obj = plain  # type: ignore[method-assign]
    await cached(h, lambda: getattr(guild(h).get_member(USER), "pending", False))
    assert h.bot.role_sync is not None
    await h.bot.role_sync.wait_cycle()
    await h.bot.role_sync.wait_cycle()
    assert TH16 not in roles_of(h, USER), "a role given while pending skips screening"


async def test_limit_an_account_nobody_tracks_keeps_its_link_time_roles(
    harness: Harness,
) -> None:
    """A limit, pinned: roles come from what the tracker holds, and an account linked
    from a DM (or untracked since) is polled by no one. Its Town Hall, league, clan and
    rank stay as its last reading showed them, and so do its roles. (README: roles and
    nicknames; RELIABILITY.md.)"""
    from tests.fakes.coc_api import make_player

    h = harness
    build_guild(h)
    h.discord.add_member(GUILD_ID, USER)
    await cache_has_roles(h)
    for th, role in (("16", TH16), ("17", TH17)):
        assert "now follows" in (await map_role(h, "town_hall", th, role)).content
    h.coc.set_player(make_player(TAG, name="Chief", town_hall=16))
    reply = await h.run("link", opt("tag", TAG), user_id=USER, guild_id=None)  # in a DM
    assert "Linked" in reply.content
    await h.discord.wait_for(lambda: TH16 in roles_of(h, USER), 10)
    h.coc.set_player(make_player(TAG, name="Chief", town_hall=17))  # upgraded in game
    await poll_at(h, future_clock())
    await h.run("roles", sub("sync"), permissions=MANAGE_GUILD)
    assert h.bot.role_sync is not None
    await h.bot.role_sync.wait_cycle()
    await h.bot.role_sync.wait_cycle()
    assert roles_of(h, USER) == {TH16}, roles_of(h, USER)


async def test_manage_server_alone_cannot_make_the_bot_hand_out_a_role_above_the_caller(
    harness: Harness,
) -> None:
    """Was a defect (confused deputy): /roles map checks only that the BOT can give the role.
    Discord lets a person give a role only with Manage Roles and below their own highest
    role. A moderator with Manage Server but no Manage Roles (or a low top role) maps a
    role that holds Administrator (placed under the bot's) to `verified`, links a
    verified account, and the bot makes them an administrator. The invoker's Manage Roles
    and hierarchy (and dangerous permissions on the role) should be checked too."""

    h = harness
    build_guild(h)
    staff = 9050
    h.discord.add_role(GUILD_ID, staff, "Staff", position=8, permissions=ADMINISTRATOR)
    await cache_has_roles(h)
    await cached(h, lambda: guild(h).get_role(staff) is not None)
    reply = await map_role(
        h, "verified", "-", staff, user_id=606, permissions=MANAGE_GUILD, member_roles=[]
    )  # Manage Server only
    assert "now follows" not in reply.content and "Manage Roles" in reply.content
    # Manage Roles, but a highest role below the one mapped: refused too.
    low = await map_role(h, "verified", "-", staff, user_id=607, member_roles=[TH16])
    assert "a role above it" in low.content


# -- the second review

G1, G_LEFT = 7101, 7102


async def _player(con: asyncpg.Connection, tag: str, user: int) -> None:
    await con.execute(
        """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
               war_stars, attack_wins, defense_wins, donations, donations_received,
               builder_trophies, best_builder_trophies, builder_hall, capital_contributions,
               fetched_at)
           VALUES ($1, 'P', 12, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now())""",
        tag,
    )
    await save_link(con, tag, user, False)


async def test_the_member_list_is_fetched_once_even_when_the_member_count_drifts(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was a defect: ensure_chunked trusted guild.chunked (member_count == len(cache)). A
    member who leaves while the chunk is in flight (GUILD_MEMBER_REMOVE: count - 1, nothing
    cached to remove; the chunk then caches them) or joins during it (GUILD_MEMBER_ADD for a
    member the chunk cached first is discarded without count + 1) leaves them off by one for
    good: every cycle then re-requests the whole member list."""
    h = harness
    build_guild(h)
    h.discord.add_member(GUILD_ID, 77)
    await cache_has_roles(h)
    assert "now follows" in (await map_role(h, "town_hall", "16", TH16)).content
    service = h.bot.role_sync
    assert service is not None
    await service.wait_cycle()
    g = guild(h)
    assert g.chunked
    calls = 0
    real = discord.Guild.chunk

    async def counting(self: discord.Guild, *, cache: bool = True) -> list[discord.Member]:
        nonlocal calls
        calls += 1
        return await real(self, cache=cache)

    monkeypatch.setattr(discord.Guild, "chunk", counting)
    g._member_count = (g._member_count or 0) - 1  # a leave raced the chunk
    for _ in range(4):
        await service.wait_cycle()
    assert calls <= 1, f"the whole member list was requested {calls} times in 4 cycles"


async def test_manage_roles_from_a_channel_overwrite_is_not_enough_to_map(
    harness: Harness,
) -> None:
    """Was a defect: interaction.permissions are the invoker's permissions in the channel,
    overwrites included; Manage Roles granted by a channel overwrite is "Manage Permissions"
    of that channel only. The invoker's guild-wide roles here give no Manage Roles, yet the
    map goes through."""
    h = harness
    build_guild(h)
    await cache_has_roles(h)
    mods = 9060  # above TH16, no permission of its own
    h.discord.add_role(GUILD_ID, mods, "Mods", position=15)
    await cached(h, lambda: guild(h).get_role(mods) is not None)
    assert not int(EVERYONE_PERMISSIONS) & MANAGE_ROLES  # no guild-wide Manage Roles
    reply = await map_role(
        h, "town_hall", "16", TH16, user_id=606,
        permissions=MANAGE_GUILD | MANAGE_ROLES, member_roles=[mods],
    )  # fmt: skip
    assert "now follows" not in reply.content, "mapped with channel-level Manage Roles only"


async def test_nothing_is_queued_for_a_guild_the_bot_left(harness: Harness) -> None:
    """Was a defect: on_guild_remove dropped the guild's queue but keeps role_guilds (for a
    return); MOVE_MARKS cross-joins every role_guilds row, so every later change of every
    linked user queues a row there again, due now and never leased by anyone."""
    async with harness.pool.acquire() as con:
        await roles.map_role(con, G1, "town_hall", "12", 500)
        await roles.map_role(con, G_LEFT, "town_hall", "12", 501)
        await roles.left_guild(con, G_LEFT)  # the bot left G_LEFT
        await _player(con, "#R1", 31)
        await roles.move_marks(con)
        left = await con.fetchval(
            "SELECT count(*) FROM role_sync_queue WHERE guild_id = $1", G_LEFT
        )
    assert left == 0, f"{left} row(s) queued for a guild the bot left"


async def test_renewal_covers_only_the_batch_being_synced(
    harness: Harness,
) -> None:
    """Was a defect: RENEW_LEASES renewed every row leased_by the holder, not the batch's: a
    row whose release failed (DB blip in _release_held, which forgets _held first) is
    renewed by every later batch that runs longer than LEASE/3, so no process can take it."""
    async with harness.pool.acquire() as con:
        await roles.map_role(con, G1, "town_hall", "12", 500)
        await _player(con, "#R2", 41)
        await roles.move_marks(con)
        await con.execute("UPDATE role_sync_queue SET due_at = now() - interval '1 s'")
        old = await roles.lease_due(con, [G1], 20, timedelta(seconds=1), "H")
        assert [q.user_id for q in old] == [41]
        # batch 1 ended; its release failed. Batch 2 (another member) renews:
        await asyncio.sleep(1.2)
        await roles.renew_leases(con, "H", timedelta(minutes=2), [])
        taken = await roles.lease_due(con, [G1], 20, timedelta(minutes=2), "other")
    assert [q.user_id for q in taken] == [41], "the orphaned lease was renewed"


async def test_a_failed_sync_does_not_push_back_a_link_made_meanwhile(
    harness: Harness,
) -> None:
    """Was a defect: RETRY_LATER ignored queued_at: a link (priority 0, due now) made while the
    member's sync was failing is put off by the failed sync's back-off (up to RETRY_MAX)."""
    async with harness.pool.acquire() as con:
        await roles.map_role(con, G1, "town_hall", "12", 500)
        await _player(con, "#R3", 51)
        await roles.move_marks(con)
        await con.execute("UPDATE role_sync_queue SET tries = 6, due_at = now() - interval '1 s'")
        item = (await roles.lease_due(con, [G1], 20, timedelta(minutes=2), "H"))[0]
        await roles.queue_now(con, G1, [51], "link")  # queued again meanwhile
        await roles.retry_later(con, item, timedelta(seconds=3600), "H")
        due_in = await con.fetchval(
            "SELECT extract(epoch FROM due_at - now()) FROM role_sync_queue WHERE user_id = 51"
        )
    assert due_in <= 1, f"the new link waits {due_in:.0f} s behind the failed sync's back-off"
