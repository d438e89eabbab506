-- How old each kind of data's newest reading is (seconds), measured by the budget
-- planner once a minute: /status reads these rows (with their age) instead of sorting
-- every poll table itself. (IF NOT EXISTS: a development database may have it from an
-- earlier draft of 0011.)
CREATE TABLE IF NOT EXISTS api_freshness (
    kind        text             PRIMARY KEY,
    polled      integer          NOT NULL,
    waiting     integer          NOT NULL,
    p50         double precision,
    p95         double precision,
    oldest      double precision,
    measured_at timestamptz      NOT NULL
);
