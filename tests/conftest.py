from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, running_bot

pytest_plugins = ["tests.db_fixtures"]


@pytest.fixture
async def harness(db_dsn: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot against both fakes, on a fresh database."""
    async with running_bot(db_dsn, tmp_path) as h:
        yield h
