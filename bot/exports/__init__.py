"""/export: CSV files of the stored history, leaderboards, wars, raids and clan games."""
