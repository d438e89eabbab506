-- The API budget plan in force (bot.tracker.budget), for /status in every process:
-- what the keys allow, what the intervals ask for, and how far polling is stretched.
ALTER TABLE tracker_status
    ADD COLUMN budget_capacity  double precision,
    ADD COLUMN budget_wanted    double precision,
    ADD COLUMN budget_planned   double precision,
    ADD COLUMN clan_stretch     double precision,
    ADD COLUMN player_stretch   double precision,
    ADD COLUMN budget_planned_at timestamptz;


-- How old each kind of data's newest reading is (seconds), measured by the planner once
-- a minute: /status reads these rows instead of sorting every poll table itself.
CREATE TABLE api_freshness (
    kind        text             PRIMARY KEY,
    polled      integer          NOT NULL,
    waiting     integer          NOT NULL,
    p50         double precision,
    p95         double precision,
    oldest      double precision,
    measured_at timestamptz      NOT NULL
);
