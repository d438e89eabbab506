"""The Clash of Clans tracker bot: settings, lifecycle, tracker engine and Discord glue."""
