"""A full pass cut short by a restart carries on where it stopped, changes each member
once, and posts nothing."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from tests.cogs.roles_helpers import BOT_ROLE, MANAGE_ROLES, TH16, cached, guild, settle
from tests.fakes.discord_members import ROLE_PUT
from tests.harness import GUILD_ID, bot_on, fakes

MEMBERS = 12


async def seed(dsn: str) -> None:
    con = await asyncpg.connect(dsn)
    try:
        await con.executemany(
            """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
                   war_stars, attack_wins, defense_wins, donations, donations_received,
                   builder_trophies, best_builder_trophies, builder_hall,
                   capital_contributions, fetched_at, changed_at)
               VALUES ($1, $2, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now(), now())""",
            [(f"#R{u}", f"Member {u}") for u in range(1, MEMBERS + 1)],
        )
        await con.executemany(
            "INSERT INTO links (tag, user_id, verified) VALUES ($1, $2, false)",
            [(f"#R{u}", u + 100) for u in range(1, MEMBERS + 1)],
        )
        await con.execute(
            "INSERT INTO role_guilds (guild_id, next_pass_at) "
            "VALUES ($1, now() + interval '1 day')",
            GUILD_ID,
        )
        await con.execute(
            "INSERT INTO role_maps (guild_id, kind, value, role_id) "
            "VALUES ($1, 'town_hall', '16', $2)",
            GUILD_ID, TH16,
        )  # fmt: skip
    finally:
        await con.close()


async def test_a_pass_cut_short_by_a_restart_carries_on(db_dsn: str, tmp_path: Path) -> None:
    await seed(db_dsn)
    async with fakes() as (fake, coc):
        fake.add_role(GUILD_ID, BOT_ROLE, "Tracker", position=10, permissions=MANAGE_ROLES)
        fake.add_role(GUILD_ID, TH16, "TH16", position=1)
        fake.set_bot_roles(GUILD_ID, [BOT_ROLE])
        for u in range(1, MEMBERS + 1):
            fake.add_member(GUILD_ID, u + 100)
        # Two role changes a second: the pass takes seconds, and is stopped in the middle.
        fake.set_route_limit(ROLE_PUT, 2, per=1.0)
        async with bot_on(fake, coc, db_dsn, tmp_path) as h:
            await cached(h, lambda: guild(h).me.top_role.id == BOT_ROLE)
            assert h.bot.role_sync is not None
            assert await h.bot.role_sync.queue_pass(guild(h)) == MEMBERS
            await fake.wait_for(lambda: len(fake.member_changes) >= 3, 10)
        given = {c.user_id for c in fake.member_changes}
        assert 3 <= len(given) < MEMBERS
        async with bot_on(fake, coc, db_dsn, tmp_path) as h:
            await fake.wait_for(
                lambda: all(
                    TH16 in fake.member_roles(GUILD_ID, u + 100) for u in range(1, MEMBERS + 1)
                ),
                20,
            )
            await settle(h)
            async with h.pool.acquire() as con:
                assert await con.fetchval("SELECT count(*) FROM role_sync_queue") == 0
        # Each member changed once: none twice across the restart, none dropped.
        puts = [c.user_id for c in fake.member_changes if c.method == "PUT"]
        assert sorted(puts) == [u + 100 for u in range(1, MEMBERS + 1)]
        assert not any(fake.channel_messages.values())  # a pass posts nothing
