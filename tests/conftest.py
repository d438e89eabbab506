from __future__ import annotations

from tests.db_fixtures import db_dsn, pg_admin_dsn, pg_server, pool  # noqa: F401

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness import Harness, running_bot


@pytest.fixture
async def harness(db_dsn: str, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot against both fakes, on a fresh database."""
    async with running_bot(db_dsn, tmp_path) as h:
        yield h
