"""/roles and /nickname through the fake Discord: roles and nicknames follow links and
what the tracker sees, only mapped roles are touched, Discord's rules are obeyed."""

from __future__ import annotations

import logging

import pytest

from bot.roles.member_sync import REASON
from tests.cogs.activity_helpers import poll_at
from tests.cogs.roles_helpers import (
    ABOVE,
    BOT_ROLE,
    CLAN_A,
    CLAN_A_ROLE,
    CLAN_B,
    CLAN_B_ROLE,
    ELDER_A,
    MANAGE_NICKNAMES,
    OWNER,
    TH16,
    TH17,
    UNMANAGED,
    VERIFIED,
    build_guild,
    cache_has_roles,
    cached,
    future_clock,
    guild,
    map_role,
    member_option,
    roles_of,
    settle,
)
from tests.fakes.coc_api import make_player
from tests.harness import GUILD_ID, MANAGE_GUILD, Harness, opt, sub

USER = 77
TAG = "#2PP0JCCL"


@pytest.fixture
async def synced(harness: Harness) -> Harness:
    build_guild(harness)
    harness.discord.add_member(GUILD_ID, USER, roles=[UNMANAGED])
    await cache_has_roles(harness)
    for kind, value, role in (
        ("town_hall", "16", TH16), ("town_hall", "17", TH17), ("clan", CLAN_A, CLAN_A_ROLE),
        ("clan", CLAN_B, CLAN_B_ROLE), ("clan_elder", CLAN_A, ELDER_A), ("verified", "-", VERIFIED),
    ):  # fmt: skip
        reply = await map_role(harness, kind, value, role)
        assert "now follows" in reply.content, reply.content
    return harness


async def track_clans(harness: Harness) -> None:
    from db import guild_tracking

    async with harness.pool.acquire() as con:
        for clan in (CLAN_A, CLAN_B):
            await guild_tracking.track_clan(con, GUILD_ID, clan, f"Clan {clan}", 1)


@pytest.fixture
async def harness(harness: Harness) -> Harness:
    await track_clans(harness)
    return harness


def player(
    th: int = 16, clan: str | None = CLAN_A, role: str = "member", name: str = "Chief"
) -> dict:
    return make_player(
        TAG, name=name, town_hall=th, clan=(clan, f"Clan {clan}") if clan else None, role=role
    )


async def link(harness: Harness, token: str | None = None, user: int = USER) -> None:
    options = [opt("tag", TAG)] + ([opt("token", token)] if token else [])
    reply = await harness.run("link", *options, user_id=user)
    assert "Linked" in reply.content, reply.content


async def test_link_gives_roles_at_once_and_keeps_every_other_role(synced: Harness) -> None:
    h = synced
    h.coc.set_player(player(th=16, clan=CLAN_A, role="admin"))
    h.coc.set_token_valid(TAG, "tok")
    await link(h, "tok")
    await h.discord.wait_for(
        lambda: roles_of(h, USER) >= {TH16, CLAN_A_ROLE, ELDER_A, VERIFIED}, 10
    )
    await settle(h)
    assert roles_of(h, USER) == {UNMANAGED, TH16, CLAN_A_ROLE, ELDER_A, VERIFIED}
    changes = [c for c in h.discord.member_changes if c.user_id == USER]
    assert len(changes) == 4  # one call per role given, none for what was already right
    assert all(c.reason == REASON for c in changes)
    # A full pass over members already right makes no call.
    before = len(h.discord.member_changes)
    await h.run("roles", sub("sync"), permissions=MANAGE_GUILD)
    await settle(h)
    await settle(h)
    assert len(h.discord.member_changes) == before


async def test_unlink_takes_only_the_mapped_roles_away(synced: Harness) -> None:
    h = synced
    h.coc.set_player(player())
    await link(h)
    await h.discord.wait_for(lambda: {TH16, CLAN_A_ROLE} <= roles_of(h, USER), 10)
    reply = await h.run("unlink", opt("tag", TAG), user_id=USER)
    assert "Unlinked" in reply.content
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED}, 10)


async def test_town_hall_upgrade_clan_move_and_rank_change_follow_the_tracker(
    synced: Harness,
) -> None:
    h = synced
    clock = future_clock()
    h.coc.set_player(player(th=16, clan=CLAN_A))
    await link(h)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH16, CLAN_A_ROLE}, 10)

    h.coc.set_player(player(th=17, clan=CLAN_A))
    await poll_at(h, clock)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH17, CLAN_A_ROLE}, 10)

    h.coc.set_player(player(th=17, clan=CLAN_A, role="admin"))
    await poll_at(h, clock)
    await h.discord.wait_for(
        lambda: roles_of(h, USER) == {UNMANAGED, TH17, CLAN_A_ROLE, ELDER_A}, 10
    )

    h.coc.set_player(player(th=17, clan=CLAN_B, role="member"))
    await poll_at(h, clock)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH17, CLAN_B_ROLE}, 10)


async def test_highest_town_hall_of_all_accounts_only(synced: Harness) -> None:
    h = synced
    second = "#9QQ"
    h.coc.set_player(player(th=16, clan=None))
    h.coc.set_player(make_player(second, name="Alt", town_hall=17))
    await link(h)
    reply = await h.run("link", opt("tag", second), user_id=USER)
    assert "Linked" in reply.content
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH17}, 10)


async def test_a_role_above_the_bot_or_without_manage_roles_is_refused_with_the_fix(
    harness: Harness,
) -> None:
    h = harness
    build_guild(h)
    await cache_has_roles(h)
    reply = await map_role(h, "town_hall", "16", ABOVE)
    assert "drag the bot's role above it" in reply.content and reply.ephemeral
    reply = await map_role(h, "town_hall", "16", BOT_ROLE)
    assert "drag the bot's role above it" in reply.content
    h.discord.set_role_permissions(GUILD_ID, BOT_ROLE, 0)
    await cached(h, lambda: not h.bot.get_guild(GUILD_ID).me.guild_permissions.manage_roles)  # type: ignore[union-attr]
    reply = await map_role(h, "town_hall", "16", TH16)
    assert "Manage Roles" in reply.content
    async with h.pool.acquire() as con:
        assert await con.fetchval("SELECT count(*) FROM role_maps") == 0


async def test_a_role_moved_above_the_bot_later_is_skipped_logged_once_and_shown(
    synced: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = synced
    h.coc.set_player(player(th=16))
    h.discord.move_role(GUILD_ID, TH16, 15)  # an admin drags TH16 above the bot
    await cached(h, lambda: h.bot.get_guild(GUILD_ID).get_role(TH16).position == 15)  # type: ignore[union-attr]
    with caplog.at_level(logging.INFO, logger="bot.roles"):
        await link(h)
        await h.discord.wait_for(lambda: CLAN_A_ROLE in roles_of(h, USER), 10)
        await h.run("roles", sub("sync"), permissions=MANAGE_GUILD)
        await settle(h)
        await settle(h)
    assert TH16 not in roles_of(h, USER)
    assert not [c for c in h.discord.member_changes if c.role_id == TH16]  # never even tried
    logged = [
        r for r in caplog.records if "skipped" in r.getMessage() and str(TH16) in r.getMessage()
    ]
    assert len(logged) == 1
    shown = await h.run("roles", sub("show"), permissions=MANAGE_GUILD)
    assert "drag the bot's role above it" in shown.embeds[0]["description"]
    # Put back under the bot: the next sync gives it.
    h.discord.move_role(GUILD_ID, TH16, 1)
    await h.run("roles", sub("sync"), permissions=MANAGE_GUILD)
    await h.discord.wait_for(lambda: TH16 in roles_of(h, USER), 10)


async def test_missing_manage_roles_later_skips_every_role(synced: Harness) -> None:
    h = synced
    h.coc.set_player(player())
    h.discord.set_role_permissions(GUILD_ID, BOT_ROLE, MANAGE_NICKNAMES)
    await cached(h, lambda: not h.bot.get_guild(GUILD_ID).me.guild_permissions.manage_roles)  # type: ignore[union-attr]
    await link(h)
    await settle(h)
    await settle(h)
    assert roles_of(h, USER) == {UNMANAGED}
    shown = await h.run("roles", sub("show"), permissions=MANAGE_GUILD)
    assert "Manage Roles" in shown.embeds[0]["description"]


async def test_nicknames_follow_the_main_account_and_skip_the_owner_once(
    synced: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = synced
    h.discord.add_member(GUILD_ID, OWNER)
    h.coc.set_player(player(name="Chief", th=16))
    reply = await h.run(
        "nickname", sub("set", opt("format", "{name} | TH{th}")), permissions=MANAGE_GUILD
    )
    assert "cannot be renamed by a bot" in reply.content
    await link(h)
    await h.discord.wait_for(lambda: h.discord.member_nick(GUILD_ID, USER) == "Chief | TH16", 10)
    # The owner links too: never renamed, said once.
    owner_tag = "#8QQ"
    h.coc.set_player(make_player(owner_tag, name="Boss", town_hall=15))
    with caplog.at_level(logging.INFO, logger="bot.roles"):
        assert "Linked" in (await h.run("link", opt("tag", owner_tag), user_id=OWNER)).content
        await settle(h)
        await h.run("roles", sub("sync"), permissions=MANAGE_GUILD)
        await settle(h)
        await settle(h)
    assert h.discord.member_nick(GUILD_ID, OWNER) is None
    assert len([r for r in caplog.records if "owner" in r.getMessage()]) == 1
    shown = await h.run("roles", sub("show"), permissions=MANAGE_GUILD)
    assert "cannot be renamed" in str(shown.embeds[0]["fields"])
    # A long name is shortened at the name, with an ellipsis, within 32 characters.
    h.coc.set_player(player(name="Averyveryveryveryverylongname", th=16))
    await poll_at(h, future_clock())
    await h.discord.wait_for(
        lambda: (h.discord.member_nick(GUILD_ID, USER) or "").endswith("… | TH16"), 10
    )
    assert len(h.discord.member_nick(GUILD_ID, USER) or "") <= 32
    # Off: no more changes.
    assert "no longer" in (await h.run("nickname", sub("off"), permissions=MANAGE_GUILD)).content
    h.coc.set_player(player(name="Renamed", th=16))
    await poll_at(h, future_clock())
    await settle(h)
    await settle(h)
    assert (h.discord.member_nick(GUILD_ID, USER) or "").endswith("… | TH16")


async def test_unlinking_clears_only_a_nickname_the_bot_gave(synced: Harness) -> None:
    h = synced
    h.coc.set_player(player(name="Chief"))
    await h.run("nickname", sub("set", opt("format", "{name}")), permissions=MANAGE_GUILD)
    await link(h)
    await h.discord.wait_for(lambda: h.discord.member_nick(GUILD_ID, USER) == "Chief", 10)
    await h.run("unlink", opt("tag", TAG), user_id=USER)
    await h.discord.wait_for(lambda: h.discord.member_nick(GUILD_ID, USER) is None, 10)


async def test_429s_are_ridden_out(synced: Harness) -> None:
    h = synced
    h.coc.set_player(player(th=16, clan=CLAN_A, role="admin"))
    h.discord.force_429(3, retry_after=0.3)
    await link(h)
    await h.discord.wait_for(
        lambda: roles_of(h, USER) == {UNMANAGED, TH16, CLAN_A_ROLE, ELDER_A}, 20
    )
    assert h.discord.rate_limited >= 3


async def test_sync_one_member_and_show(synced: Harness) -> None:
    h = synced
    h.coc.set_player(player(th=17, clan=CLAN_B))
    async with h.pool.acquire() as con:
        from db.links import save_link

        await save_link(con, TAG, USER, False)  # linked while the bot was away
        await con.execute("DELETE FROM role_sync_queue")
    option, resolved = member_option(h, USER)
    reply = await h.run("roles", sub("sync", option), resolved=resolved, permissions=MANAGE_GUILD)
    # The account was never read: nothing follows from it but the link itself.
    assert "Already in sync" in reply.content
    shown = await h.run("roles", sub("show"), permissions=MANAGE_GUILD)
    text = shown.embeds[0]["description"]
    assert "Town Hall 16" in text and f"<@&{TH16}>" in text and f"members of {CLAN_A}" in text


@pytest.mark.parametrize(
    ("kind", "value", "words"),
    [
        ("town_hall", "19", "1 to 18"),
        ("town_hall", "abc", "1 to 18"),
        ("league", "Diamond League", "not a league tier"),
        ("clan", "#9999", "not tracked"),
        ("clan_leader", "not a tag!", "not a valid"),
    ],
)
async def test_bad_values_are_refused(harness: Harness, kind: str, value: str, words: str) -> None:
    build_guild(harness)
    await cache_has_roles(harness)
    reply = await map_role(harness, kind, value, TH16)
    assert words in reply.content and reply.ephemeral


async def test_league_roles_by_tier_name(synced: Harness) -> None:
    h = synced
    reply = await map_role(h, "league", "legend league", TH16 + 0)
    assert "Legend League" in reply.content
    choices = await h.complete(
        "roles",
        [sub("map", opt("kind", "league"), {**opt("value", "electro"), "focused": True})],
        permissions=MANAGE_GUILD,
    )
    assert [c["name"] for c in choices][:3] == [
        "Electro League 33",
        "Electro League 32",
        "Electro League 31",
    ]


async def test_managers_only(harness: Harness) -> None:
    reply = await harness.run("roles", sub("show"), permissions=0)
    assert "Manage Server" in reply.content or "permission" in reply.content.lower()


async def test_a_member_who_joins_with_a_link_gets_roles_at_once(synced: Harness) -> None:
    h = synced
    newcomer = 88
    h.coc.set_player(player(th=17, clan=CLAN_B))
    reply = await h.run("link", opt("tag", TAG), user_id=newcomer, guild_id=None)  # in a DM
    assert "Linked" in reply.content
    await settle(h)
    h.discord.add_member(GUILD_ID, newcomer)
    await h.discord.wait_for(lambda: roles_of(h, newcomer) == {TH17, CLAN_B_ROLE}, 10)


async def test_a_deleted_role_is_skipped_and_shown(synced: Harness) -> None:
    h = synced
    h.discord.delete_role(GUILD_ID, TH16)
    await cached(h, lambda: guild(h).get_role(TH16) is None)
    h.coc.set_player(player(th=16))
    await link(h)
    await h.discord.wait_for(lambda: CLAN_A_ROLE in roles_of(h, USER), 10)
    shown = await h.run("roles", sub("show"), permissions=MANAGE_GUILD)
    assert "no longer exists" in shown.embeds[0]["description"]


async def test_only_verified_links_count_where_only_verified_links_are_accepted(
    synced: Harness,
) -> None:
    h = synced
    h.coc.set_player(player(th=16, clan=CLAN_A))
    await link(h)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH16, CLAN_A_ROLE}, 10)
    await h.run("link-settings", opt("require_verified", True, type=5), permissions=MANAGE_GUILD)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED}, 10)


async def test_a_member_above_the_bot_keeps_their_nickname(synced: Harness) -> None:
    h = synced
    h.discord.add_member(GUILD_ID, USER, roles=[ABOVE])
    await cached(h, lambda: guild(h).get_member(USER).top_role.id == ABOVE)  # type: ignore[union-attr]
    h.coc.set_player(player(name="Chief", th=16))
    await h.run("nickname", sub("set", opt("format", "{name}")), permissions=MANAGE_GUILD)
    await link(h)
    await h.discord.wait_for(lambda: TH16 in roles_of(h, USER), 10)  # roles still follow
    await settle(h)
    assert h.discord.member_nick(GUILD_ID, USER) is None
    assert not [c for c in h.discord.member_changes if c.method == "PATCH"]


async def test_a_429_discord_py_gives_up_on_is_retried_later_and_the_loop_lives(
    synced: Harness,
) -> None:
    h = synced
    service = h.bot.role_sync
    assert service is not None
    service.retry_base = 0.2
    service.ban_pause = 0.2
    h.coc.set_player(player(th=16, clan=None))
    h.discord.force_429(5, retry_after=0.05)  # discord.py tries 5 times, then raises
    await link(h)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH16}, 20)
    assert h.discord.rate_limited >= 5
    assert h.bot.supervisor.healthy()


async def test_league_roles_follow_the_tier_of_full_profiles(synced: Harness) -> None:
    h = synced
    legend, electro = TH16 + 200, TH16 + 201
    h.discord.add_role(GUILD_ID, legend, "Legend", position=8)
    h.discord.add_role(GUILD_ID, electro, "Electro 33", position=9)
    await cached(h, lambda: guild(h).get_role(electro) is not None)
    for name, role in (("Legend League", legend), ("Electro League 33", electro)):
        assert "now follows" in (await map_role(h, "league", name, role)).content
    clock = future_clock()
    h.coc.set_player({**player(th=16, clan=None), **_tier("Electro League 33")})
    await link(h)
    await poll_at(h, clock)  # the tracker's full profile names the tier
    await h.discord.wait_for(lambda: electro in roles_of(h, USER), 10)
    h.coc.set_player({**player(th=16, clan=None), **_tier("Legend League")})
    await poll_at(h, clock)
    await h.discord.wait_for(lambda: roles_of(h, USER) == {UNMANAGED, TH16, legend}, 10)


def _tier(name: str) -> dict:
    from tests.fakes.coc_api import make_player as made

    return {"leagueTier": made(TAG, league=name)["leagueTier"]}
