"""What battle logs cost in API requests: per tracked player per day, for a player who
does not play and for one who plays 30 battles a day.

The real ``Tracker`` and ``BattlePoller`` (their schedules in PostgreSQL, default
options; TRACK_INTERVAL_SECONDS 900 s and BATTLELOG_INTERVAL_SECONDS as much unless given)
poll the fake Clash of Clans API, which counts every request. One clan of two members
is tracked: an idle member (unranked, never battles) and an active one (ranked, a
battle every 48 minutes, alternately an attack and a defense, each moving trophies).
A ranked week ends in the run (Monday 05:00 UTC), so its result is read from the
league history.

Time is simulated as in ``bench.games_polling``: each step moves the pollers' clock
one interval on and every schedule time in the database (``next_poll_at``,
``history_due_at``, ``played_at``, ``last_polled_at``) one interval back, then runs
both pollers once; nothing is forced due. The first two hours are not counted.

    python -m bench.battle_polling              # 7 days at 900 s (672 steps)
    python -m bench.battle_polling 7 900 3600   # battle logs every hour after play
    python -m bench.battle_polling 2 300        # 2 days at 300 s
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from bench.common import ScriptedClock, database, fake_api_settings, record
from bot.battles.poller import BattlePoller
from bot.clash import ClashApi
from bot.tracker.engine import Tracker, TrackerOptions
from db import guild_tracking
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.battles import BattleLog, make_battle, make_week
from tests.fakes.coc_api import RANKED_WEEK, FakeCocApi, make_clan, make_player

CLAN = "#2PP"
IDLE, ACTIVE = "#8QQ", "#8RR"
BATTLES_A_DAY = 30
START = datetime(2026, 11, 10, tzinfo=UTC)  # a Tuesday: the week ends on Monday 05:00
WEEK_ANCHOR = 1773032400  # a ranked week's id (Monday 2026-03-09 05:00 UTC)
WARM_UP = timedelta(hours=2)

SHIFTS = (
    "UPDATE player_polls SET next_poll_at = next_poll_at - make_interval(secs => $1)",
    "UPDATE clan_polls SET next_poll_at = next_poll_at - make_interval(secs => $1)",
    "UPDATE battle_logs SET next_poll_at = next_poll_at - make_interval(secs => $1),"
    " history_due_at = history_due_at - make_interval(secs => $1),"
    " played_at = played_at - make_interval(secs => $1),"
    " last_polled_at = last_polled_at - make_interval(secs => $1)",
)


def season_of(at: datetime) -> int:
    seconds = int(at.timestamp()) - WEEK_ANCHOR
    return WEEK_ANCHOR + seconds // RANKED_WEEK * RANKED_WEEK


class Game:
    """The two members as the game has them at a moment."""

    def __init__(self, api: FakeCocApi) -> None:
        self.api = api
        self.log = BattleLog()
        self.made = 0
        self.trophies = 4000
        api.serve_battle_log(ACTIVE, self.log)

    def at(self, now: datetime) -> None:
        due = int((now - START + WARM_UP).total_seconds() // (86_400 / BATTLES_A_DAY))
        while self.made < due:
            attack = self.made % 2 == 0
            self.log.play(make_battle(self.made, attack=attack, stars=2 if attack else 1))
            self.trophies += 12 if attack else -8
            self.made += 1
        season = season_of(now)
        if season != season_of(now - timedelta(days=7)) and season > season_of(START):
            self.api.set_league_history(ACTIVE, [make_week(season - RANKED_WEEK, 105000020)])
        members = [
            make_player(IDLE, name="Idle", clan=(CLAN, "Clan"), league_season=season),
            make_player(
                ACTIVE,
                name="Active",
                clan=(CLAN, "Clan"),
                trophies=self.trophies,
                attack_wins=self.made // 2,
                league="Golem League 20",
                league_season=season,
            ),
        ]
        for payload in members:
            self.api.set_player(payload)
        self.api.set_clan(make_clan(CLAN, members))


def kind(path: str) -> tuple[str, str]:
    for tag in (IDLE, ACTIVE):
        if f"/players/{tag}" in path:
            route = path.rsplit("/", 1)[-1]
            return tag, route if route in ("battlelog", "leaguehistory") else "profile"
    return "clan", "list" if "/clans/" in path else "other"


async def simulate(dsn: str, days: int, interval: float, log_interval: float) -> dict[str, object]:
    api = FakeCocApi(tokens=("test-token",), seed_maintenance_probe=False)
    await api.start()
    game = Game(api)
    per_day: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    end = START + timedelta(days=days)
    with tempfile.TemporaryDirectory() as data_dir:
        settings = fake_api_settings(
            api.base_url,
            dsn,
            data_dir,
            TRACK_INTERVAL_SECONDS=str(interval),
            BATTLELOG_INTERVAL_SECONDS=str(log_interval),
        )
        pool = await create_pool(dsn, min_size=1, max_size=4, command_timeout=60)
        clash = ClashApi(settings)
        await clash.start()
        began = time.perf_counter()
        try:
            await migrate(pool)
            async with pool.acquire() as con:
                await con.execute("TRUNCATE battle_logs, battles, battle_gaps, league_weeks")
                await guild_tracking.track_clan(con, 1, CLAN, "Clan", 1)
            clock = ScriptedClock(START - WARM_UP)
            game.at(clock.now)
            tracker = Tracker(
                settings=settings, pool=pool, clash=clash, options=TrackerOptions(), clock=clock
            )
            poller = BattlePoller(settings=settings, pool=pool, clash=clash, clock=clock)
            await tracker.run_once()
            while clock.now + timedelta(seconds=interval) <= end:
                clock.now += timedelta(seconds=interval)
                game.at(clock.now)
                async with pool.acquire() as con:
                    for shift in SHIFTS:
                        await con.execute(shift, interval)
                api.reset_counts()
                await tracker.run_once()
                await poller.run_once()
                if clock.now > START:
                    # A step's requests belong to the interval that ends with it.
                    day = (clock.now - timedelta(seconds=1)).date().isoformat()
                    per_day[day].update(kind(path) for _, path in api.requests)
            async with pool.acquire() as con:
                stored = await con.fetchval(
                    "SELECT count(*) FROM battles WHERE player_tag = $1", ACTIVE
                )
                gaps = await con.fetchval("SELECT count(*) FROM battle_gaps")
                posts = await con.fetchval(
                    "SELECT count(*) FROM player_events WHERE kind = 'ranked_week'"
                )
        finally:
            await clash.close()
            await pool.close()
            await api.stop()
    counted_days = len(per_day)
    totals: Counter[tuple[str, str]] = Counter()
    for counts in per_day.values():
        totals.update(counts)

    def per(tag: str, route: str) -> float:
        return round(totals[(tag, route)] / counted_days, 2)

    return {
        "interval_s": interval,
        "battlelog_interval_s": log_interval,
        "from": START.isoformat(),
        "days": counted_days,
        "battles_a_day_of_the_active_player": BATTLES_A_DAY,
        "per_player_per_day": {
            name: {
                "battle_log": per(tag, "battlelog"),
                "league_history": per(tag, "leaguehistory"),
                "profile": per(tag, "profile"),
            }
            for name, tag in (("idle", IDLE), ("active (30 battles a day)", ACTIVE))
        },
        "clan_lists_per_day": per("clan", "list"),
        "battles_played": game.made,
        "battles_stored": stored,
        "gaps": gaps,
        "ranked_week_posts": posts,
        "wall_clock_s": round(time.perf_counter() - began, 1),
    }


def main(days: int, interval: float, log_interval: float) -> None:
    if not 1 <= days <= 60 or not 60 <= min(interval, log_interval) <= 86_400:
        sys.exit(
            "usage: python -m bench.battle_polling [days 1-60] [interval 60-86400 s]"
            " [battle log interval]"
        )
    with database(tcp=True) as dsns:
        results = asyncio.run(simulate(dsns["tcp"], days, interval, log_interval))
    name = "battle_polling" if log_interval == interval else f"battle_polling_{int(log_interval)}"
    path = record(name, results)
    for name, value in results.items():
        print(f"{name}: {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    args = sys.argv[1:4]
    track = float(args[1]) if len(args) > 1 else 900.0
    main(int(args[0]) if args else 7, track, float(args[2]) if len(args) > 2 else track)
