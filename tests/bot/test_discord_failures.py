"""Discord's gateway close codes for shard settings become one line with the fix."""

from __future__ import annotations

from types import SimpleNamespace

import discord

from bot.failures import discord_failure
from bot.settings import load_settings

BASE = {"DISCORD_TOKEN": "x", "COC_TOKENS": "t"}


def closed(code: int) -> discord.ConnectionClosed:
    return discord.ConnectionClosed(SimpleNamespace(close_code=code), shard_id=0, code=code)


def test_sharding_required_names_shard_count() -> None:
    failure = discord_failure(closed(4011), load_settings(BASE))
    assert failure is not None and "SHARD_COUNT" in str(failure)


def test_an_invalid_shard_names_the_settings() -> None:
    settings = load_settings({**BASE, "SHARD_COUNT": "2", "SHARD_IDS": "1"})
    failure = discord_failure(closed(4010), settings)
    assert failure is not None and "SHARD_COUNT 2" in str(failure)


def test_other_close_codes_are_not_taken_for_shard_trouble() -> None:
    failure = discord_failure(closed(4000), load_settings(BASE))
    assert failure is None or "SHARD" not in str(failure)
