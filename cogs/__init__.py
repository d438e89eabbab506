"""discord.py extensions, one per feature. Every module here with a ``setup`` is loaded."""
