"""The role sync queue: what queues a member, leases, and passes claimed once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg

from db import roles
from db.links import delete_link, save_link

G1, G2 = 7001, 7002
NOW = datetime(2026, 11, 27, tzinfo=UTC)


async def queued(con: asyncpg.Connection) -> set[tuple[int, int, str]]:
    """The queue once the triggers' marks are moved into it (as the bot does each cycle)."""
    await roles.move_marks(con)
    rows = await con.fetch("SELECT guild_id, user_id, reason FROM role_sync_queue")
    return {(r["guild_id"], r["user_id"], r["reason"]) for r in rows}


async def add_player(con: asyncpg.Connection, tag: str, **values: object) -> None:
    row = {"name": "P", "town_hall": 12, "trophies": 100, "clan_tag": None, "role": None} | values
    await con.execute(
        """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
               war_stars, attack_wins, defense_wins, donations, donations_received,
               builder_trophies, best_builder_trophies, builder_hall, capital_contributions,
               clan_tag, role, fetched_at)
           VALUES ($1, $2, $3, 1, $4, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, $5, $6, now())""",
        tag, row["name"], row["town_hall"], row["trophies"], row["clan_tag"], row["role"],
    )  # fmt: skip


async def test_links_and_role_relevant_changes_queue_members_of_syncing_guilds(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as con:
        await add_player(con, "#P1")
        await save_link(con, "#P1", 11, False)
        assert await queued(con) == set()  # no guild syncs yet: nothing queued
        await roles.map_role(con, G1, "town_hall", "13", 500)
        await roles.set_nickname_format(con, G2, "{name}")
        await con.execute("DELETE FROM role_sync_queue")

        await con.execute("UPDATE players SET trophies = 200 WHERE tag = '#P1'")
        assert await queued(con) == set()  # trophies change no role
        await con.execute("UPDATE players SET town_hall = 13 WHERE tag = '#P1'")
        assert await queued(con) == {(G1, 11, "account changed"), (G2, 11, "account changed")}
        await con.execute("DELETE FROM role_sync_queue")
        for column, value in (("clan_tag", "#C"), ("role", "admin"), ("name", "Q"),
                              ("clan_name", "Clan")):  # fmt: skip
            await con.execute(f"UPDATE players SET {column} = $1 WHERE tag = '#P1'", value)
            assert {g for g, _, _ in await queued(con)} == {G1, G2}, column
            await con.execute("DELETE FROM role_sync_queue")

        # League roles follow the tier of full profiles, not players.league (which clan
        # lists write with older names).
        await con.execute("UPDATE players SET league = 'Legend League' WHERE tag = '#P1'")
        assert await queued(con) == set()
        await con.execute("INSERT INTO battle_logs (player_tag, tier_id) VALUES ('#P1', 105000034)")
        assert {g for g, _, _ in await queued(con)} == {G1, G2}
        await con.execute("DELETE FROM role_sync_queue")
        await con.execute("UPDATE battle_logs SET tier_id = 105000033 WHERE player_tag = '#P1'")
        assert await queued(con) == {(G1, 11, "league changed"), (G2, 11, "league changed")}
        await con.execute("DELETE FROM role_sync_queue")
        # A verified link taken over queues both the old and the new owner.
        await save_link(con, "#P1", 12, True)
        assert {(g, u) for g, u, _ in await queued(con)} == {(G1, 11), (G1, 12), (G2, 11), (G2, 12)}
        await con.execute("DELETE FROM role_sync_queue")
        assert await delete_link(con, "#P1", 12)
        assert await queued(con) == {(G1, 12, "link changed"), (G2, 12, "link changed")}


async def test_a_member_queued_again_during_a_sync_is_synced_again(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "verified", "", 1)
        await roles.queue_pass(con, G1, [21, 22])
        leased = await roles.lease_due(con, [G1], 10, timedelta(minutes=2))
        assert {i.user_id for i in leased} == {21, 22}
        # Leased rows are not handed out twice.
        assert await roles.lease_due(con, [G1], 10, timedelta(minutes=2)) == []
        # Member 22 changes while its sync runs.
        await roles.queue_now(con, G1, [22], "account changed")
        for item in leased:
            await roles.finish(con, item)
        again = await roles.lease_due(con, [G1], 10, timedelta(minutes=2))
        assert [(i.user_id, i.reason) for i in again] == [(22, "account changed")]
        await roles.finish(con, again[0])
        assert await queued(con) == set()


async def test_other_guilds_rows_are_not_leased(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "verified", "", 1)
        await roles.map_role(con, G2, "verified", "", 2)
        await roles.queue_now(con, G1, [1], "x")
        await roles.queue_now(con, G2, [2], "x")
        got = await roles.lease_due(con, [G2], 10, timedelta(minutes=2))
        assert [(i.guild_id, i.user_id) for i in got] == [(G2, 2)]


async def test_a_retry_waits_and_a_lost_lease_comes_back(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "verified", "", 1)
        await roles.queue_now(con, G1, [1, 2], "x")
        first = await roles.lease_due(con, [G1], 10, timedelta(seconds=-1))  # expired at once
        await roles.retry_later(con, first[0], timedelta(hours=1))
        # A process that died holding a lease: the row is due again once it runs out.
        back = await roles.lease_due(con, [G1], 10, timedelta(minutes=2))
        assert [i.user_id for i in back] == [first[1].user_id]
        assert back[0].tries == 2


async def test_a_full_pass_is_claimed_by_one_process(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as a, pool.acquire() as b:
        await roles.map_role(a, G1, "verified", "", 1)
        hour = timedelta(hours=1)
        claims = [await roles.claim_passes(a, [G1], hour), await roles.claim_passes(b, [G1], hour)]
        assert sorted(map(len, claims)) == [0, 1]
        await roles.pass_now(a, G1)
        assert await roles.claim_passes(b, [G1, G2], hour) == [G1]


async def test_a_guild_with_nothing_left_stops_syncing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "town_hall", "9", 1)
        await roles.set_nickname_format(con, G1, "{name}")
        assert await roles.unmap_role(con, G1, "town_hall", "9") == 1
        assert await roles.guild_config(con, G1) is not None  # nicknames still synced
        await roles.set_nickname_format(con, G1, None)
        assert await roles.guild_config(con, G1) is None
        await save_link(con, "#P9", 5, False)
        assert await queued(con) == set()


async def test_role_problems_change_once(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "town_hall", "9", 1)
        await roles.map_role(con, G1, "town_hall", "10", 1)
        assert await roles.set_role_problem(con, G1, 1, "above the bot")
        assert not await roles.set_role_problem(con, G1, 1, "above the bot")
        maps = await roles.guild_maps(con, G1)
        assert [m.problem for m in maps] == ["above the bot", "above the bot"]
        assert [m.value for m in maps] == ["9", "10"]  # Town Halls in number order
        assert await roles.set_role_problem(con, G1, 1, None)
        assert await roles.note_owner(con, G1) and not await roles.note_owner(con, G1)


async def test_a_lease_that_ran_out_is_not_finished_by_its_old_holder(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "verified", "", 1)
        await roles.queue_now(con, G1, [1], "x")
        (old,) = await roles.lease_due(con, [G1], 10, timedelta(seconds=-1), "A")
        (new,) = await roles.lease_due(con, [G1], 10, timedelta(minutes=2), "B")
        await roles.finish(con, old, "A")  # A was slow: B holds the member now
        await roles.retry_later(con, old, timedelta(0), "A")
        assert await con.fetchval("SELECT leased_by FROM role_sync_queue") == "B"
        await roles.finish(con, new, "B")
        assert await queued(con) == set()


async def test_a_link_goes_before_a_whole_pass(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as con:
        await roles.map_role(con, G1, "verified", "", 1)
        await roles.queue_pass(con, G1, list(range(100, 150)))
        await save_link(con, "#P1", 7, False)  # marked by the trigger after the pass
        await roles.move_marks(con)
        first = await roles.lease_due(con, [G1], 1, timedelta(minutes=2))
        assert [(i.user_id, i.reason) for i in first] == [(7, "link changed")]
        # A pass leaves a member queued for a change as they are.
        await roles.queue_now(con, G1, [120], "joined")
        await roles.queue_pass(con, G1, [120])
        row = await con.fetchrow("SELECT priority, reason FROM role_sync_queue WHERE user_id = 120")
        assert (row["priority"], row["reason"]) == (0, "joined")


async def test_tracker_batches_touching_two_users_alts_do_not_deadlock(pool: asyncpg.Pool) -> None:
    """Two batches (two tracker workers) writing alts of the same two users in opposite
    user order: the triggers only append marks, so neither waits for the other."""
    async with pool.acquire() as con:
        for tag in ("#A1", "#A2", "#B1", "#B2"):
            await add_player(con, tag)
        for tag, user in (("#A1", 11), ("#B2", 11), ("#B1", 12), ("#A2", 12)):
            await save_link(con, tag, user, False)
        await roles.map_role(con, G1, "town_hall", "16", 500)
    first, second = asyncio.Event(), asyncio.Event()

    async def batch(tags: tuple[str, str], mine: asyncio.Event, other: asyncio.Event) -> None:
        async with pool.acquire() as con, con.transaction():
            await con.execute("UPDATE players SET town_hall = 16 WHERE tag = $1", tags[0])
            mine.set()
            await asyncio.wait_for(other.wait(), 10)
            await con.execute("UPDATE players SET town_hall = 16 WHERE tag = $1", tags[1])

    await asyncio.wait_for(
        asyncio.gather(batch(("#A1", "#B1"), first, second), batch(("#A2", "#B2"), second, first)),
        20,
    )
    async with pool.acquire() as con:
        assert {(g, u) for g, u, _ in await queued(con)} == {(G1, 11), (G1, 12)}
