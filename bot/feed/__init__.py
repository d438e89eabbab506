"""The live feed: tracked changes posted to a guild's channel (render, sender)."""
