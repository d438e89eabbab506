"""What the clan games cost in API requests: full profiles per clan member, outside the
games week and in it.

Only a full profile carries the clan games achievement. Members tracked through a
clan are read in full every sixth TRACK_INTERVAL_SECONDS, and every second one while
``bot.clangames.credit.in_games_week`` holds (the 22nd, 08:00 UTC, to the 28th,
09:00). The real tracker (``Tracker.run``: its leases and schedule on a fresh embedded
PostgreSQL) runs against the fake Clash of Clans API, which counts every request, for
a clan of 50 members tracked through the clan. Time is compressed: the interval is
``interval`` seconds (2 s) and the tracker's clock is set on a date outside the games
week, then inside it; the counts per interval are stated per member per day at the
default interval (900 s: 96 intervals a day).

    python -m bench.games_polling [seconds] [interval]
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime

from bench.common import database, record
from bot.clash import ClashApi
from bot.settings import load_settings
from bot.tracker.engine import Tracker
from db import guild_tracking
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi, make_clan, make_player

MEMBERS = 50
CLAN = "#2PP"
DEFAULT_INTERVAL = 900.0
OUTSIDE = datetime(2026, 11, 10, 12, tzinfo=UTC)
INSIDE = datetime(2026, 11, 24, 12, tzinfo=UTC)


def member_tag(n: int) -> str:
    return f"#8{n:04d}".replace("0", "Q").replace("1", "R")


async def run_tracker(dsn: str, start: datetime, seconds: float, interval: float) -> Counter[str]:
    api = FakeCocApi(tokens=("test-token",), seed_maintenance_probe=False)
    await api.start()
    members = [make_player(member_tag(n), clan=(CLAN, "Clan")) for n in range(MEMBERS)]
    for payload in members:
        api.set_player(payload)
    api.set_clan(make_clan(CLAN, members))
    with tempfile.TemporaryDirectory() as data_dir:
        settings = load_settings(
            {
                "DISCORD_TOKEN": "x",
                "COC_TOKENS": "test-token",
                "COC_API_BASE_URL": api.base_url,
                "COC_THROTTLE_LIMIT": "100000",
                "DATABASE_URL": dsn,
                "DATA_DIR": data_dir,
                "TRACK_INTERVAL_SECONDS": str(interval),
            }
        )
        pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=60)
        clash = ClashApi(settings)
        await clash.start()
        began = datetime.now(UTC)
        try:
            await migrate(pool)
            async with pool.acquire() as con:
                await con.execute(
                    "TRUNCATE tracked_clans, tracked_players, clan_polls, player_polls, players,"
                    " player_history, player_counters, player_events CASCADE"
                )
                await guild_tracking.track_clan(con, 1, CLAN, "Clan", 1)
            tracker = Tracker(
                settings=settings,
                pool=pool,
                clash=clash,
                clock=lambda: start + (datetime.now(UTC) - began),
            )
            stop = asyncio.Event()
            task = asyncio.create_task(tracker.run(stop))
            # The first interval reads every member once (baselines): not counted.
            await asyncio.sleep(interval)
            api.reset_counts()
            api.requests.clear()
            await asyncio.sleep(seconds)
            stop.set()
            await task
        finally:
            await clash.close()
            await pool.close()
            await api.stop()
    return Counter("profile" if "/players/" in path else "clan" for _, path in api.requests)


async def run(dsn: str, seconds: float, interval: float) -> dict[str, object]:
    intervals = seconds / interval
    results: dict[str, object] = {"members": MEMBERS, "seconds": seconds, "interval": interval}
    per_day: dict[str, float] = {}
    for label, start in (("outside", OUTSIDE), ("games_week", INSIDE)):
        counts = await run_tracker(dsn, start, seconds, interval)
        profiles = counts["profile"] / MEMBERS / intervals
        results[label] = {
            "requests": dict(counts),
            "profiles_per_member_per_interval": round(profiles, 3),
            "clan_list_per_member_per_interval": round(counts["clan"] / MEMBERS / intervals, 3),
        }
        per_day[label] = profiles * 86_400 / DEFAULT_INTERVAL
    results["profiles_per_member_per_day_at_900s"] = {k: round(v, 1) for k, v in per_day.items()}
    results["extra_per_member_per_day_at_900s"] = round(
        per_day["games_week"] - per_day["outside"], 1
    )
    return results


def main(seconds: float, interval: float) -> None:
    with database(tcp=True) as dsns:
        results = asyncio.run(run(dsns["tcp"], seconds, interval))
    path = record("games_polling", results)
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    args = [float(a) for a in sys.argv[1:3]]
    main(*(args or [60.0, 2.0]))
