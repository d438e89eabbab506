"""Per-guild and per-user limits: generous for a clan family, bounded for the tracker."""

from __future__ import annotations

MAX_TRACKED_PLAYERS = 500  # per guild, direct and through clans
MAX_TRACKED_CLANS = 10  # per guild
MAX_LINKS_PER_USER = 20
MAX_ROLE_MAPS = 100  # per guild (Discord allows 250 roles)
MAX_BOARDS = 10  # per guild: each is a message edited every BOARD_REFRESH_SECONDS
