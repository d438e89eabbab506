"""``python -m bot check`` and ``python -m bot tracker`` as an operator runs them."""

from __future__ import annotations

import asyncio
import signal
import sys

import asyncpg

from db import guild_tracking
from db.pool import connect
from tests.bot.test_lifecycle import ROOT, BotProcess, bot_env
from tests.fakes.coc_api import make_player
from tests.harness import GUILD_ID, fakes


async def _check(env: dict[str, str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode()


async def test_check_passes_and_names_each_failure(db_dsn: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with fakes() as (discord, coc):
        env = bot_env(
            discord.api_base, discord.gateway_url, coc, DATABASE_URL=db_dsn, DATA_DIR=str(tmp_path)
        )
        code, out = await _check(env)
        assert code == 0, out
        lines = [line for line in out.splitlines() if line.startswith(("OK", "FAIL"))]
        assert [line.split()[1] for line in lines] == [
            "settings:",
            "database:",
            "clash",
            "discord:",
        ]
        assert all(line.startswith("OK") for line in lines)
        assert "migrations current" in out

        bad = {
            **env,
            "DISCORD_TOKEN": "wrong-token",
            "COC_TOKENS": "wrong-key",
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        }
        code, out = await _check(bad)
        assert code == 1
        failures = [line for line in out.splitlines() if line.startswith("FAIL")]
        assert len(failures) == 3, out
        assert all("Fix:" in line for line in failures)
        assert "wrong-token" not in out and "wrong-key" not in out


async def _history_rows(con: asyncpg.Connection, count: int) -> None:
    """Wait until another process has written ``count`` history rows (no event to await)."""
    for _ in range(300):
        if await con.fetchval("SELECT count(*) FROM player_history") >= count:
            return
        await asyncio.sleep(0.05)


async def test_a_tracker_process_polls_and_stops_cleanly(db_dsn: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with fakes() as (discord, coc):
        coc.set_player(make_player("#2PP0JCCL", trophies=1000))
        con = await connect(db_dsn)
        try:
            await guild_tracking.track_player(con, GUILD_ID, "#2PP0JCCL", 1)
            env = bot_env(
                discord.api_base,
                discord.gateway_url,
                coc,
                DATABASE_URL=db_dsn,
                DATA_DIR=str(tmp_path),
            )
            proc = BotProcess(env, tmp_path / "tracker.log", command="tracker")
            await proc.start()
            await _history_rows(con, 1)
            coc.set_player(make_player("#2PP0JCCL", trophies=1031))
            await _history_rows(con, 2)
            rows = await con.fetch("SELECT trophies FROM player_history ORDER BY observed_at")
            assert [r["trophies"] for r in rows] == [1000, 1031], proc.log
            code, _ = await proc.stop(signal.SIGTERM)
            assert code == 0, proc.log
            assert "tracker stopped" in proc.log and "database pool closed" in proc.log
            # On uvloop, as installed with the bot (bot.runtime).
            assert "event loop: uvloop" in proc.log
            # No Discord connection at all.
            assert discord.identify_count == 0
        finally:
            await con.close()
