from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import settings

from tests.harness import Harness, running_bot

pytest_plugins = ["tests.db_fixtures"]

# CI runs the generated timelines with a fixed seed (HYPOTHESIS_PROFILE=ci, set by
# .ci/run): a failure there is the same failure on any machine. Without it, every run
# explores timelines no run tried before.
settings.register_profile("ci", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
async def harness(db_dsn: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot against both fakes, on a fresh database."""
    async with running_bot(db_dsn, tmp_path) as h:
        yield h
