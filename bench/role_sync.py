"""A full role pass over a guild of 1,000 linked members where 100 need a change.

The real bot runs in process against the fake Discord (with Discord's per-route
rate limits emulated: role changes 10 per 10 s per guild, as Discord's headers
report them) and a PostgreSQL (embedded, or BENCH_DATABASE_URL). Every member has
one linked account and holds a Town Hall role: 50 lack the role of their Town
Hall, 50 hold an old Town Hall role besides it. A second pass follows with
everyone already right.

    python -m bench.role_sync [members] [changing]

Figures: REST calls per pass (goal: one per needed change, none for members already
right), wall time of each pass, 429s met; and the same changes again with no route
limit, for the bot's own cost. Writes bench/results/role_sync.json.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import database, record
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.discord_members import ROLE_PUT
from tests.fakes.discord_server import FakeDiscord
from tests.harness import GUILD_ID, bot_on

MANAGE_ROLES = 1 << 28
BOT_ROLE = 8000
FIRST_TH = 10
TH_ROLE = {th: 8000 + th for th in range(FIRST_TH, 18)}  # TH10..TH17
MUTATIONS = ("PUT", "DELETE", "PATCH")


def town_hall(user: int) -> int:
    return FIRST_TH + user % len(TH_ROLE)


def member_roles(user: int, changing: int) -> list[int]:
    """The member's roles before the pass: right, lacking one, or with one too many."""
    th = town_hall(user)
    if user <= changing // 2:
        return []
    if user <= changing:
        older = th - 1 if th > FIRST_TH else th + 1
        return [TH_ROLE[th], TH_ROLE[older]]
    return [TH_ROLE[th]]


async def seed_database(dsn: str, members: int) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=60)
    try:
        await migrate(pool)
        async with pool.acquire() as con:
            await con.executemany(
                """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
                       war_stars, attack_wins, defense_wins, donations, donations_received,
                       builder_trophies, best_builder_trophies, builder_hall,
                       capital_contributions, fetched_at, changed_at)
                   VALUES ($1, $2, $3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now(), now())""",
                [(f"#B{u}", f"Member {u}", town_hall(u)) for u in range(1, members + 1)],
            )
            await con.executemany(
                "INSERT INTO links (tag, user_id, verified) VALUES ($1, $2, false)",
                [(f"#B{u}", u) for u in range(1, members + 1)],
            )
            # Mapped, with the first pass far away: the benchmark starts it.
            await con.execute(
                "INSERT INTO role_guilds (guild_id, next_pass_at) "
                "VALUES ($1, now() + interval '1 day')",
                GUILD_ID,
            )
            await con.executemany(
                "INSERT INTO role_maps (guild_id, kind, value, role_id) "
                "VALUES ($1, 'town_hall', $2, $3)",
                [(GUILD_ID, str(th), role) for th, role in TH_ROLE.items()],
            )
            await con.execute("DELETE FROM role_sync_queue")
    finally:
        await pool.close()


def build_guild(fake: FakeDiscord, members: int, changing: int) -> None:
    fake.add_role(GUILD_ID, BOT_ROLE, "Tracker", position=20, permissions=MANAGE_ROLES)
    for i, (th, role) in enumerate(TH_ROLE.items(), start=1):
        fake.add_role(GUILD_ID, role, f"TH{th}", position=i)
    fake.set_bot_roles(GUILD_ID, [BOT_ROLE])
    for user in range(1, members + 1):
        fake.add_member(GUILD_ID, user, roles=member_roles(user, changing))


def wrong_members(fake: FakeDiscord, members: int) -> list[int]:
    return [
        u for u in range(1, members + 1)
        if fake.member_roles(GUILD_ID, u) != {TH_ROLE[town_hall(u)]}
    ]  # fmt: skip


def guild_member(h: Any, user: int) -> Any:
    return h.bot.get_guild(GUILD_ID).get_member(user)


def mutations(fake: FakeDiscord) -> int:
    return sum(n for route, n in fake.route_calls.items() if route.split(" ")[0] in MUTATIONS)


async def full_pass(h: Any) -> dict[str, float]:
    service = h.bot.role_sync
    guild = h.bot.get_guild(GUILD_ID)
    calls_before, limited_before = mutations(h.discord), h.discord.rate_limited
    start = time.perf_counter()
    covered = await service.queue_pass(guild)
    while True:
        async with h.pool.acquire() as con:
            left = await con.fetchval("SELECT count(*) FROM role_sync_queue")
        if not left:
            break
        await service.wait_cycle()
    return {
        "members_covered": covered,
        "seconds": round(time.perf_counter() - start, 2),
        "rest_calls": mutations(h.discord) - calls_before,
        "rate_limited_429s": h.discord.rate_limited - limited_before,
    }


async def run(dsn: str, members: int, changing: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        await seed_database(dsn, members)
        fake, coc = FakeDiscord(guild_ids=(GUILD_ID,)), FakeCocApi(tokens=("test-token",))
        await fake.start()
        await coc.start()
        try:
            build_guild(fake, members, changing)
            async with bot_on(fake, coc, dsn, Path(tmp), TRACKER_ENABLED="false") as h:
                first = await full_pass(h)
                wrong = wrong_members(fake, members)
                second = await full_pass(h)
                # The bot's own cost: the same 100 changes with no route limit to wait on.
                fake.set_route_limit(ROLE_PUT, None)
                for user in range(1, changing + 1):
                    fake.add_member(GUILD_ID, user, roles=member_roles(user, changing))
                await h.discord.wait_for(
                    lambda: all(
                        {r.id for r in guild_member(h, u).roles if not r.is_default()}
                        == set(member_roles(u, changing))
                        for u in range(1, changing + 1)
                    ),
                    30,
                )
                unlimited = await full_pass(h)
                unlimited["members_wrong_after_it"] = len(wrong_members(fake, members))
        finally:
            await coc.stop()
            await fake.stop()
    return {
        "members": members,
        "needing_a_change": changing,
        "route_limit": "role add/remove: 10 per 10 s per guild (Discord's headers)",
        "first_pass": first,
        "members_wrong_after_it": len(wrong),
        "second_pass_all_right": second,
        "same_changes_without_route_limits": unlimited,
    }


def main(members: int, changing: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    with database() as dsns:
        result = asyncio.run(run(dsns["tcp"], members, changing))
    path = record("role_sync", result)
    print(result)
    print(f"written to {path}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [1000, 100][len(args) :]))
