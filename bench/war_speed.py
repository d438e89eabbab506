"""/war player at 1,000,000 stored attacks across 10,000 clans.

A fresh embedded PostgreSQL (or BENCH_DATABASE_URL) is migrated and filled
with COPY: 10,000 clans, each with ``wars`` wars over the last year, 10
against 10, ``attacks`` attacks a war (both sides), so 1,000,000 attacks by
default; one busy clan besides fights a war every other day all year (180
wars). Then ``bot.wars.records.player_record`` (what /war player runs: the
player's wars, attacks by Town Hall difference, name) is timed over 365 days
for 1,000 random players and for the busy clan's members, with the
EXPLAIN (ANALYZE, BUFFERS) of its two range queries.

    python -m bench.war_speed [clans] [wars_per_clan] [attacks_per_war]
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from bench.common import database, record
from bench.history_speed import explain, summary, timed
from bot.wars.records import player_record
from db import war_stats
from db.migrate import migrate
from db.pool import create_pool

log = logging.getLogger(__name__)

TEAM = 10
BUSY_WARS = 180
WAR_COLUMNS = (
    "id", "clan_tag", "opponent_tag", "preparation_start", "start_time", "end_time", "state",
    "team_size", "attacks_per_member", "clan_name", "opponent_name", "first_seen_at",
    "last_seen_at", "result", "closed_at", "closed_how",
)  # fmt: skip
MEMBER_COLUMNS = ("war_id", "tag", "side", "name", "town_hall", "map_position", "attacks_used",
                  "war_end")  # fmt: skip
ATTACK_COLUMNS = (
    "war_id", "attack_order", "attacker_side", "attacker_tag", "defender_tag", "stars",
    "destruction", "duration", "attacker_th", "defender_th", "attacker_position",
    "defender_position", "war_end", "seen_at",
)  # fmt: skip


def clan_tag(n: int) -> str:
    return f"#C{n:07d}"


def player_tag(clan: int, slot: int) -> str:
    return f"#P{clan:07d}{slot:02d}"


def opponent_tag(n: int, slot: int) -> str:
    return f"#Q{n:08d}{slot:02d}"


def war_rows(
    war_id: int, clan: int, end: datetime, attacks: int, rng: random.Random
) -> tuple[tuple[object, ...], list[tuple[object, ...]], list[tuple[object, ...]]]:
    prep = end - timedelta(hours=47)
    war = (war_id, clan_tag(clan), f"#O{war_id:09d}", prep, prep + timedelta(hours=23), end,
           "warEnded", TEAM, 2, "Clan", "Opponent", prep, end, "win", end, "seen")  # fmt: skip
    ours = [(player_tag(clan, s), rng.randint(11, 17)) for s in range(TEAM)]
    theirs = [(opponent_tag(war_id, s), rng.randint(11, 17)) for s in range(TEAM)]
    used: dict[str, int] = {}
    attack_rows = []
    for order in range(1, attacks + 1):
        mine = rng.random() < 0.6
        side, enemy = (ours, theirs) if mine else (theirs, ours)
        a, d = rng.randrange(TEAM), rng.randrange(TEAM)
        if used.get(side[a][0], 0) >= 2:
            continue
        used[side[a][0]] = used.get(side[a][0], 0) + 1
        stars = rng.choice((0, 1, 2, 2, 3, 3))
        destruction = 100.0 if stars == 3 else rng.uniform(10, 99)
        who = (war_id, order, "clan" if mine else "opponent", side[a][0], enemy[d][0])
        what = (stars, destruction, rng.randint(60, 180), side[a][1], enemy[d][1])
        attack_rows.append((*who, *what, a + 1, d + 1, end, end))
    members = [
        (war_id, tag, "clan", tag, th, i + 1, used.get(tag, 0), end)
        for i, (tag, th) in enumerate(ours)
    ] + [(war_id, tag, "opponent", tag, th, i + 1, 0, end) for i, (tag, th) in enumerate(theirs)]
    return war, members, attack_rows


async def load(pool: asyncpg.Pool, clans: int, wars: int, attacks: int, now: datetime) -> int:
    rng = random.Random(7)
    war_id = 0
    total = 0
    batch: tuple[list, list, list] = ([], [], [])

    async def flush() -> None:
        async with pool.acquire() as con:
            await con.copy_records_to_table("wars", records=batch[0], columns=WAR_COLUMNS)
            await con.copy_records_to_table("war_members", records=batch[1], columns=MEMBER_COLUMNS)
            await con.copy_records_to_table("war_attacks", records=batch[2], columns=ATTACK_COLUMNS)
        for rows in batch:
            rows.clear()

    plan = [(c, wars) for c in range(clans)] + [(clans, BUSY_WARS)]
    for clan, count in plan:
        for w in range(count):
            war_id += 1
            end = now - timedelta(days=365 * (w + rng.random()) / count)
            war, members, made = war_rows(war_id, clan, end, attacks, rng)
            batch[0].append(war)
            batch[1].extend(members)
            batch[2].extend(made)
            total += len(made)
        if len(batch[2]) > 200_000:
            await flush()
    await flush()
    async with pool.acquire() as con:
        await con.execute(f"SELECT setval('wars_id_seq', {war_id})")
        await con.execute("ANALYZE wars; ANALYZE war_members; ANALYZE war_attacks")
    return total


async def measure(pool: asyncpg.Pool, clans: int, now: datetime) -> dict[str, object]:
    rng = random.Random(11)
    sample = [player_tag(rng.randrange(clans), rng.randrange(TEAM)) for _ in range(1000)]
    busy = [player_tag(clans, s) for s in range(TEAM)]
    results: dict[str, object] = {}
    async with pool.acquire() as con:
        await timed(50, lambda i: player_record(con, sample[i], 365, now))
        results["war_player_365d"] = summary(
            await timed(len(sample), lambda i: player_record(con, sample[i], 365, now))
        )
        results["war_player_365d_busy"] = summary(
            await timed(200, lambda i: player_record(con, busy[i % TEAM], 365, now))
        )
        record_ = await player_record(con, busy[0], 365, now)
        results["busy_player"] = {"wars": record_.wars, "attacks": record_.used}
        since = now - timedelta(days=365)
        results["plans"] = {
            "player_wars": await explain(con, war_stats.PLAYER_WARS, busy[0], since, now),
            "player_attacks": await explain(con, war_stats.PLAYER_ATTACKS, busy[0], since),
        }
        results["rows"] = dict(
            await con.fetchrow(
                "SELECT (SELECT count(*) FROM wars) AS wars, "
                "(SELECT count(*) FROM war_members) AS war_members, "
                "(SELECT count(*) FROM war_attacks) AS war_attacks, "
                "pg_size_pretty(pg_total_relation_size('war_attacks')) AS attacks_size"
            )
        )
    return results


async def run(dsn: str, clans: int, wars: int, attacks: int) -> dict[str, object]:
    now = datetime.now(UTC)
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=3600)
    try:
        await migrate(pool)
        started = time.perf_counter()
        stored = await load(pool, clans, wars, attacks, now)
        load_s = time.perf_counter() - started
        log.info("loaded %s attacks in %.0f s", stored, load_s)
        load_before = os.getloadavg()
        results = await measure(pool, clans, now)
        results["loadavg_1_5_15"] = {"before": load_before, "after": os.getloadavg()}
    finally:
        await pool.close()
    return {"clans": clans, "attacks_stored": stored, "load_s": round(load_s, 1), **results}


def main(clans: int, wars: int, attacks: int) -> None:
    # Over TCP, as the bot in a container reaches its database.
    with database(tcp=True) as dsns:
        results = asyncio.run(run(dsns["tcp"], clans, wars, attacks))
    path = record("war_speed", results)
    plans = results.pop("plans")
    for name, value in results.items():
        print(f"{name}: {value}")
    for name, plan in plans.items():  # type: ignore[union-attr]
        print(f"\n-- {name}\n{plan}")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = [int(a) for a in sys.argv[1:4]]
    main(*(args or [10_000, 5, 20]))
