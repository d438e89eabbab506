"""What the role sync triggers cost the tracker's write path.

Every write of a player runs ``queue_role_sync_for_player`` (migration 0009). This
times an UPDATE of 10,000 players, executemany as the tracker writes them, with the
trigger on and off: a change no role follows (trophies), and a Town Hall change that
queues each account's owner in one syncing guild.

    python -m bench.role_trigger [players]

Writes bench/results/role_trigger.json.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import asyncpg

from bench.common import database, record
from db.migrate import migrate
from db.pool import create_pool

ROUNDS = 5


async def timed(con: asyncpg.Connection, sql: str, rows: list[tuple[object, ...]]) -> float:
    start = time.perf_counter()
    async with con.transaction():
        await con.executemany(sql, rows)
    return time.perf_counter() - start


async def run(dsn: str, players: int) -> dict[str, object]:
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=600)
    try:
        await migrate(pool)
        async with pool.acquire() as con:
            tags = [f"#T{i}" for i in range(players)]
            await con.executemany(
                """INSERT INTO players (tag, name, town_hall, exp_level, trophies, best_trophies,
                       war_stars, attack_wins, defense_wins, donations, donations_received,
                       builder_trophies, best_builder_trophies, builder_hall,
                       capital_contributions, fetched_at)
                   VALUES ($1, 'P', 10, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, now())""",
                [(t,) for t in tags],
            )
            await con.executemany(
                "INSERT INTO links (tag, user_id, verified) VALUES ($1, $2, false)",
                [(t, i) for i, t in enumerate(tags)],
            )
            await con.execute("INSERT INTO role_guilds (guild_id) VALUES (1)")
            trophies = "UPDATE players SET trophies = trophies + $2 WHERE tag = $1"
            town_hall = "UPDATE players SET town_hall = town_hall + $2 WHERE tag = $1"
            rows = [(t, 1) for t in tags]
            figures: dict[str, list[float]] = {}
            await timed(con, trophies, rows)  # warm-up: the first pass over fresh pages
            # Rounds interleaved, so neither state gets the warmer table.
            for _ in range(ROUNDS):
                for state in ("ENABLE", "DISABLE"):
                    await con.execute(f"ALTER TABLE players {state} TRIGGER players_mark_role_sync")
                    for name, sql in (("trophies", trophies), ("town_hall", town_hall)):
                        await con.execute("DELETE FROM role_sync_dirty")
                        await con.execute("VACUUM players")
                        key = f"{name}, trigger {state.lower()}d"
                        figures.setdefault(key, []).append(await timed(con, sql, rows))
            await con.execute("ALTER TABLE players ENABLE TRIGGER players_mark_role_sync")
    finally:
        await pool.close()
    per_player = {k: round(statistics.median(v) / players * 1e6, 2) for k, v in figures.items()}
    return {"players": players, "rounds": ROUNDS, "median_us_per_player_update": per_player}


def main(players: int) -> None:
    with database() as dsns:
        result = asyncio.run(run(dsns["tcp"], players))
    path = record("role_trigger", result)
    print(result)
    print(f"written to {path}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
