"""200 interactions at once on a pool of 10 connections: every one answered, correctly.

The measurement itself (p50/p99) is bench/load_interactions.py; this test holds
the bot to the outcome and makes no timing assertion.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.load_interactions import run_load
from bot.settings import SettingsError, load_settings
from tests.harness import running_bot


@pytest.mark.heavy
async def test_200_interactions_at_once_on_a_pool_of_10(db_dsn: str, tmp_path: Path) -> None:
    async with running_bot(db_dsn, tmp_path, POOL_MAX_SIZE="10") as h:
        assert h.pool.get_max_size() == 10
        result = await run_load(h, 200)
    assert result["errors"] == [], result
    assert result["answered"] == result["correct"] == 200, result
    assert result["mix"] == {"player": 100, "track list": 40, "leaderboard": 40, "status": 20}


def test_a_pool_too_small_to_serve_is_refused_at_start() -> None:
    """With POOL_MAX_SIZE=1 the feed's LISTEN held the only connection: every
    command then waited forever, unanswered and unlogged."""
    with pytest.raises(SettingsError) as refused:
        load_settings({"DISCORD_TOKEN": "x", "COC_TOKENS": "y", "POOL_MAX_SIZE": "1"})
    assert "POOL_MAX_SIZE must be between 2" in str(refused.value)
