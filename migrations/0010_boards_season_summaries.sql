-- Boards that update themselves, and one season-end summary per guild and season.

-- A leaderboard message the bot keeps current in a channel. (guild, channel, stat)
-- names a board: /board remove takes exactly those.
CREATE TABLE boards (
    id               bigserial   PRIMARY KEY,
    guild_id         bigint      NOT NULL,
    channel_id       bigint      NOT NULL,
    stat             text        NOT NULL,
    period           text        NOT NULL,
    created_by       bigint      NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- The message edited in place; NULL until posted, and again once it was seen
    -- deleted (the next refresh posts it anew, once).
    message_id       bigint,
    -- Messages posted so far: the next post's nonce is made from it, so a post resumed
    -- after a crash is answered with the message already made, not a second one.
    posts            integer     NOT NULL DEFAULT 0,
    -- What the message shows (a hash of its payload): an unchanged render is not sent.
    content_hash     text,
    -- When the message was last seen to exist (an edit or a fetch).
    checked_at       timestamptz,
    refreshed_at     timestamptz,
    next_refresh_at  timestamptz NOT NULL DEFAULT now(),
    -- One process refreshes a board at a time: the holder's token and its lease.
    leased_by        text,
    leased_until     timestamptz,
    -- Discord errors in a row (5xx, timeouts): the refresh backs off.
    failures         integer     NOT NULL DEFAULT 0,
    -- Raised by whatever makes a refresh in flight stale (/board add changing the
    -- period, the message seen deleted): that refresh's outcome then leaves the board
    -- due at once instead of pushing it back a whole interval.
    revision         integer     NOT NULL DEFAULT 0,
    -- Turned off (lost access, channel deleted, bot removed): why, for /board list.
    disabled_at      timestamptz,
    disabled_reason  text,
    UNIQUE (guild_id, channel_id, stat)
);
CREATE INDEX boards_due_idx ON boards (next_refresh_at) WHERE disabled_at IS NULL;
CREATE INDEX boards_message_idx ON boards (message_id) WHERE message_id IS NOT NULL;

-- When the feed was last turned on: a season-end summary goes only to a feed that was
-- on before the season ended (a feed set up later has no season to sum up).
ALTER TABLE feeds ADD COLUMN enabled_since timestamptz;
UPDATE feeds SET enabled_since = updated_at WHERE enabled;
ALTER TABLE feeds ALTER COLUMN enabled_since SET DEFAULT now();

-- Season-end summaries: one row per guild and season, claimed before it is posted
-- (the primary key makes the claim once, whichever process and however late).
CREATE TABLE season_summaries (
    guild_id      bigint      NOT NULL,
    season_end    timestamptz NOT NULL,
    channel_id    bigint      NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now(),
    leased_by     text,
    leased_until  timestamptz,
    attempts      integer     NOT NULL DEFAULT 0,
    -- A try whose answer never came (it may have landed): the channel it went to, which
    -- a retry searches before posting again.
    unsure_channel bigint,
    message_id    bigint,
    sent_at       timestamptz,
    -- Why it was not posted (no tracked player had data, Discord refused the channel).
    skipped       text,
    PRIMARY KEY (guild_id, season_end)
);
CREATE INDEX season_summaries_unsent_idx ON season_summaries (season_end)
    WHERE sent_at IS NULL AND skipped IS NULL;
