-- Linking, tracking, the tracker's schedule, change-only history, events and
-- the feed outbox.

-- Running totals of donations and received: they only ever grow, so a gain
-- over any period is a subtraction, across season resets and the reset on
-- leaving a clan alike.
ALTER TABLE players
    ADD COLUMN donations_total  bigint      NOT NULL DEFAULT 0,
    ADD COLUMN received_total   bigint      NOT NULL DEFAULT 0,
    ADD COLUMN changed_at       timestamptz;

CREATE TABLE guild_settings (
    guild_id          bigint      PRIMARY KEY,
    require_verified  boolean     NOT NULL DEFAULT false,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- An account belongs to one Discord user, in every guild.
CREATE TABLE links (
    tag        text        PRIMARY KEY,
    user_id    bigint      NOT NULL,
    verified   boolean     NOT NULL DEFAULT false,
    linked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX links_user_idx ON links (user_id);

CREATE TABLE tracked_clans (
    guild_id  bigint      NOT NULL,
    clan_tag  text        NOT NULL,
    added_by  bigint      NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, clan_tag)
);
CREATE INDEX tracked_clans_tag_idx ON tracked_clans (clan_tag);

-- A row exists while the guild tracks the player directly, through a tracked
-- clan, or both.
CREATE TABLE tracked_players (
    guild_id  bigint      NOT NULL,
    tag       text        NOT NULL,
    direct    boolean     NOT NULL,
    via_clan  text,
    added_by  bigint      NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, tag),
    CHECK (direct OR via_clan IS NOT NULL)
);
CREATE INDEX tracked_players_tag_idx ON tracked_players (tag);
CREATE INDEX tracked_players_clan_idx ON tracked_players (via_clan) WHERE via_clan IS NOT NULL;

-- The tracker's schedule: one row per polled player or clan. A process leases
-- due rows (FOR UPDATE SKIP LOCKED, then leased_until) so that several
-- trackers share the work and each row is polled once per interval in all.
CREATE TABLE player_polls (
    tag             text        PRIMARY KEY,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    misses          integer     NOT NULL DEFAULT 0,
    gone_at         timestamptz,
    last_polled_at  timestamptz,
    last_error      text
);
CREATE INDEX player_polls_due_idx ON player_polls (next_poll_at) WHERE gone_at IS NULL;

CREATE TABLE clan_polls (
    clan_tag        text        PRIMARY KEY,
    name            text,
    members         text[]      NOT NULL DEFAULT '{}',
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    leased_until    timestamptz,
    misses          integer     NOT NULL DEFAULT 0,
    gone_at         timestamptz,
    last_polled_at  timestamptz,
    last_error      text
);
CREATE INDEX clan_polls_due_idx ON clan_polls (next_poll_at) WHERE gone_at IS NULL;

-- Change-only history: a full snapshot of the stats, written only when one
-- of them changed. The primary key serves the per-player range scans.
CREATE TABLE player_history (
    tag                    text        NOT NULL,
    observed_at            timestamptz NOT NULL,
    trophies               integer     NOT NULL,
    best_trophies          integer     NOT NULL,
    donations              integer     NOT NULL,
    donations_received     integer     NOT NULL,
    attack_wins            integer     NOT NULL,
    defense_wins           integer     NOT NULL,
    war_stars              integer     NOT NULL,
    exp_level              integer     NOT NULL,
    town_hall              integer     NOT NULL,
    builder_trophies       integer     NOT NULL,
    capital_contributions  bigint      NOT NULL,
    donations_total        bigint      NOT NULL,
    received_total         bigint      NOT NULL,
    PRIMARY KEY (tag, observed_at)
);

-- Season totals of donations and received (season = coc.utils season start).
CREATE TABLE player_seasons (
    tag           text        NOT NULL,
    season_start  timestamptz NOT NULL,
    donations     bigint      NOT NULL DEFAULT 0,
    received      bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tag, season_start)
);

-- Events derived from a change, in the same transaction as its history row.
CREATE TABLE player_events (
    id           bigserial   PRIMARY KEY,
    tag          text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    kind         text        NOT NULL,
    old_value    text,
    new_value    text,
    delta        bigint,
    detail       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX player_events_tag_idx ON player_events (tag, occurred_at DESC);

-- Shared tracker state, for /status and for the maintenance pause that every
-- tracker process honours.
CREATE TABLE tracker_status (
    id                    boolean     PRIMARY KEY DEFAULT true CHECK (id),
    paused_until          timestamptz,
    pause_reason          text,
    last_sweep_started    timestamptz,
    last_sweep_finished   timestamptz,
    last_sweep_players    integer,
    api_latency_ms        double precision,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tracker_status (id) VALUES (true);

-- The live feed: per guild, a channel and optionally a set of event kinds.
CREATE TABLE feeds (
    guild_id         bigint      PRIMARY KEY,
    channel_id       bigint      NOT NULL,
    kinds            text[],
    enabled          boolean     NOT NULL DEFAULT true,
    disabled_reason  text,
    disabled_at      timestamptz,
    updated_by       bigint      NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: rows are queued with the events that cause them.
-- A sender groups pending rows of one channel into a batch (recorded before
-- posting, so a retry posts the same message with the same nonce).
CREATE TABLE feed_batches (
    id          bigserial   PRIMARY KEY,
    guild_id    bigint      NOT NULL,
    channel_id  bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    message_id  bigint,
    attempts    integer     NOT NULL DEFAULT 0
);
CREATE INDEX feed_batches_pending_idx ON feed_batches (id) WHERE sent_at IS NULL;

CREATE TABLE feed_outbox (
    id          bigserial   PRIMARY KEY,
    guild_id    bigint      NOT NULL,
    channel_id  bigint      NOT NULL,
    event_id    bigint      NOT NULL REFERENCES player_events (id) ON DELETE CASCADE,
    batch_id    bigint      REFERENCES feed_batches (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (guild_id, event_id)
);
CREATE INDEX feed_outbox_unbatched_idx ON feed_outbox (channel_id, id) WHERE batch_id IS NULL;
