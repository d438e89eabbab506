-- Raid weekends, clan games and each player's last sign of play.

-- One row per clan and raid weekend, as the last reading showed it (the API keeps
-- the whole weekend, members included, in its raid log, so every poll rewrites it).
CREATE TABLE raid_weekends (
    clan_tag             text        NOT NULL,
    start_time           timestamptz NOT NULL,
    end_time             timestamptz NOT NULL,
    state                text        NOT NULL,
    capital_total_loot   bigint      NOT NULL DEFAULT 0,
    raids_completed      integer     NOT NULL DEFAULT 0,
    total_attacks        integer     NOT NULL DEFAULT 0,
    districts_destroyed  integer     NOT NULL DEFAULT 0,
    offensive_reward     integer     NOT NULL DEFAULT 0,
    defensive_reward     integer     NOT NULL DEFAULT 0,
    first_seen_at        timestamptz NOT NULL,
    read_at              timestamptz NOT NULL,
    -- Seen while it ran: only such a weekend's end is posted (one first seen ended is
    -- history, not news).
    seen_ongoing         boolean     NOT NULL DEFAULT false,
    -- When a reading first showed it ended: its raid_end was queued in that transaction.
    ended_seen_at        timestamptz,
    PRIMARY KEY (clan_tag, start_time)
);
CREATE INDEX raid_weekends_start_idx ON raid_weekends (start_time DESC);

CREATE TABLE raid_members (
    clan_tag            text        NOT NULL,
    start_time          timestamptz NOT NULL,
    tag                 text        NOT NULL,
    name                text        NOT NULL,
    attacks             integer     NOT NULL,
    attack_limit        integer     NOT NULL,
    bonus_attack_limit  integer     NOT NULL,
    looted              bigint      NOT NULL,
    PRIMARY KEY (clan_tag, start_time, tag),
    FOREIGN KEY (clan_tag, start_time) REFERENCES raid_weekends ON DELETE CASCADE
);
CREATE INDEX raid_members_tag_idx ON raid_members (tag, start_time DESC);

-- The clan's members while the weekend ran, from the member lists the tracker read
-- then: those missing from raid_members did not raid.
CREATE TABLE raid_roster (
    clan_tag    text        NOT NULL,
    start_time  timestamptz NOT NULL,
    tag         text        NOT NULL,
    PRIMARY KEY (clan_tag, start_time, tag),
    FOREIGN KEY (clan_tag, start_time) REFERENCES raid_weekends ON DELETE CASCADE
);

-- The raid polling schedule: one row per tracked clan, leased like war_polls.
CREATE TABLE raid_polls (
    clan_tag        text        PRIMARY KEY,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    leased_by       text,
    last_polled_at  timestamptz,
    last_error      text
);
CREATE INDEX raid_polls_due_idx ON raid_polls (next_poll_at);
INSERT INTO raid_polls (clan_tag) SELECT DISTINCT clan_tag FROM tracked_clans;

-- Clan games: the lifetime "Games Champion" achievement at the player's last full
-- profile (the baseline of the next rise), that reading's time and clan.
ALTER TABLE players
    ADD COLUMN games_champion  bigint,
    ADD COLUMN games_read_at   timestamptz,
    ADD COLUMN games_clan      text,
    -- The last reading that showed a sign of play, and what it was.
    ADD COLUMN last_active_at  timestamptz,
    ADD COLUMN last_active_by  text;

-- Points credited per month (its first day, UTC), player and clan.
CREATE TABLE clan_games_points (
    month       date        NOT NULL,
    tag         text        NOT NULL,
    clan_tag    text        NOT NULL,
    points      integer     NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (month, clan_tag, tag)
);
CREATE INDEX clan_games_points_tag_idx ON clan_games_points (tag, month);

-- A player's month: the points credited in all clans (never above the maximum), and
-- the reading that reached the maximum (its clan_games post was queued with it).
CREATE TABLE clan_games_players (
    month       date        NOT NULL,
    tag         text        NOT NULL,
    points      integer     NOT NULL,
    maxed_at    timestamptz,
    maxed_clan  text,
    PRIMARY KEY (month, tag)
);

-- Last activity of players tracked before this migration: their newest event that is a
-- sign of play (the same signs the tracker uses from now on).
UPDATE players p SET last_active_at = e.occurred_at, last_active_by = e.kind
FROM (
    SELECT DISTINCT ON (tag) tag, occurred_at, kind
    FROM player_events
    WHERE kind IN ('donations', 'received', 'builder_trophies', 'town_hall', 'hero',
                   'exp_level', 'war_stars', 'capital', 'name', 'war_attack')
    ORDER BY tag, occurred_at DESC
) e
WHERE e.tag = p.tag;
