"""The /player database path with a pool against a connection per use.

The seed's claim: a pool is "up to 6 times faster than manually establishing
connections". Each iteration runs what /player does with the database:
upsert the profile, read it back. Both ways run on the same server in one run.

    python -m bench.pool_vs_connect [iterations]
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import asyncpg

from bench.common import database, record
from bot.profile import parse_player
from bot.timeutil import utcnow
from db import players
from db.migrate import migrate
from db.model import PlayerProfile
from db.pool import connect, create_pool

PAYLOAD = Path(__file__).resolve().parents[1] / "tests" / "fakes" / "payloads" / "player_th18.json"


async def lookup(con: asyncpg.Connection, profile: PlayerProfile) -> None:
    await players.upsert_profile(con, profile, utcnow())
    stored = await players.get_profile(con, profile.tag)
    assert stored == profile


async def with_pool(pool: asyncpg.Pool, profile: PlayerProfile, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        async with pool.acquire() as con:
            await lookup(con, profile)
        times.append(time.perf_counter() - start)
    return times


async def connect_each_time(dsn: str, profile: PlayerProfile, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        con = await connect(dsn)
        try:
            await lookup(con, profile)
        finally:
            await con.close()
        times.append(time.perf_counter() - start)
    return times


async def measure(dsn: str, n: int) -> dict[str, float]:
    profile = parse_player(json.loads(PAYLOAD.read_text()))
    pool = await create_pool(dsn, min_size=1, max_size=1, command_timeout=60)
    try:
        await migrate(pool)
        await with_pool(pool, profile, 50)  # warm up
        pooled = await with_pool(pool, profile, n)
        fresh = await connect_each_time(dsn, profile, n)
    finally:
        await pool.close()
    p_ms, f_ms = statistics.median(pooled) * 1000, statistics.median(fresh) * 1000
    return {
        "iterations": n,
        "pool_median_ms": round(p_ms, 3),
        "connect_median_ms": round(f_ms, 3),
        "pool_per_s": round(n / sum(pooled)),
        "connect_per_s": round(n / sum(fresh)),
        "ratio_median": round(f_ms / p_ms, 2),
        "ratio_throughput": round(sum(fresh) / sum(pooled), 2),
    }


async def main(n: int) -> None:
    results = {}
    with database() as dsns:
        for transport, dsn in dsns.items():
            results[transport] = await measure(dsn, n)
            r = results[transport]
            print(
                f"{transport:6s}: pool {r['pool_median_ms']:.3f} ms, connect-per-use "
                f"{r['connect_median_ms']:.3f} ms (median); pool is {r['ratio_median']}x faster "
                f"({r['ratio_throughput']}x in throughput)"
            )
    print("written to", record("pool_vs_connect", results))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
