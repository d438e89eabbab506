-- How old each kind of data's newest reading is (seconds), measured by the budget
-- planner once a minute: /status reads these rows (with their age) instead of sorting
-- every poll table itself.
CREATE TABLE api_freshness (
    kind        text             PRIMARY KEY,
    polled      integer          NOT NULL,
    waiting     integer          NOT NULL,
    p50         double precision,
    p95         double precision,
    oldest      double precision,
    measured_at timestamptz      NOT NULL
);
