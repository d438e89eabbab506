"""Refreshing 1,000 boards in 1,000 guilds: requests to Discord and to the database.

The real bot runs in process against the fake Discord (1,000 guilds, each with a
board channel, all in the gateway's cache) and a PostgreSQL (embedded, or
BENCH_DATABASE_URL). Each guild tracks 50 players (50,000 in all, with a change-only
history) and has one board: a quarter each trophies now, donations this season, war
stars over 7 days, trophies over 30 days. The refresher (the bot's own) is run once
over every board, several times:

1. the first refresh posts every board;
2. the first refresh of a process that starts checks each message once (a fetch);
3. a refresh with nothing changed (the goal: no request to Discord);
4. a refresh after one player's trophies changed (the goal: one edit).

    python -m bench.board_refresh [guilds] [players_per_guild]

Figures: REST calls by method, database statements (every query the bot's
connections ran), wall time and the bot process's CPU time for each refresh.
Writes bench/results/board_refresh.json.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from bench.common import database, record
from bot.boards.refresher import BoardRefresher
from bot.tracker.seasons import season_start
from db.migrate import migrate
from db.pool import create_pool
from tests.fakes.coc_api import FakeCocApi
from tests.fakes.discord_server import FakeDiscord
from tests.harness import GUILD_ID, bot_on

KINDS = (("trophies", "current"), ("donations", "current"), ("war_stars", "7d"),
         ("trophies", "30d"))  # fmt: skip
PLAYER_COLUMNS = ["tag", "name", "town_hall", "exp_level", "trophies", "best_trophies",
                  "war_stars", "attack_wins", "defense_wins", "donations",
                  "donations_received", "builder_trophies", "best_builder_trophies",
                  "builder_hall", "capital_contributions", "fetched_at", "changed_at",
                  "donations_total", "received_total"]  # fmt: skip
QUERY_METHODS = ("execute", "executemany", "fetch", "fetchval", "fetchrow")


class StatementCounter:
    """Counts every statement the bot's connections send (asyncpg's query methods)."""

    def __init__(self) -> None:
        self.count = 0
        self._originals: dict[str, Any] = {}

    def __enter__(self) -> StatementCounter:
        for name in QUERY_METHODS:
            original = getattr(asyncpg.Connection, name)
            self._originals[name] = original

            def counted(con: Any, *args: Any, __original: Any = original, **kw: Any) -> Any:
                self.count += 1
                return __original(con, *args, **kw)

            setattr(asyncpg.Connection, name, counted)
        return self

    def __exit__(self, *_: object) -> None:
        for name, original in self._originals.items():
            setattr(asyncpg.Connection, name, original)


def tag(guild: int, player: int) -> str:
    return f"#G{guild}P{player}"


async def seed(dsn: str, guilds: list[int], players: int) -> None:
    pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=600)
    now = datetime.now(UTC)
    season = season_start(now)
    try:
        await migrate(pool)
        async with pool.acquire() as con:
            tags = [(g, tag(g, p), p) for g in guilds for p in range(players)]
            records = [
                (t, f"Player {p}", 15, 200, 4000 + p, 5000, 1000 + p, 0, 0, 10 * p, 5 * p,
                 0, 0, 10, 0, now, now, 10 * p, 5 * p)
                for _, t, p in tags
            ]  # fmt: skip
            await con.copy_records_to_table("players", columns=PLAYER_COLUMNS, records=records)
            history = []
            for _, t, p in tags:
                for age, shift in ((40, -60), (20, -30), (2, 0)):
                    at = now - timedelta(days=age)
                    history.append((t, at, 4000 + p + shift, 1000 + p + shift))
            await con.execute(
                """INSERT INTO player_history (tag, observed_at, town_hall, exp_level, trophies,
                       best_trophies, war_stars, attack_wins, defense_wins, donations,
                       donations_received, builder_trophies, capital_contributions,
                       donations_total, received_total)
                   SELECT t, at, 15, 200, tr, 5000, ws, 0, 0, 0, 0, 0, 0, 0, 0
                   FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[])
                        AS u (t, at, tr, ws)""",
                [h[0] for h in history],
                [h[1] for h in history],
                [h[2] for h in history],
                [h[3] for h in history],
            )
            await con.copy_records_to_table(
                "tracked_players",
                columns=["guild_id", "tag", "direct", "added_by"],
                records=[(g, t, True, 1) for g, t, _ in tags],
            )
            await con.copy_records_to_table(
                "player_seasons",
                columns=["tag", "season_start", "donations", "received"],
                records=[(t, season, 10 * p, 5 * p) for _, t, p in tags],
            )
            await con.copy_records_to_table(
                "boards",
                columns=["guild_id", "channel_id", "stat", "period", "created_by"],
                records=[(g, g + 100_000, *KINDS[i % len(KINDS)], 1) for i, g in enumerate(guilds)],
            )
            await con.execute("ANALYZE")
    finally:
        await pool.close()


async def refresh_all(h: Any, refresher: BoardRefresher) -> dict[str, Any]:
    async with h.pool.acquire() as con:
        await con.execute("UPDATE boards SET next_refresh_at = now() - interval '1 s'")
    before = Counter(m for m, _ in h.discord.requests)
    with StatementCounter() as statements:
        wall, cpu = time.perf_counter(), time.process_time()
        await refresher.run_once()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rest = Counter(m for m, _ in h.discord.requests) - before
    return {
        "rest_calls": dict(rest),
        "rest_total": sum(rest.values()),
        "db_statements": statements.count,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
    }


async def run(dsn: str, guild_count: int, players: int) -> dict[str, object]:
    guilds = [GUILD_ID + n for n in range(guild_count)]
    await seed(dsn, guilds, players)
    with tempfile.TemporaryDirectory() as tmp:
        fake, coc = FakeDiscord(guild_ids=guilds), FakeCocApi(tokens=("test-token",))
        for g in guilds:
            fake.add_channel(g, g + 100_000, name="boards")
        await fake.start()
        await coc.start()
        try:
            env = {"TRACKER_ENABLED": "false", "BOARD_REFRESH_SECONDS": "3600"}
            async with bot_on(fake, coc, dsn, Path(tmp), **env) as h:
                cog: Any = h.bot.get_cog("BoardCog")
                await cog.refresher.stop()  # the benchmark runs the refresher itself
                refresher = BoardRefresher(h.bot)
                first = await refresh_all(h, refresher)
                # A process that starts checks each message once.
                restarted = await refresh_all(h, BoardRefresher(h.bot))
                unchanged = await refresh_all(h, refresher)
                async with h.pool.acquire() as con:
                    await con.execute(
                        "UPDATE players SET trophies = trophies + 500 WHERE tag = $1",
                        tag(guilds[0], 0),
                    )
                one_change = await refresh_all(h, refresher)
                live = sum(len(fake.live_messages(g + 100_000)) for g in guilds)
        finally:
            await coc.stop()
            await fake.stop()
    return {
        "guilds": guild_count,
        "boards": guild_count,
        "players_per_guild": players,
        "board_kinds": [f"{s} {p}" for s, p in KINDS],
        "first_refresh_posts_all": first,
        "first_refresh_of_a_new_process_checks_each_message": restarted,
        "refresh_nothing_changed": unchanged,
        "refresh_one_stat_changed": one_change,
        "live_board_messages_after": live,
        "note": "CPU is the bot process's (refresher, asyncpg, and the fake Discord in the "
        "same process); PostgreSQL's own CPU is not counted",
    }


def main(guilds: int, players: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    with database() as dsns:
        result = asyncio.run(run(dsns["tcp"], guilds, players))
    path = record("board_refresh", result)
    print(result)
    print(f"written to {path}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [1000, 50][len(args) :]))
