"""One tracker sweep over 10,000 players against the fake API, and the naive way.

10% of the players change per sweep. Reports players per second, CPU
milliseconds per player, resident memory per tracked player, and the same
sweep done the naive way (coc.py ``get_player`` models, one statement per
row), in the same run, on the same database and fake API.

    python -m bench.tracker_sweep [players]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import asyncpg
import coc

from bench.common import database, record
from bench.fake_api_process import bench_tags
from bot.clash import ClashApi
from bot.settings import load_settings
from bot.tracker.engine import Tracker, TrackerOptions
from db.migrate import migrate
from db.pool import create_pool

ROOT = Path(__file__).resolve().parents[1]

# Benchmark-only SQL (the product's queries live in db/).
SEED_TRACKED = """
INSERT INTO tracked_players (guild_id, tag, direct, added_by)
SELECT 1, unnest($1::text[]), true, 1
"""
SEED_POLLS = "INSERT INTO player_polls (tag, next_poll_at) SELECT unnest($1::text[]), now()"
ALL_DUE = "UPDATE player_polls SET next_poll_at = now() - interval '1 s'"
NAIVE_GET = "SELECT trophies, donations, best_trophies FROM players WHERE tag = $1"
NAIVE_HISTORY = """
INSERT INTO player_history (tag, observed_at, trophies, best_trophies, donations,
    donations_received, attack_wins, defense_wins, war_stars, exp_level, town_hall,
    builder_trophies, capital_contributions, donations_total, received_total)
VALUES ($1, now(), $2, $3, $4, 0, 0, 0, 0, 0, 0, 0, 0, $5, 0)
"""
NAIVE_UPDATE = "UPDATE players SET trophies = $2, donations = $3, fetched_at = now() WHERE tag = $1"


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Peak:
    """Samples resident memory while a block runs."""

    def __init__(self) -> None:
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_kib())
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> Peak:
        self.peak = rss_kib()
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, rss_kib())


class FakeApi:
    def __init__(self, count: int) -> None:
        self.count = count
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> str:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fake_api_process",
            str(self.count),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        return (await self.proc.stdout.readline()).decode().strip()

    async def mutate(self, fraction: float, seed: int) -> int:
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(f"mutate {fraction} {seed}\n".encode())
        await self.proc.stdin.drain()
        return int((await self.proc.stdout.readline()).split()[1])

    async def stop(self) -> None:
        if self.proc and self.proc.stdin:
            self.proc.stdin.close()
            await self.proc.wait()


async def timed(coro_factory) -> dict[str, float]:  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    async with Peak() as peak:
        before = rss_kib()
        polled = await coro_factory()
    return {
        "polled": polled,
        "seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "rss_before_kib": before,
        "rss_peak_kib": peak.peak,
    }


async def naive_sweep(client: coc.Client, pool: asyncpg.Pool, tags: list[str], width: int) -> int:
    """The common hand-written loop: full models, one statement per row."""
    gate = asyncio.Semaphore(width)

    async def one(tag: str) -> None:
        async with gate:
            player = await client.get_player(tag)
            async with pool.acquire() as con:
                row = await con.fetchrow(NAIVE_GET, tag)
                if row is None or (row["trophies"], row["donations"]) != (
                    player.trophies,
                    player.donations,
                ):
                    await con.execute(
                        NAIVE_HISTORY,
                        tag,
                        player.trophies,
                        player.best_trophies,
                        player.donations,
                        player.donations,
                    )
                    await con.execute(NAIVE_UPDATE, tag, player.trophies, player.donations)

    await asyncio.gather(*(one(t) for t in tags))
    return len(tags)


def summarise(name: str, r: dict[str, float], players: int) -> dict[str, float]:
    out = {
        "players_per_s": round(r["polled"] / r["seconds"]),
        "seconds": round(r["seconds"], 2),
        "cpu_ms_per_player": round(r["cpu_seconds"] * 1000 / r["polled"], 3),
        "rss_growth_kib_per_player": round((r["rss_peak_kib"] - r["rss_before_kib"]) / players, 3),
        "rss_peak_mib": round(r["rss_peak_kib"] / 1024, 1),
    }
    print(f"{name:>15}: {out}")
    return out


async def main(players: int, dsn: str) -> None:
    api = FakeApi(players)
    base_url = await api.start()
    tags = bench_tags(players)
    try:
        settings = load_settings(
            {
                "DISCORD_TOKEN": "x",
                "COC_TOKENS": "bench-token",
                "COC_API_BASE_URL": base_url,
                "COC_THROTTLE_LIMIT": "100000",
                "DATABASE_URL": dsn,
                "TRACKER_CONCURRENCY": "64",
                "TRACK_INTERVAL_SECONDS": "3600",
            }
        )
        pool = await create_pool(dsn, min_size=2, max_size=10, command_timeout=60)
        assert pool is not None
        await migrate(pool)
        async with pool.acquire() as con:
            await con.execute(SEED_TRACKED, tags)
            await con.execute(SEED_POLLS, tags)
        clash = ClashApi(settings)
        await clash.start()
        tracker = Tracker(
            settings=settings,
            pool=pool,
            clash=clash,
            options=TrackerOptions(batch_size=1000),
        )
        idle_rss = rss_kib()
        results = {}
        first = await timed(tracker.run_once)
        results["first_sweep"] = summarise("first sweep", first, players)
        changed = await api.mutate(0.10, 1)
        async with pool.acquire() as con:
            await con.execute(ALL_DUE)
        sweep = await timed(tracker.run_once)
        results["sweep_10pct"] = summarise("sweep (10%)", sweep, players)
        async with pool.acquire() as con:
            rows = await con.fetchval("SELECT count(*) FROM player_history")
        results["history_rows_after"] = rows
        results["changed_per_sweep"] = changed
        results["rss_after_kib_per_player"] = round((rss_kib() - idle_rss) / players, 3)

        await api.mutate(0.10, 2)
        naive_client = coc.Client(
            base_url=base_url,
            throttle_limit=100000,
            load_game_data=coc.LoadGameData(never=True),
        )
        await naive_client.login_with_tokens("bench-token")
        naive = await timed(lambda: naive_sweep(naive_client, pool, tags, 64))
        results["naive_sweep"] = summarise("naive sweep", naive, players)
        await naive_client.close()
        results["speedup_vs_naive"] = round(
            results["sweep_10pct"]["players_per_s"] / results["naive_sweep"]["players_per_s"], 2
        )
        print("speed-up over the naive way:", results["speedup_vs_naive"])
        await clash.close()
        await pool.close()
    finally:
        await api.stop()
    results["players"] = players
    print("written to", record("tracker_sweep", results))


if __name__ == "__main__":
    # The embedded server is started outside the event loop (bench.common.database runs
    # its own): inside main() it failed with "asyncio.run() cannot be called from a
    # running event loop".
    with database(tcp=False) as dsns:
        asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, dsns["socket"]))
