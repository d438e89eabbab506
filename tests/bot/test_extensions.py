"""The static list of extensions names every cog, and nothing else."""

from __future__ import annotations

import pkgutil

import cogs
from bot.discord_bot import INITIAL_EXTENSIONS


def test_every_cog_is_loaded() -> None:
    found = {f"cogs.{m.name}" for m in pkgutil.iter_modules(cogs.__path__)}
    assert set(INITIAL_EXTENSIONS) == {n for n in found if not n.startswith("cogs._")}
