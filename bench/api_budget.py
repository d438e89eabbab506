"""Issue 17: does the tracker keep 100,000 players in 2,000 clans fresh on 10 keys at
30 requests a second, without a 429?

Real time and real scale by default (no scaled clock). The fake Clash of Clans API runs
in its own process (``bench.budget_api``): the recorded cache ages (players 60 s, clans
120 s, currentwar 120 s, CWL 600 s, raid seasons 60 s, battle logs 60 s), a per-key
limiter answering 429 ``requestThrottled`` above ``--rate`` requests in a sliding
second, 30% of the clans at war (attacks appear), 20% of the players active (battles,
trophies and donations move), the rest idle. The clans are tracked by 200 guilds of 10
(the product's limits: 10 clans, 500 players a guild) on a fresh database; this process
runs the real pollers (``bot.pollers.start_pollers``: tracker, war, raid and battle
pollers) with settings read as a deployment would (no *_INTERVAL_SECONDS: the defaults,
or whatever the settings derive from the budget).

After ``--warmup`` seconds it samples every ``--sample`` seconds:

* freshness, from the database: a clan's member list (``clan_polls.last_polled_at``), a
  full profile (``player_polls.last_polled_at``; a player not polled yet counts from the
  start), a clan's current war (``war_polls.last_polled_at``, all clans and the clans at
  war), an active player's battle log (``battle_logs.last_polled_at``); and, from the
  fake, how long an active player's oldest battle waits until a battle log answer shows
  it (0 when nothing is unread);
* requests a second by kind and status, 429s by key;
* this process's CPU (a share of one core, warm-up excluded; also every sample's share,
  warm-up included, and the seconds spent in garbage collections) and memory (peak RSS
  after the warm-up, from VmHWM reset then, and RSS at the end).

The process runs as ``python -m bot`` does (``bot.runtime``): on uvloop, with the bot's
collector thresholds; ``--asyncio-loop`` and ``--default-gc`` undo either. The first
sweep (everything due at once: every profile and battle log a first read) lasts about
15 minutes; ``--warmup 1200`` measures what follows it.

p50/p95/max pool every sample's values (1-second buckets).

    python -m bench.api_budget                      # 100,000 players, 10 keys, 10 minutes
    python -m bench.api_budget --warmup 1200 --name api_budget_steady   # after the first sweep
    python -m bench.api_budget --players 5000 --clans 100 --keys 1 --minutes 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.budget_api import Population, keys
from bench.common import database, record
from bot import runtime
from bot.clash import ClashApi
from bot.pollers import start_pollers
from bot.settings import load_settings
from bot.supervisor import Supervisor
from db import guild_tracking
from db.migrate import migrate
from db.pool import create_pool

ROOT = Path(__file__).resolve().parents[1]
GUILD_CLANS = 10  # MAX_TRACKED_CLANS
TARGETS = {"clans": 240.0, "profiles": 1800.0, "wars_at_war": 300.0}

# Benchmark-only SQL: ages in whole seconds, bucketed (the product's queries live in db/).
AGES = {
    "clans": """
        SELECT floor(extract(epoch FROM now() - coalesce(last_polled_at, $1)))::int AS age,
               count(*) FROM clan_polls WHERE gone_at IS NULL GROUP BY age""",
    "profiles": """
        SELECT floor(extract(epoch FROM now() - coalesce(last_polled_at, $1)))::int AS age,
               count(*) FROM player_polls WHERE gone_at IS NULL GROUP BY age""",
    "wars_all": """
        SELECT floor(extract(epoch FROM now() - coalesce(last_polled_at, $1)))::int AS age,
               count(*) FROM war_polls GROUP BY age""",
    "wars_at_war": """
        SELECT floor(extract(epoch FROM now() - coalesce(last_polled_at, $1)))::int AS age,
               count(*) FROM war_polls WHERE clan_tag = ANY($2::text[]) GROUP BY age""",
    "battle_logs_active": """
        SELECT floor(extract(epoch FROM now() - coalesce(b.last_polled_at, $1)))::int AS age,
               count(*) FROM unnest($2::text[]) AS a (tag)
        LEFT JOIN battle_logs b ON b.player_tag = a.tag GROUP BY age""",
}
EXPECTED = {"clans": "clans", "profiles": "players", "wars_all": "clans"}


def status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux: ``5`` to ``/proc/self/clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def pooled(histogram: Counter[int]) -> dict[str, float]:
    total = sum(histogram.values())
    if not total:
        return {"p50": 0, "p95": 0, "max": 0, "n": 0}
    out: dict[str, float] = {"n": total}
    ordered = sorted(histogram.items())
    for name, share in (("p50", 0.50), ("p95", 0.95)):
        rank, seen = share * (total - 1), 0
        for age, count in ordered:
            seen += count
            if seen > rank:
                out[name] = age
                break
    out["max"] = ordered[-1][0]
    return out


class GcClock:
    """Seconds this process spent in garbage collections (gc.callbacks)."""

    def __init__(self) -> None:
        self.total = 0.0
        self._began = 0.0

    def note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._began


class FakeProcess:
    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> str:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.budget_api",
            *self.argv,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**24,
        )
        assert self.proc.stdout is not None
        return (await self.proc.stdout.readline()).decode().strip()

    async def ask(self, command: str) -> str:
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return (await self.proc.stdout.readline()).decode()

    async def stats(self) -> dict:
        return json.loads(await self.ask("stats"))

    async def stop(self) -> None:
        if self.proc and self.proc.stdin:
            self.proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired, TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()


@contextlib.asynccontextmanager
async def scratch_database(dsn: str):  # type: ignore[no-untyped-def]
    """A database of its own in the server (dropped afterwards)."""
    name = f"bench_api_budget_{int(time.time())}"
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        parts = urlsplit(dsn)
        yield urlunsplit(parts._replace(path="/" + name))
    finally:
        with contextlib.suppress(Exception):
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


async def seed(dsn: str, pop: Population) -> float:
    began = time.perf_counter()
    pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=600)
    try:
        await migrate(pool)
        async with pool.acquire() as con:
            for c in range(pop.clans):
                guild = 1000 + c // GUILD_CLANS
                await guild_tracking.track_clan(con, guild, pop.clan_tag(c), f"Clan {c}", 1)
    finally:
        await pool.close()
    return time.perf_counter() - began


def settings_env(base_url: str, dsn: str, data_dir: str, key_count: int, rate: float) -> dict:
    return {
        "DISCORD_TOKEN": "x",
        "COC_TOKENS": ",".join(keys(key_count)),
        "COC_THROTTLE_LIMIT": str(int(rate)),
        "COC_API_BASE_URL": base_url,
        "DATABASE_URL": dsn,
        "DATA_DIR": data_dir,
    }


async def run(dsn: str, opts: argparse.Namespace) -> dict[str, object]:
    pop = Population(opts.players, opts.clans, opts.war_share, opts.active_share)
    seconds_to_seed = await seed(dsn, pop)
    gc_clock = GcClock()
    gc.callbacks.append(gc_clock.note)
    active = pop.active_tags()
    at_war = pop.war_clan_tags()
    fake = FakeProcess(
        [
            str(v)
            for v in (
                opts.players,
                opts.clans,
                opts.keys,
                opts.rate,
                opts.war_share,
                opts.active_share,
            )
        ]
    )
    base_url = await fake.start()
    samples: dict[str, Counter[int]] = {k: Counter() for k in [*AGES, "battles_unread"]}
    with tempfile.TemporaryDirectory() as data_dir:
        env = settings_env(base_url, dsn, data_dir, opts.keys, opts.rate)
        settings = load_settings(env, dotenv=False)
        pool = await create_pool(
            dsn,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            command_timeout=settings.db_command_timeout,
        )
        probe = await asyncpg.connect(dsn)
        clash = ClashApi(settings)
        await clash.start()
        supervisor = Supervisor()
        stop = asyncio.Event()
        start_wall = time.monotonic()
        start_at = await probe.fetchval("SELECT now()")
        start_pollers(supervisor, settings, pool, clash, stop)
        tick_seed = 0
        last_tick = time.monotonic()
        last_cpu = (last_tick, time.process_time())
        cpu_by_sample: list[dict[str, float]] = []
        measured: dict[str, float] = {}
        first_stats: dict = {}
        timeline = []
        try:
            end = start_wall + opts.warmup + opts.minutes * 60
            while True:
                now = time.monotonic()
                wake = min(end, now + opts.sample)
                await asyncio.sleep(max(0.0, wake - now))
                now = time.monotonic()
                tick_seed += 1
                await fake.ask(f"tick {now - last_tick:.3f} {tick_seed}")
                last_tick = now
                # This process's CPU since the last sample, warm-up included: the first
                # sweep (everything due at once) against what follows it.
                cpu_now = time.process_time()
                cpu_by_sample.append(
                    {
                        "t": round(now - start_wall),
                        "cpu": round((cpu_now - last_cpu[1]) / (now - last_cpu[0]), 3),
                    }
                )
                last_cpu = (now, cpu_now)
                if not measured and now - start_wall >= opts.warmup:
                    first_stats = await fake.stats()
                    measured = {"wall": now, "cpu": time.process_time(), "gc": gc_clock.total}
                    peak_reset = reset_peak_rss()
                    continue
                if not measured:
                    continue
                stats = await fake.stats()
                row = {"t": round(now - start_wall), "cpu": cpu_by_sample[-1]["cpu"]}
                for kind, sql in AGES.items():
                    args = [start_at]
                    if kind == "wars_at_war":
                        args.append(at_war)
                    elif kind == "battle_logs_active":
                        args.append(active)
                    histogram = Counter(
                        {r["age"]: r["count"] for r in await probe.fetch(sql, *args)}
                    )
                    expected = getattr(opts, EXPECTED[kind]) if kind in EXPECTED else None
                    if expected is not None and sum(histogram.values()) < expected:
                        # Not scheduled yet (a member whose clan was not read): since the start.
                        never = int(
                            (await probe.fetchval("SELECT now()") - start_at).total_seconds()
                        )
                        histogram[never] += expected - sum(histogram.values())
                    samples[kind].update(histogram)
                    row[kind] = pooled(histogram)["p95"]
                unread = Counter({int(k): v for k, v in stats["unread_histogram"].items()})
                samples["battles_unread"].update(unread)
                row["battles_unread"] = pooled(unread)["p95"]
                throttled = sum(stats["throttled"].values())
                row["429s"] = throttled
                timeline.append(row)
                print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
                if now >= end:
                    break
        finally:
            gc.callbacks.remove(gc_clock.note)
            stop.set()
            await supervisor.stop(timeout=10)
            await clash.close()
            await pool.close()
            await probe.close()
        wall = time.monotonic() - measured["wall"]
        cpu = time.process_time() - measured["cpu"]
        gc_seconds = gc_clock.total - measured["gc"]
        final = await fake.stats()
        await fake.stop()
    answered = Counter(final["answered"])
    answered.subtract(Counter(first_stats["answered"]))
    by_kind: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for key, count in answered.items():
        kind, status = key.rsplit(" ", 1)
        by_kind[kind] += count
        by_status[status] += count
    total = sum(answered.values())
    budget = opts.keys * opts.rate
    throttled_before = sum(first_stats["throttled"].values())
    freshness = {kind: pooled(h) for kind, h in samples.items()}
    result: dict[str, object] = {
        "scaled_clock": False,
        "scaled_population": opts.players != 100_000 or opts.clans != 2000,
        "players": opts.players,
        "clans": opts.clans,
        "guilds": -(-opts.clans // GUILD_CLANS),
        "clans_at_war": len(at_war),
        "active_players": len(active),
        "keys": opts.keys,
        "rate_per_key": opts.rate,
        "budget_req_per_s": budget,
        "warmup_s": opts.warmup,
        "measured_s": round(wall, 1),
        "seed_s": round(seconds_to_seed, 1),
        "interval_settings_s": {
            "track": settings.track_interval_seconds,
            "war": settings.war_interval_seconds,
            "raid": settings.raid_interval_seconds,
            "battlelog": settings.battlelog_interval_seconds,
        },
        "freshness_s": freshness,
        "requests_per_s": round(total / wall, 1),
        "budget_used": round(total / wall / budget, 3),
        "requests_per_s_by_kind": {k: round(v / wall, 2) for k, v in sorted(by_kind.items())},
        "answers_by_status": dict(by_status),
        "429s_measured": by_status.get("429", 0),
        "429s_whole_run_by_key": final["throttled"],
        "429s_during_warmup": throttled_before,
        "tracker_cpu_share_of_one_core": round(cpu / wall, 3),
        "tracker_cpu_s": round(cpu, 1),
        "tracker_gc_s": round(gc_seconds, 1),
        "tracker_cpu_by_sample": cpu_by_sample,
        "tracker_peak_rss_mib_after_warmup": round(status_kib("VmHWM") / 1024, 1)
        if peak_reset
        else None,
        "tracker_peak_rss_mib_whole_run": round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        ),
        "tracker_rss_mib_end": round(status_kib("VmRSS") / 1024, 1),
        "fake_api_cpu_s": round(final["cpu_s"], 1),
        "targets": {
            "clans_p95_s_at_most": TARGETS["clans"],
            "profiles_p95_s_at_most": TARGETS["profiles"],
            "wars_at_war_p95_s_at_most": TARGETS["wars_at_war"],
            "429s": 0,
            "cpu_share_below": 0.25,
            "rss_mib_below": 200,
        },
        "timeline": timeline,
    }
    return result


def report(r: dict) -> None:
    print()
    print(
        f"{r['players']} players in {r['clans']} clans ({r['clans_at_war']} at war, "
        f"{r['active_players']} active players), {r['keys']} keys x {r['rate_per_key']} req/s; "
        f"real time (no scaled clock), "
        f"{'SCALED population' if r['scaled_population'] else 'real scale'}; "
        f"{r['measured_s']} s measured after {r['warmup_s']} s warm-up"
    )
    print(f"intervals in effect: {r['interval_settings_s']}")
    print(f"{'freshness (s)':<22}{'p50':>8}{'p95':>8}{'max':>8}   target p95")
    targets = {"clans": 240, "profiles": 1800, "wars_at_war": 300}
    for kind, f in r["freshness_s"].items():
        target = targets.get(kind)
        verdict = (
            "" if target is None else f"<= {target}: {'ok' if f['p95'] <= target else 'MISSED'}"
        )
        print(f"{kind:<22}{f['p50']:>8}{f['p95']:>8}{f['max']:>8}   {verdict}")
    print(
        f"requests: {r['requests_per_s']} req/s of {r['budget_req_per_s']} "
        f"({r['budget_used']:.1%} of the budget); by kind {r['requests_per_s_by_kind']}"
    )
    print(
        f"429s: {r['429s_measured']} measured, {r['429s_during_warmup']} in the warm-up "
        f"(by key, whole run: {r['429s_whole_run_by_key']})"
    )
    print(
        f"tracker CPU: {r['tracker_cpu_share_of_one_core']:.1%} of one core (target < 25%; "
        f"{r['tracker_gc_s']} s of {r['tracker_cpu_s']} s in garbage collections); "
        f"peak RSS after warm-up {r['tracker_peak_rss_mib_after_warmup']} MiB, whole run "
        f"{r['tracker_peak_rss_mib_whole_run']} MiB, at the end {r['tracker_rss_mib_end']} MiB "
        f"(target < 200 MB); fake API CPU {r['fake_api_cpu_s']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--players", type=int, default=100_000)
    parser.add_argument("--clans", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--minutes", type=float, default=10.0, help="measured run length")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds not measured")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--war-share", type=float, default=0.3)
    parser.add_argument("--active-share", type=float, default=0.2)
    parser.add_argument("--name", default="api_budget", help="result file name")
    parser.add_argument(
        "--default-gc",
        action="store_true",
        help="CPython's garbage collector thresholds, not the bot's (bot.runtime.tune_gc)",
    )
    parser.add_argument(
        "--asyncio-loop",
        action="store_true",
        help="asyncio's own event loop, not uvloop (the bot's UVLOOP=false)",
    )
    opts = parser.parse_args()
    with database(tcp=True) as dsns:

        async def go() -> dict[str, object]:
            async with scratch_database(dsns["tcp"]) as dsn:
                return await run(dsn, opts)

        # As the bot runs (bot.runtime): uvloop and its collector thresholds, unless told
        # otherwise.
        if not opts.default_gc:
            runtime.tune_gc()
        result = runtime.run(go(), fast=not opts.asyncio_loop)
        result["gc"] = "default" if opts.default_gc else "bot.runtime.tune_gc"
        fast = runtime.loop_factory(not opts.asyncio_loop) is not None
        result["event_loop"] = "uvloop" if fast else "asyncio"
    report(result)
    print("written to", record(opts.name, result))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    main()
