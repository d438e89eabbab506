"""/inactive at 10 million history rows: a guild of 1,000 tracked players.

A fresh embedded PostgreSQL (or BENCH_DATABASE_URL) is migrated and filled by
``bench.history_gen`` (100,000 players over a year, 10 million change-only
history rows by default; guild 0 tracks players 0 to 999). Then one UPDATE
gives every player a last sign of play and a clan:

- ``last_active_at``: 82% within the last week (exponential, mean one day),
  15% between 7 and 60 days back (uniform), 3% never (NULL); ``last_active_by``
  one or two sign keys of ``bot.tracker.activity`` (donations, attacks, ...);
- ``clan_tag``: player i is in clan i // 50, so guild 0's players make 20 clans
  of 50, and guild 0 tracks those 20 clans (``db.guild_tracking.track_clan``).

Timed, client side with asyncpg's round trips, on a warm pool connection:
``bot.inactivity.load_report`` (all the database work of /inactive: the
inactive players, and the tracked count for the footer) for 7 and 30 days,
over every tracked player and over one clan (the 20 clans in turn); plus the
clan option's whole path (``bot.clans.resolve_clan``, then ``load_report``).
30 warm-up runs, then RUNS timed ones each. The same four are timed again
while a concurrent write load runs on another connection (``busy``): batches
of 500 random players every 0.25 s (2,000 players/s, the tracker's target
throughput), each batch one transaction that updates all 500 rows of
``players`` (a reading), writes a history row and the player's values for 10%
of them and records a sign of play for those (``db.activity.mark_active``).

Prints p50/p95/max, the EXPLAIN (ANALYZE, BUFFERS) plans of ``db.activity``'s
INACTIVE and TRACKED_COUNT, and writes bench/results/inactive_speed.json.

    python -m bench.inactive_speed                  # 100,000 players, 10,000,000 rows
    python -m bench.inactive_speed 2000 200000      # a quick, small run
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np

from bench.history_gen import GUILD_SIZE, measure_on_history, tag_of
from bench.history_speed import explain, summary, timed
from bot.clans import resolve_clan
from bot.inactivity import load_report
from db import activity, guild_tracking
from db.history import VALUE_COLUMNS

log = logging.getLogger(__name__)

GUILD = 0  # history_gen's guild 0 tracks players 0 to GUILD_SIZE - 1
CLAN_SIZE = 50
RUNS = 300
WARM_UP = 30
# The busy variant's writer: BATCH players every PERIOD seconds.
BATCH = 500
PERIOD = 0.25
CHANGED = 0.1
SIGNS = (
    "donations", "donations,received", "attack_wins,trophies", "trophies", "war_attack",
    "raid_attacks", "clan_games", "builder_trophies", "capital", "exp_level", "upgrade",
)  # fmt: skip

SET_ACTIVITY = """
UPDATE players p SET last_active_at = u.at, last_active_by = u.why,
                     clan_tag = u.clan, clan_name = u.clan_name
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[])
     AS u (tag, at, why, clan, clan_name)
WHERE p.tag = u.tag
"""
ACTIVITY_SHAPE = """
SELECT count(*) FILTER (WHERE p.last_active_at IS NULL) AS never,
       count(*) FILTER (WHERE p.last_active_at < $2) AS over_7_days,
       count(*) FILTER (WHERE p.last_active_at < $3) AS over_30_days,
       count(*) AS tracked
FROM tracked_players t JOIN players p USING (tag) WHERE t.guild_id = $1
"""
_COLS = ", ".join(VALUE_COLUMNS)
WRITE_HISTORY = f"""
INSERT INTO player_history (tag, observed_at, {_COLS})
SELECT tag, $2, {_COLS} FROM players WHERE tag = ANY($1::text[])
"""
WRITE_CHANGED = """
UPDATE players SET trophies = trophies + 1, donations = donations + 1, changed_at = $2
WHERE tag = ANY($1::text[])
"""
WRITE_READ = "UPDATE players SET fetched_at = $2 WHERE tag = ANY($1::text[])"


def clan_tag(n: int) -> str:
    return "#C" + tag_of(n)[2:]


async def set_activity(con: asyncpg.Connection, players: int, now: datetime) -> None:
    """Every player's last sign of play and clan, in one UPDATE."""
    rng = np.random.default_rng(13)
    r = rng.random(players)
    recent = np.minimum(rng.exponential(1.0, players), 6.9)  # days back
    idle = rng.uniform(7.0, 60.0, players)
    days = np.where(r < 0.15, idle, recent)
    at: list[datetime | None] = [now - timedelta(days=float(d)) for d in days.tolist()]
    for i in np.nonzero(r > 0.97)[0].tolist():
        at[i] = None
    why = [
        None if a is None else SIGNS[k]
        for a, k in zip(at, rng.integers(0, len(SIGNS), players), strict=True)
    ]
    clans = [clan_tag(i // CLAN_SIZE) for i in range(players)]
    names = [f"Clan {i // CLAN_SIZE}" for i in range(players)]
    tags = [tag_of(i) for i in range(players)]
    await con.execute(SET_ACTIVITY, tags, at, why, clans, names)
    await con.execute("VACUUM (ANALYZE) players")
    # The load left about 1.5 GB of dirty pages: write them now, not while timing.
    await con.execute("CHECKPOINT")


async def write_load(
    pool: asyncpg.Pool, players: int, stop: asyncio.Event, done: dict[str, float]
) -> None:
    """A tracker-shaped write load: BATCH readings every PERIOD seconds until ``stop``."""
    rng = np.random.default_rng(17)
    started = time.perf_counter()
    async with pool.acquire() as con:
        while not stop.is_set():
            began = time.perf_counter()
            picked = rng.choice(players, size=min(BATCH, players), replace=False)
            tags = [tag_of(i) for i in picked.tolist()]
            changed = tags[: max(1, int(len(tags) * CHANGED))]
            at = datetime.now(UTC)
            async with con.transaction():
                await con.execute(WRITE_READ, tags, at)
                await con.execute(WRITE_CHANGED, changed, at)
                await con.execute(WRITE_HISTORY, changed, at)
                await activity.mark_active(con, [(t, at, "donations") for t in changed])
            done["players"] += len(tags)
            done["history_rows"] += len(changed)
            done["batches"] += 1
            rest = PERIOD - (time.perf_counter() - began)
            if rest > 0:
                try:
                    await asyncio.wait_for(stop.wait(), rest)
                except TimeoutError:
                    pass
    done["seconds"] = time.perf_counter() - started


async def time_variants(
    con: asyncpg.Connection, clans: list[str], now: datetime
) -> dict[str, dict[str, object]]:
    out: dict[str, dict[str, object]] = {}
    for days in (7, 30):

        async def every(_: int, d: int = days) -> object:
            return await load_report(con, GUILD, d, None, now)

        async def one_clan(i: int, d: int = days) -> object:
            chosen = await resolve_clan(con, GUILD, clans[i % len(clans)])
            return await load_report(con, GUILD, d, chosen, now)

        for label, step in (("all", every), ("clan", one_clan)):
            await timed(WARM_UP, step)  # prepare the statements, warm the caches
            out[f"{days}d_{label}"] = summary(await timed(RUNS, step))
    return out


async def measure(pool: asyncpg.Pool, players: int, now: datetime) -> dict[str, object]:
    results: dict[str, object] = {}
    async with pool.acquire() as con:
        started = time.perf_counter()
        await set_activity(con, players, now)
        results["set_activity_s"] = round(time.perf_counter() - started, 1)
        clans = [clan_tag(n) for n in range(GUILD_SIZE // CLAN_SIZE)]
        for n, tag in enumerate(clans):
            await guild_tracking.track_clan(con, GUILD, tag, f"Clan {n}", 1)
        results["guild_shape"] = dict(
            await con.fetchrow(
                ACTIVITY_SHAPE, GUILD, now - timedelta(days=7), now - timedelta(days=30)
            )
        )
        shown = {}
        for days in (7, 30):
            every = await load_report(con, GUILD, days, None, now)
            one = await load_report(con, GUILD, days, await resolve_clan(con, GUILD, clans[0]), now)
            shown[f"{days}d"] = {
                "all": f"{len(every.players)} of {every.tracked}",
                "clan": f"{len(one.players)} of {one.tracked}",
            }
        results["listed"] = shown
        results["quiet"] = await time_variants(con, clans, now)
        # Before the busy run: its writer marks some players active.
        since = now - timedelta(days=7)
        results["plans"] = {
            "INACTIVE, 7 days, every player": await explain(
                con, activity.INACTIVE, GUILD, since, True, None
            ),
            "INACTIVE, 7 days, one clan": await explain(
                con, activity.INACTIVE, GUILD, since, False, clans[0]
            ),
            "TRACKED_COUNT, every player": await explain(
                con, activity.TRACKED_COUNT, GUILD, True, None
            ),
        }

        stop = asyncio.Event()
        done = {"players": 0.0, "history_rows": 0.0, "batches": 0.0}
        writer = asyncio.create_task(write_load(pool, players, stop, done))
        await asyncio.sleep(2)  # let the writer reach its pace
        try:
            results["busy"] = await time_variants(con, clans, now)
        finally:
            stop.set()
            await writer
        results["busy_writer"] = {
            "players_per_s": round(done["players"] / done["seconds"]),
            "history_rows_per_s": round(done["history_rows"] / done["seconds"]),
            "batches": int(done["batches"]),
            "seconds": round(done["seconds"], 1),
        }
        after = await load_report(con, GUILD, 7, None, now)
        results["listed_7d_all_after_busy"] = f"{len(after.players)} of {after.tracked}"
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = [int(a) for a in sys.argv[1:3]]
    measure_on_history("inactive_speed", measure, *(args or [100_000, 10_000_000]))
