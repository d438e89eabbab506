"""Clan games: each member's points, from the rise of a lifetime achievement."""
