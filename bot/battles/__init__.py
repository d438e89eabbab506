"""Ranked battles: battle logs aligned into stored battles, league weeks, and their reports."""
