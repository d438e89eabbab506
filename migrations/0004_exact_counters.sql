-- Exact counters, owned leases, ordered clan readings, a fair feed sender.

-- The donation counter model's memory (bot/tracker/counters.py), one row per
-- player the tracker has read. The baseline and the running totals stay on
-- ``players`` (donations, donations_received, donations_total,
-- received_total); the epoch's clan is ``players.clan_tag``.
CREATE TABLE player_counters (
    tag               text        PRIMARY KEY,
    -- The season of the current epoch: after a season end it stays the old
    -- one until the reset is seen.
    season            timestamptz NOT NULL,
    -- {donations, received} as the clan member list and the full profile
    -- last showed them (the two are cached for different times).
    last_list         integer[],
    last_profile      integer[],
    -- The last full profile whose lifetime donation achievements were read.
    witness_lifetime  bigint,
    witness_counter   integer,
    witness_total     bigint,
    witness_season    timestamptz,
    witness_at        timestamptz,
    -- How the current epoch began by a clan change: the endpoint ('list' or
    -- 'profile'), when, and the clan before it.
    epoch_source      text,
    epoch_at          timestamptz,
    previous_clan     text
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
