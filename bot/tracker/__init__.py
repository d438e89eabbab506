"""The tracker: polls tracked players and clans, keeps change-only history."""
