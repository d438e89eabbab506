"""Clan wars and the Clan War League: polling, storing every attack, reminders."""
