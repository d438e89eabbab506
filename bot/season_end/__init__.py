"""Season-end summaries: one post per guild and season with the season's leaders."""
