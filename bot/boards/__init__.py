"""Boards: leaderboard messages the bot keeps current in a channel."""
