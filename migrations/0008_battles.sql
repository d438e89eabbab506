-- Ranked battles: each player's battle log aligned into stored battles, and league weeks.

-- One row per tracked player who has a full profile: the alignment state of their
-- battle log (the last log read, as fingerprints, newest first), its schedule, and
-- the ranked week the profile showed last.
CREATE TABLE battle_logs (
    player_tag      text        PRIMARY KEY,
    -- NULL until the log is first read (that read is the baseline); then the log as
    -- the last read that moved it showed it.
    tail            text[],
    read_at         timestamptz,
    -- The last time a reading showed the player battled (trophies or wins moved).
    played_at       timestamptz,
    -- NULL: not due (the player has not played in the last day).
    next_poll_at    timestamptz,
    leased_until    timestamptz,
    leased_by       text,
    last_polled_at  timestamptz,
    last_error      text,
    -- The ranked week the last full profile showed, and its league tier. Weeks turn at
    -- season_id + k * 604800; week_phase says which week an instant belongs to: 0 if
    -- an id names its week's start, -1 its end (learnt from a reading far from a turn).
    season_id       bigint,
    week_phase      smallint,
    tier_id         integer,
    -- A week that ended (the profile moved on from it) whose result is not stored yet:
    -- the league history is read at history_due_at until it shows the week.
    week_ended      bigint,
    history_due_at  timestamptz,
    history_tries   integer     NOT NULL DEFAULT 0,
    -- The last week whose result was posted (or given up on): never posted again.
    week_posted     bigint
);
CREATE INDEX battle_logs_due_idx ON battle_logs (next_poll_at) WHERE next_poll_at IS NOT NULL;
CREATE INDEX battle_logs_history_idx ON battle_logs (history_due_at)
    WHERE history_due_at IS NOT NULL;

-- Each battle once, in the order the logs showed them (id ascending = oldest first).
-- The API gives no time: a battle is known to have happened in its read window
-- (window_start, window_end]. A battle of the first read (baseline) has no start.
CREATE TABLE battles (
    id              bigserial   PRIMARY KEY,
    player_tag      text        NOT NULL,
    fingerprint     text        NOT NULL,
    battle_type     text        NOT NULL,
    attack          boolean     NOT NULL,
    opponent_tag    text        NOT NULL,
    stars           smallint    NOT NULL,
    destruction     smallint    NOT NULL,
    gold            bigint      NOT NULL DEFAULT 0,
    elixir          bigint      NOT NULL DEFAULT 0,
    dark_elixir     bigint      NOT NULL DEFAULT 0,
    army_share_code text,
    window_start    timestamptz,
    window_end      timestamptz NOT NULL,
    -- The ranked week the read window lies in; NULL when it spans a week's end (or the
    -- battle is undated).
    season_id       bigint
);
CREATE INDEX battles_player_idx ON battles (player_tag, window_end DESC, id DESC);

-- A read whose log no longer overlapped the stored one: the log held 50 or more
-- battles since, so an unknown number (maybe none) was lost between the two reads.
CREATE TABLE battle_gaps (
    player_tag      text        NOT NULL,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    PRIMARY KEY (player_tag, window_end)
);

-- Past ranked weeks as the league history lists them.
CREATE TABLE league_weeks (
    player_tag      text        NOT NULL,
    season_id       bigint      NOT NULL,
    tier_id         integer     NOT NULL,
    placement       integer,
    league_trophies integer     NOT NULL DEFAULT 0,
    attack_wins     integer     NOT NULL DEFAULT 0,
    attack_losses   integer     NOT NULL DEFAULT 0,
    attack_stars    integer     NOT NULL DEFAULT 0,
    defense_wins    integer     NOT NULL DEFAULT 0,
    defense_losses  integer     NOT NULL DEFAULT 0,
    defense_stars   integer     NOT NULL DEFAULT 0,
    max_battles     integer,
    PRIMARY KEY (player_tag, season_id)
);

-- League tier names by id, as profiles and the tier list name them.
CREATE TABLE league_tiers (
    id      integer PRIMARY KEY,
    name    text    NOT NULL
);
