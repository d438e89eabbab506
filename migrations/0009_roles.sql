-- Roles and nicknames kept in sync with members' linked accounts.

-- A guild that syncs roles or nicknames: its nickname format (NULL: nicknames are
-- left alone) and when its next full pass is due.
CREATE TABLE role_guilds (
    guild_id         bigint      PRIMARY KEY,
    nickname_format  text,
    -- The owner's nickname cannot be changed by a bot: said once (logged), shown by
    -- /roles show, and not again until the format changes.
    owner_noted      boolean     NOT NULL DEFAULT false,
    -- A nickname problem for the whole guild (no Manage Nicknames), as last seen.
    nickname_problem text,
    next_pass_at     timestamptz NOT NULL DEFAULT now(),
    last_pass_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Which role a kind and value give. Only these roles are ever added or removed.
CREATE TABLE role_maps (
    guild_id    bigint      NOT NULL REFERENCES role_guilds ON DELETE CASCADE,
    kind        text        NOT NULL,
    value       text        NOT NULL,
    role_id     bigint      NOT NULL,
    -- Why the sync skips this role (above the bot, no Manage Roles, deleted), as last
    -- seen; logged when it first appears.
    problem     text,
    problem_at  timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, kind, value)
);

-- Members whose roles and nickname are due a sync. A full pass queues every member
-- it covers, so a pass cut short by a restart carries on where it stopped. queued_at
-- moves when a member is queued again while a sync is running: that sync then does
-- not take the row away, and the member is synced once more with the new state.
CREATE TABLE role_sync_queue (
    guild_id      bigint      NOT NULL,
    user_id       bigint      NOT NULL,
    due_at        timestamptz NOT NULL DEFAULT now(),
    queued_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    leased_until  timestamptz,
    tries         integer     NOT NULL DEFAULT 0,
    reason        text        NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX role_sync_queue_due_idx ON role_sync_queue (due_at);

-- The nickname the bot last gave a member: it is the bot's to clear when the member
-- unlinks every account, and never anyone else's.
CREATE TABLE role_nicknames (
    guild_id  bigint      NOT NULL,
    user_id   bigint      NOT NULL,
    nick      text        NOT NULL,
    set_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (guild_id, user_id)
);

-- Whatever writes a player (the tracker, a lookup, a clan's member list), a change
-- that roles or nicknames follow queues the accounts' owners in every syncing guild.
CREATE FUNCTION queue_role_sync_for_player() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.town_hall IS NOT DISTINCT FROM OLD.town_hall
       AND NEW.league IS NOT DISTINCT FROM OLD.league
       AND NEW.clan_tag IS NOT DISTINCT FROM OLD.clan_tag
       AND NEW.role IS NOT DISTINCT FROM OLD.role
       AND NEW.name IS NOT DISTINCT FROM OLD.name
       AND NEW.clan_name IS NOT DISTINCT FROM OLD.clan_name THEN
        RETURN NULL;
    END IF;
    INSERT INTO role_sync_queue (guild_id, user_id, reason)
    SELECT g.guild_id, l.user_id, 'account changed'
    FROM links l CROSS JOIN role_guilds g
    WHERE l.tag = NEW.tag
    ON CONFLICT (guild_id, user_id) DO UPDATE
        SET due_at = LEAST(role_sync_queue.due_at, now()), queued_at = clock_timestamp(),
            reason = EXCLUDED.reason, tries = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER players_queue_role_sync
    AFTER INSERT OR UPDATE ON players
    FOR EACH ROW EXECUTE FUNCTION queue_role_sync_for_player();

-- A link made, moved to another user or removed: both users, in every syncing guild.
CREATE FUNCTION queue_role_sync_for_link() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    users bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        users := ARRAY[NEW.user_id];
    ELSIF TG_OP = 'DELETE' THEN
        users := ARRAY[OLD.user_id];
    ELSE
        users := ARRAY[OLD.user_id, NEW.user_id];
    END IF;
    INSERT INTO role_sync_queue (guild_id, user_id, reason)
    SELECT g.guild_id, u.user_id, 'link changed'
    FROM role_guilds g CROSS JOIN (SELECT DISTINCT unnest(users) AS user_id) u
    ON CONFLICT (guild_id, user_id) DO UPDATE
        SET due_at = LEAST(role_sync_queue.due_at, now()), queued_at = clock_timestamp(),
            reason = EXCLUDED.reason, tries = 0;
    RETURN NULL;
END $$;

CREATE TRIGGER links_queue_role_sync
    AFTER INSERT OR UPDATE OR DELETE ON links
    FOR EACH ROW EXECUTE FUNCTION queue_role_sync_for_link();
