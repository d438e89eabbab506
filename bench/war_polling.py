"""What war polling costs in API requests: per tracked clan per WAR_INTERVAL_SECONDS, outside
the Clan War League and during it.

The real war poller (``WarPoller.run``, its leases and schedule on a fresh
embedded PostgreSQL) runs against the fake Clash of Clans API, which counts
every request. Time is compressed: WAR_INTERVAL_SECONDS is ``interval`` (5 s)
and the league refresh 30 s instead of 600 s; the figures are per interval
and per refresh, then stated per hour at the defaults.

- Outside the league: 100 tracked clans, 60 at war, 30 not at war, 10 with a
  private war log.
- During the league: 8 tracked clans in one CWL group, round 1 at war and
  round 2 in preparation.

    python -m bench.war_polling [seconds] [interval]
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta

from bench.common import database, fake_api_settings, record
from bot.clash import ClashApi
from bot.wars.poller import WarOptions, WarPoller
from db import guild_tracking
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.wars import CwlWeek, ScriptedWar, lineup

LEAGUE_REFRESH = 30.0
REAL_LEAGUE_REFRESH = 600.0
DEFAULT_INTERVAL = 900.0


def tag(prefix: str, n: int) -> str:
    return f"#{prefix}{n:05d}".replace("0", "Q").replace("1", "R")


def kind(path: str) -> str:
    if "/leaguegroup" in path:
        return "leaguegroup"
    if "/currentwar" in path:
        return "currentwar"
    if "/clanwarleagues/wars/" in path:
        return "league war"
    if path.endswith("/warlog") or "/warlog?" in path:
        return "warlog"
    return "other"


async def run_poller(
    dsn: str, api: FakeCocApi, clans: list[str], start: datetime, seconds: float, interval: float
) -> Counter[str]:
    with tempfile.TemporaryDirectory() as data_dir:
        settings = fake_api_settings(
            api.base_url, dsn, data_dir, WAR_INTERVAL_SECONDS=str(interval)
        )
        pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=60)
        clash = ClashApi(settings)
        await clash.start()
        began = datetime.now(UTC)
        try:
            await migrate(pool)
            async with pool.acquire() as con:
                await con.execute("TRUNCATE war_polls, wars, cwl_rounds CASCADE")
                for clan in clans:
                    await guild_tracking.track_clan(con, 1, clan, None, 1)
            poller = WarPoller(
                settings=settings,
                pool=pool,
                clash=clash,
                options=WarOptions(league_refresh=LEAGUE_REFRESH),
                clock=lambda: start + (datetime.now(UTC) - began),
            )
            api.reset_counts()
            stop = asyncio.Event()
            task = asyncio.create_task(poller.run(stop))
            await asyncio.sleep(seconds)
            stop.set()
            await task
        finally:
            await clash.close()
            await pool.close()
    return Counter(kind(path) for _, path in api.requests)


async def outside_league(dsn: str, seconds: float, interval: float) -> dict[str, object]:
    api = FakeCocApi(tokens=("test-token",), seed_maintenance_probe=False)
    await api.start()
    try:
        now = datetime(2026, 3, 20, 12, tzinfo=UTC)  # after the league days
        clans = [tag("C", n) for n in range(100)]
        for n, clan in enumerate(clans[:60]):
            ours = lineup([tag("A", n * 10 + i) for i in range(5)])
            theirs = lineup([tag("B", n * 10 + i) for i in range(5)])
            war = ScriptedWar(
                clan,
                "Clan",
                tag("Y", n),
                "Opponent",
                ours,
                theirs,
                preparation_start=now - timedelta(hours=30),
            )
            war.begin_battle()
            api.serve_war(war)
        for clan in clans[90:]:
            api.set_war_log_private(clan, True)
        counts = await run_poller(dsn, api, clans, now, seconds, interval)
    finally:
        await api.stop()
    intervals = seconds / interval
    per_clan_interval = counts["currentwar"] / len(clans) / intervals
    return {
        "clans": len(clans),
        "requests": dict(counts),
        "currentwar_per_clan_per_interval": round(per_clan_interval, 3),
        "per_clan_per_hour_at_default_interval": round(
            per_clan_interval * 3600 / DEFAULT_INTERVAL + counts["other"] / len(clans), 2
        ),
    }


async def during_league(dsn: str, seconds: float, interval: float) -> dict[str, object]:
    """Two runs: one shorter than a league refresh (the first read of the group, which
    finds each round's war of the clan among the round's wars), one of ``seconds``."""
    counts = []
    for span in (LEAGUE_REFRESH - 5, seconds):
        api = FakeCocApi(tokens=("test-token",), seed_maintenance_probe=False)
        await api.start()
        try:
            start = datetime(2026, 3, 2, 8, tzinfo=UTC)
            clans = [
                (tag("L", n), f"Clan {n}", [(tag("M", n * 20 + i), "m", 15) for i in range(15)])
                for n in range(8)
            ]
            week = CwlWeek("2026-03", clans, start=start - timedelta(hours=30), team_size=15)
            week.advance()  # round 1 at war, round 2 in preparation
            api.serve_league(week)
            counts.append(await run_poller(dsn, api, [c[0] for c in clans], start, span, interval))
        finally:
            await api.stop()
    first, total = counts
    n = len(clans)
    # The group is read once a refresh (to find new rounds); the clan's open round wars at
    # every poll. The first read also tries each round's wars to find the clan's.
    refreshes = math.ceil(seconds / LEAGUE_REFRESH)
    group = (total["leaguegroup"] - first["leaguegroup"]) / n / (refreshes - 1)
    later_intervals = (seconds - (LEAGUE_REFRESH - 5)) / interval
    rounds = (total["league war"] - first["league war"]) / n / later_intervals
    current = total["currentwar"] / n / (seconds / interval)
    return {
        "clans": n,
        "requests": dict(total),
        "currentwar_per_clan_per_interval": round(current, 3),
        "league_requests_per_clan_first_read": round(
            (first["leaguegroup"] + first["league war"]) / n, 2
        ),
        "leaguegroup_per_clan_per_refresh": round(group, 2),
        "round_wars_per_clan_per_interval": round(rounds, 2),
        "per_clan_per_hour_at_defaults": round(
            (current + rounds) * 3600 / DEFAULT_INTERVAL + group * 3600 / REAL_LEAGUE_REFRESH, 2
        ),
    }


async def run(dsn: str, seconds: float, interval: float) -> dict[str, object]:
    return {
        "seconds": seconds,
        "interval_s": interval,
        "league_refresh_s": LEAGUE_REFRESH,
        "outside_league": await outside_league(dsn, seconds, interval),
        "during_league": await during_league(dsn, seconds, interval),
    }


def main(seconds: float, interval: float) -> None:
    with database(tcp=True) as dsns:
        results = asyncio.run(run(dsns["tcp"], seconds, interval))
    path = record("war_polling", results)
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args = [float(a) for a in sys.argv[1:3]]
    main(*(args or [95.0, 5.0]))
