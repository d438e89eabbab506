from __future__ import annotations

from tests.db_fixtures import db_dsn, pg_admin_dsn, pg_server, pool  # noqa: F401
