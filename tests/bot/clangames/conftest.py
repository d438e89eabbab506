"""Clan games through the real tracker: the tracker's fixtures, re-exported."""

from tests.bot.tracker.conftest import env  # noqa: F401
