"""Raid weekends: each tracked clan's capital raids, read while they run and once after."""
