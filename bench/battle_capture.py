"""What capturing battle logs costs in CPU: the alignment alone, a whole read (parse,
fingerprints, alignment) and a read written to PostgreSQL, for the tracker's budget.

Three measures, on the recorded 50-battle log's shape (``tests/fakes/battles.py``):

1. ``align()`` of a 50-battle log against the stored read of 50, with 0, 3 and 50
   (overflow) new battles: CPU per call (``time.process_time``, many calls).
2. A read in the bot process: ``json.loads`` of the body (what coc.py's HTTP client
   does), ``parse_battle_log`` (a fingerprint per battle), the alignment: per read.
3. The write path: ``write_log`` for PLAYERS players with stored reads, each read with
   3 new battles, 8 at a time (the poller's concurrency) on a real PostgreSQL: the bot
   process's CPU per read (asyncpg's encoding included), and wall time.

The share of one core for 10,000 active players is (2) + (3) per read, times 10,000
reads per interval, over the interval (900 s default, and 60 s: the API's cache age,
the fastest a log can change).

    python -m bench.battle_capture            # 1,000 players in the write path
    python -m bench.battle_capture 200        # quick
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta

from bench.common import database, record
from bot.battles.align import align
from bot.battles.parse import parse_battle_log
from bot.battles.store import write_log
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.battles import make_battle

ACTIVE = 10_000
INTERVALS = (900.0, 60.0)
NEW = 3


def body(first: int, count: int = 50) -> bytes:
    """The API's answer: battles first..first+count-1, newest first, as bytes."""
    items = [make_battle(n) for n in reversed(range(first, first + count))]
    return json.dumps({"items": items}).encode()


def per_call(fn, calls: int) -> float:  # type: ignore[no-untyped-def]
    """CPU microseconds per call."""
    began = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - began) / calls * 1e6


def measure_pure() -> dict[str, float]:
    old = [b.fingerprint for b in parse_battle_log(json.loads(body(0)))]
    results: dict[str, float] = {}
    for new in (0, NEW, 50):
        log = [b.fingerprint for b in parse_battle_log(json.loads(body(new)))]
        assert align(old, log).new == new
        results[f"align_{new}_new_us"] = round(per_call(lambda log=log: align(old, log), 20_000), 2)
    raw = body(NEW)
    results["read_us"] = round(
        per_call(
            lambda: align(old, [b.fingerprint for b in parse_battle_log(json.loads(raw))]), 2_000
        ),
        1,
    )
    return results


async def measure_writes(dsn: str, players: int) -> dict[str, float]:
    pool = await create_pool(dsn, min_size=8, max_size=8, command_timeout=60)
    try:
        await migrate(pool)
        tags = [f"#Q{n:07d}".replace("0", "Q").replace("1", "R") for n in range(players)]
        start = datetime(2026, 11, 20, tzinfo=UTC)
        first = parse_battle_log(json.loads(body(0)))
        second = parse_battle_log(json.loads(body(NEW)))
        async with pool.acquire() as con:
            await con.execute("TRUNCATE battle_logs, battles, battle_gaps")
            await con.executemany(
                "INSERT INTO battle_logs (player_tag, season_id) VALUES ($1, 1)",
                [(t,) for t in tags],
            )
        sem = asyncio.Semaphore(8)

        async def write(tag: str, log: list, at: datetime) -> None:  # type: ignore[type-arg]
            async with sem, pool.acquire() as con:
                await write_log(con, tag, log, at)

        await asyncio.gather(*(write(t, first, start) for t in tags))  # the baselines
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(write(t, second, start + timedelta(minutes=15)) for t in tags))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        async with pool.acquire() as con:
            stored = await con.fetchval(
                "SELECT count(*) FROM battles WHERE window_start IS NOT NULL"
            )
        assert stored == players * NEW, stored
        return {
            "players": players,
            "write_cpu_us_per_read": round(cpu / players * 1e6, 1),
            "write_wall_ms_per_read_at_8": round(wall / players * 1e3, 2),
            "writes_per_second": round(players / wall, 1),
        }
    finally:
        await pool.close()


def main(players: int) -> None:
    pure = measure_pure()
    with database(tcp=True) as dsns:
        writes = asyncio.run(measure_writes(dsns["tcp"], players))
    per_read_us = pure["read_us"] + writes["write_cpu_us_per_read"]
    shares = {
        f"share_of_one_core_{int(i)}s": round(per_read_us * ACTIVE / 1e6 / i, 4) for i in INTERVALS
    }
    result = {
        **pure,
        **writes,
        "cpu_us_per_read": round(per_read_us, 1),
        "active_players": ACTIVE,
        **shares,
    }
    path = record("battle_capture", result)
    for name, value in result.items():
        print(f"{name}: {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000)
