-- Exact counters, owned leases, ordered clan readings, a fair feed sender.

-- The donation counter model's memory (bot/tracker/counters.py), one row per
-- player the tracker has read. The baseline and the running totals stay on
-- ``players`` (donations, donations_received, donations_total,
-- received_total); the epoch's clan is ``players.clan_tag``.
CREATE TABLE player_counters (
    tag               text        PRIMARY KEY,
    -- The current epoch: its season (after a season end it stays the old one
    -- until the reset is seen) and its clan (the stored profile may already
    -- show a clan whose counters are not placed yet).
    season            timestamptz NOT NULL,
    clan_tag          text,
    -- {donations, received} as the epoch clan's member list and the full
    -- profile last showed them in this epoch.
    last_list         integer[],
    last_profile      integer[],
    -- The last full profile whose lifetime donation achievements were read.
    witness_lifetime  bigint,
    witness_counter   integer,
    witness_total     bigint,
    witness_season    timestamptz,
    witness_at        timestamptz,
    -- The endpoint ('profile' or 'list:#CLAN') and time of the last placed
    -- reading, and of the one that began the epoch.
    anchor            text,
    anchor_at         timestamptz,
    epoch_source      text,
    epoch_at          timestamptz,
    -- The clans of the epochs that ended within the longest cache age:
    -- [[clan, ended_at], ...] (an older answer may still show them).
    recent_clans      jsonb NOT NULL DEFAULT '[]',
    -- A reading held after a season end, not placed yet.
    pending_endpoint  text,
    pending_clan      text,
    pending_counters  integer[],
    -- When nobody tracked the player any more. Tracked again soon after (a move
    -- between two tracked clans is a leave, then a join), the witness stands;
    -- after a longer gap it is dropped (see db/schedule.py).
    untracked_at      timestamptz
);

-- A lease belongs to the process that took it: only that process may
-- release or reschedule the row, and it renews the lease while it works.
ALTER TABLE player_polls ADD COLUMN leased_by text;
ALTER TABLE clan_polls ADD COLUMN leased_by text;

-- When the stored member list was read: an older reading (a command's
-- cached lookup racing a poll) must not replace a newer one.
ALTER TABLE clan_polls ADD COLUMN observed_at timestamptz;

-- The feed sender reads the oldest unsent batches of each channel.
CREATE INDEX feed_batches_unsent_channel_idx ON feed_batches (channel_id, id)
    WHERE sent_at IS NULL;
