"""What the clan games cost in API requests: full profiles per clan member per day,
outside the games week and in it.

Only a full profile carries the clan games achievement. The tracker reads a tracked
clan's member list every TRACK_INTERVAL_SECONDS; a member tracked only through the
clan gets a full profile every ``clan_member_factor`` (6) intervals, and every
``games_member_factor`` (2) while ``bot.clangames.credit.in_games_week`` holds (the
22nd, 08:00 UTC, to the 28th, 09:00). The factor is chosen when the profile is written,
from the tracker's clock.

How time is simulated. The real ``Tracker`` (its leases and its schedule in
``player_polls`` / ``clan_polls`` on a fresh embedded PostgreSQL, default
``TrackerOptions``, TRACK_INTERVAL_SECONDS 900) polls the fake Clash of Clans API,
which counts every request, for one clan of 50 members tracked through the clan. The
schedule is kept in database time (``next_poll_at = now() + ...``), the games week is
decided on the tracker's clock, so both are moved together, one interval a step:

1. the tracker's scripted clock moves on by the interval;
2. every ``next_poll_at`` (players and clans) moves back by the interval: to the
   schedule, the database's clock has moved on by the interval (real time between two
   steps is milliseconds, far below an interval, so no row falls due early or late);
3. ``tracker.run_once()`` polls exactly the rows that are due, and the requests the
   fake API received are counted for that step's time.

Nothing is forced due: a row is polled only when the schedule the tracker wrote says
so. The first steps (the clan's first reading, every member's baseline profile, then
two hours) are not counted. The run ends at 2026-12-01 00:00 UTC and covers the
``days`` before it (default 30: all of November 2026, its games week included); the
counts are given per calendar day (UTC) and per member.

    python -m bench.games_polling [days] [interval]   # default: 30 days at 900 s
    python -m bench.games_polling 10                  # quick: the 21st to the 30th
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

from bench.common import ScriptedClock, database, fake_api_settings, record
from bot.clangames.credit import in_games_week
from bot.clash import ClashApi
from bot.tracker.engine import Tracker, TrackerOptions
from db import guild_tracking
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi, make_clan, make_player

MEMBERS = 50
CLAN = "#2PP"
END = datetime(2026, 12, 1, tzinfo=UTC)
WARM_UP = timedelta(hours=2)  # after the baselines: longer than a full profile's period
OUTSIDE_DAY = date(2026, 11, 21)
GAMES_DAY = date(2026, 11, 24)

SHIFT_PLAYERS = "UPDATE player_polls SET next_poll_at = next_poll_at - make_interval(secs => $1)"
SHIFT_CLANS = "UPDATE clan_polls SET next_poll_at = next_poll_at - make_interval(secs => $1)"


def member_tag(n: int) -> str:
    return f"#8{n:04d}".replace("0", "Q").replace("1", "R")


def kind(path: str) -> str:
    if "/players/" in path:
        return "profile"
    if "/clans/" in path:
        return "clan"
    return "other"


async def simulate(
    dsn: str, start: datetime, interval: float
) -> tuple[dict[date, Counter[str]], dict[str, float]]:
    """Requests per UTC day, from ``start`` to END, one interval a step."""
    api = FakeCocApi(tokens=("test-token",), seed_maintenance_probe=False)
    await api.start()
    members = [make_player(member_tag(n), clan=(CLAN, "Clan")) for n in range(MEMBERS)]
    for payload in members:
        api.set_player(payload)
    api.set_clan(make_clan(CLAN, members))
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    timing = {"steps": 0.0, "seconds": 0.0, "slowest_step_s": 0.0}
    with tempfile.TemporaryDirectory() as data_dir:
        settings = fake_api_settings(
            api.base_url, dsn, data_dir, TRACK_INTERVAL_SECONDS=str(interval)
        )
        pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=60)
        clash = ClashApi(settings)
        await clash.start()
        try:
            await migrate(pool)
            async with pool.acquire() as con:
                await guild_tracking.track_clan(con, 1, CLAN, "Clan", 1)
            clock = ScriptedClock(start - WARM_UP)
            tracker = Tracker(
                settings=settings, pool=pool, clash=clash, options=TrackerOptions(), clock=clock
            )
            await tracker.run_once()  # the clan's first reading, every member's baseline
            began = time.perf_counter()
            while clock.now + timedelta(seconds=interval) < END:
                step_began = time.perf_counter()
                clock.now += timedelta(seconds=interval)
                async with pool.acquire() as con:
                    await con.execute(SHIFT_PLAYERS, interval)
                    await con.execute(SHIFT_CLANS, interval)
                api.reset_counts()
                await tracker.run_once()
                if clock.now >= start:
                    per_day[clock.now.date()].update(kind(path) for _, path in api.requests)
                took = time.perf_counter() - step_began
                timing["steps"] += 1
                timing["slowest_step_s"] = max(timing["slowest_step_s"], took)
            timing["seconds"] = time.perf_counter() - began
        finally:
            await clash.close()
            await pool.close()
            await api.stop()
    return per_day, timing


def games_intervals(day: date, interval: float) -> int:
    """How many of the day's steps fall in the games week."""
    first = datetime(day.year, day.month, day.day, tzinfo=UTC)
    steps = round(86_400 / interval)
    return sum(in_games_week(first + timedelta(seconds=interval * k)) for k in range(steps))


def summarise(per_day: dict[date, Counter[str]], interval: float) -> dict[str, object]:
    days = sorted(per_day)
    table = {
        d.isoformat(): {
            "profiles_per_member": round(per_day[d]["profile"] / MEMBERS, 2),
            "clan_lists_per_member": round(per_day[d]["clan"] / MEMBERS, 2),
            "other_requests": per_day[d]["other"],
            "games_week_intervals": games_intervals(d, interval),
        }
        for d in days
    }
    profiles = sum(per_day[d]["profile"] for d in days) / MEMBERS
    out: dict[str, object] = {"per_day": table}
    intervals_a_day = 86_400 / interval
    expected = {
        "outside": intervals_a_day / 6,
        "games_week": intervals_a_day / 2,
        "clan_lists_per_member": intervals_a_day / MEMBERS,
    }
    out["expected_per_member_per_day"] = {k: round(v, 2) for k, v in expected.items()}
    if OUTSIDE_DAY in per_day and GAMES_DAY in per_day:
        outside = per_day[OUTSIDE_DAY]["profile"] / MEMBERS
        inside = per_day[GAMES_DAY]["profile"] / MEMBERS
        out["per_member_per_day"] = {
            "outside (2026-11-21)": {
                "profiles": outside,
                "clan_lists": per_day[OUTSIDE_DAY]["clan"] / MEMBERS,
            },
            "games week (2026-11-24)": {
                "profiles": inside,
                "clan_lists": per_day[GAMES_DAY]["clan"] / MEMBERS,
            },
            "extra_profiles": inside - outside,
        }
    out["profiles_per_member_in_run"] = round(profiles, 1)
    out["profiles_per_member_without_games_week"] = round(len(days) * expected["outside"], 1)
    out["extra_profiles_per_member_in_run"] = round(profiles - len(days) * expected["outside"], 1)
    return out


async def run(dsn: str, days: int, interval: float) -> dict[str, object]:
    per_day, timing = await simulate(dsn, END - timedelta(days=days), interval)
    return {
        "members": MEMBERS,
        "interval_s": interval,
        "from": (END - timedelta(days=days)).isoformat(),
        "to": END.isoformat(),
        **summarise(per_day, interval),
        "wall_clock": {k: round(v, 3) for k, v in timing.items()},
    }


def main(days: int, interval: float) -> None:
    # Each step is one interval of real polling work: keep the number of steps sane.
    if not 1 <= days <= 366 or not 60 <= interval <= 86_400:
        sys.exit("usage: python -m bench.games_polling [days 1-366] [interval 60-86400 s]")
    with database(tcp=True) as dsns:
        results = asyncio.run(run(dsns["tcp"], days, interval))
    path = record("games_polling", results)
    per_day = results.pop("per_day")
    print("day          profiles/member  clan lists/member  games-week intervals")
    for day, row in per_day.items():  # type: ignore[attr-defined]
        print(
            f"{day}   {row['profiles_per_member']:>14}  {row['clan_lists_per_member']:>17}"
            f"  {row['games_week_intervals']:>20}"
        )
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args = sys.argv[1:3]
    main(int(args[0]) if args else 30, float(args[1]) if len(args) > 1 else 900.0)
