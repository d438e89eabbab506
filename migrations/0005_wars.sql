-- Clan wars and the Clan War League: every attack kept while a war runs,
-- lineups for missed attacks, the war polling schedule, reminders.

-- One row per war and tracked clan: a war between two tracked clans is stored
-- once from each side. Identified by the clan, the opponent and the
-- preparation start (a CWL round war also has its war tag).
CREATE TABLE wars (
    id                    bigserial   PRIMARY KEY,
    clan_tag              text        NOT NULL,
    opponent_tag          text        NOT NULL,
    preparation_start     timestamptz NOT NULL,
    start_time            timestamptz NOT NULL,
    end_time              timestamptz NOT NULL,
    state                 text        NOT NULL,
    team_size             integer     NOT NULL,
    attacks_per_member    integer     NOT NULL,
    war_tag               text,
    league_season         text,
    cwl_round             integer,
    clan_name             text        NOT NULL,
    opponent_name         text        NOT NULL,
    clan_stars            integer     NOT NULL DEFAULT 0,
    clan_destruction      double precision NOT NULL DEFAULT 0,
    clan_attacks          integer     NOT NULL DEFAULT 0,
    opponent_stars        integer     NOT NULL DEFAULT 0,
    opponent_destruction  double precision NOT NULL DEFAULT 0,
    opponent_attacks      integer     NOT NULL DEFAULT 0,
    first_seen_at         timestamptz NOT NULL,
    last_seen_at          timestamptz NOT NULL,
    -- Set once, when the war is closed: 'win', 'lose' or 'tie'; how it was closed
    -- ('seen' ended, or 'unseen': it ended between two polls and was closed from
    -- its last snapshot); whether the war log completed its totals, and then how
    -- many of the clan's attacks it counts that no poll saw (made after the last
    -- poll: nobody knows whose, so missed attacks of such a war may be too many).
    result                text,
    closed_at             timestamptz,
    closed_how            text,
    log_completed         boolean     NOT NULL DEFAULT false,
    attacks_unseen        integer,
    UNIQUE (clan_tag, opponent_tag, preparation_start)
);
CREATE INDEX wars_open_idx ON wars (clan_tag) WHERE closed_at IS NULL;
CREATE INDEX wars_clan_end_idx ON wars (clan_tag, end_time);

-- The lineup: missed attacks are exact because every member of it is known.
-- attacks_used is final once the war is closed; war_end is the war's, kept here
-- so that a player's wars over a period are one index range.
CREATE TABLE war_members (
    war_id        bigint      NOT NULL REFERENCES wars (id) ON DELETE CASCADE,
    tag           text        NOT NULL,
    side          text        NOT NULL,
    name          text        NOT NULL,
    town_hall     integer     NOT NULL,
    map_position  integer     NOT NULL,
    attacks_used  integer     NOT NULL DEFAULT 0,
    war_end       timestamptz NOT NULL,
    PRIMARY KEY (war_id, tag)
);
CREATE INDEX war_members_player_idx ON war_members (tag, war_end) WHERE side = 'clan';

-- Every attack, once, whatever the number of polls that saw it.
CREATE TABLE war_attacks (
    war_id             bigint      NOT NULL REFERENCES wars (id) ON DELETE CASCADE,
    attack_order       integer     NOT NULL,
    attacker_side      text        NOT NULL,
    attacker_tag       text        NOT NULL,
    defender_tag       text        NOT NULL,
    stars              integer     NOT NULL,
    destruction        double precision NOT NULL,
    duration           integer     NOT NULL,
    attacker_th        integer     NOT NULL,
    defender_th        integer     NOT NULL,
    attacker_position  integer     NOT NULL,
    defender_position  integer     NOT NULL,
    war_end            timestamptz NOT NULL,
    seen_at            timestamptz NOT NULL,
    PRIMARY KEY (war_id, attack_order)
);
CREATE INDEX war_attacks_attacker_idx ON war_attacks (attacker_tag, war_end)
    WHERE attacker_side = 'clan';

-- The war polling schedule: one row per tracked clan, leased like clan_polls.
CREATE TABLE war_polls (
    clan_tag        text        PRIMARY KEY,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    leased_by       text,
    -- The war log is private (currentwar answers 403): since when.
    private_since   timestamptz,
    -- The CWL season whose league group was last read, and when it was read.
    league_season   text,
    league_read_at  timestamptz,
    last_polled_at  timestamptz,
    last_error      text
);
CREATE INDEX war_polls_due_idx ON war_polls (next_poll_at);
INSERT INTO war_polls (clan_tag) SELECT DISTINCT clan_tag FROM tracked_clans;

-- Which war of each CWL round is the clan's (a round has up to four wars).
CREATE TABLE cwl_rounds (
    clan_tag       text    NOT NULL,
    league_season  text    NOT NULL,
    cwl_round      integer NOT NULL,
    war_tag        text    NOT NULL,
    PRIMARY KEY (clan_tag, league_season, cwl_round)
);

-- Reminders: per guild and clan, a channel and how many hours before a battle
-- day ends to post the members with attacks left.
CREATE TABLE war_reminders (
    guild_id    bigint      NOT NULL,
    clan_tag    text        NOT NULL,
    channel_id  bigint      NOT NULL,
    hours       integer     NOT NULL CHECK (hours BETWEEN 1 AND 24),
    set_by      bigint      NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, clan_tag)
);

-- One post per war per reminder, also across restarts and processes: the row
-- is claimed before the post (its id makes the message's nonce) and marked
-- sent after; a war whose moment passed unposted is recorded as skipped.
CREATE TABLE war_reminder_posts (
    id          bigserial   PRIMARY KEY,
    guild_id    bigint      NOT NULL,
    clan_tag    text        NOT NULL,
    war_id      bigint      NOT NULL REFERENCES wars (id) ON DELETE CASCADE,
    channel_id  bigint      NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    skipped     text,
    message_id  bigint,
    attempts    integer     NOT NULL DEFAULT 0,
    UNIQUE (guild_id, clan_tag, war_id)
);
