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
    -- The bot left the guild (its settings stay for a return): nothing is queued for it.
    left_at          timestamptz,
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
-- priority: 0 a command, a link or a join (at once), 1 a change the tracker saw,
-- 2 a full pass; a link never waits behind a pass of a thousand members.
CREATE TABLE role_sync_queue (
    guild_id      bigint      NOT NULL,
    user_id       bigint      NOT NULL,
    priority      smallint    NOT NULL,
    due_at        timestamptz NOT NULL DEFAULT now(),
    queued_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    leased_until  timestamptz,
    leased_by     text,
    tries         integer     NOT NULL DEFAULT 0,
    reason        text        NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);
CREATE INDEX role_sync_queue_due_idx ON role_sync_queue (priority, due_at);

-- Users whose roles may have changed, appended by the triggers below and moved into
-- the queue (for every syncing guild) by the bot. Append-only, with no key to conflict
-- on: a trigger inside the tracker's batch transaction takes no lock another batch
-- could wait for.
CREATE TABLE role_sync_dirty (
    id        bigserial   PRIMARY KEY,
    user_id   bigint      NOT NULL,
    priority  smallint    NOT NULL,
    reason    text        NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);

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
-- that roles or nicknames follow marks the account's owner, when any guild syncs.
CREATE FUNCTION mark_role_sync_for_player() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM role_guilds) THEN
        INSERT INTO role_sync_dirty (user_id, priority, reason)
        SELECT l.user_id, 1, 'account changed' FROM links l WHERE l.tag = NEW.tag;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER players_mark_role_sync_insert
    AFTER INSERT ON players
    FOR EACH ROW EXECUTE FUNCTION mark_role_sync_for_player();

-- The WHEN clause keeps PL/pgSQL off the tracker's every other write. Not players.league:
-- clan lists write the older league there and profiles the tier, so it moves on most
-- reads; league roles follow the tier (battle_logs, below).
CREATE TRIGGER players_mark_role_sync
    AFTER UPDATE ON players
    FOR EACH ROW
    WHEN (NEW.town_hall IS DISTINCT FROM OLD.town_hall
          OR NEW.clan_tag IS DISTINCT FROM OLD.clan_tag
          OR NEW.role IS DISTINCT FROM OLD.role
          OR NEW.name IS DISTINCT FROM OLD.name
          OR NEW.clan_name IS DISTINCT FROM OLD.clan_name)
    EXECUTE FUNCTION mark_role_sync_for_player();

-- League roles follow the tier of the last full profile (battle_logs.tier_id).
CREATE FUNCTION mark_role_sync_for_tier() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM role_guilds) THEN
        INSERT INTO role_sync_dirty (user_id, priority, reason)
        SELECT l.user_id, 1, 'league changed' FROM links l WHERE l.tag = NEW.player_tag;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER battle_logs_mark_role_sync_insert
    AFTER INSERT ON battle_logs
    FOR EACH ROW WHEN (NEW.tier_id IS NOT NULL)
    EXECUTE FUNCTION mark_role_sync_for_tier();

CREATE TRIGGER battle_logs_mark_role_sync
    AFTER UPDATE ON battle_logs
    FOR EACH ROW WHEN (NEW.tier_id IS DISTINCT FROM OLD.tier_id)
    EXECUTE FUNCTION mark_role_sync_for_tier();

-- A link made, moved to another user or removed: both users.
CREATE FUNCTION mark_role_sync_for_link() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM role_guilds) THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO role_sync_dirty (user_id, priority, reason) VALUES (OLD.user_id, 0, 'link changed');
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO role_sync_dirty (user_id, priority, reason) VALUES (NEW.user_id, 0, 'link changed');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER links_mark_role_sync
    AFTER INSERT OR UPDATE OR DELETE ON links
    FOR EACH ROW EXECUTE FUNCTION mark_role_sync_for_link();
