-- The API budget plan in force (bot.tracker.budget), for /status in every process:
-- what the keys allow, what the intervals ask for, and how far polling is stretched.
ALTER TABLE tracker_status
    ADD COLUMN budget_capacity  double precision,
    ADD COLUMN budget_wanted    double precision,
    ADD COLUMN budget_planned   double precision,
    ADD COLUMN clan_stretch     double precision,
    ADD COLUMN player_stretch   double precision,
    ADD COLUMN budget_planned_at timestamptz;

