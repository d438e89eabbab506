-- Wars after review: a war whose clan nobody tracks any more is closed as it
-- stands (closed_how 'untracked': no post, no missed attacks counted, and it
-- reopens if the clan is tracked again while it runs); a reminder too long
-- for one Discord message is posted in parts, each with its own nonce.

-- Open wars of clans that are no longer polled (untracked before this migration).
UPDATE wars w SET closed_at = now(), closed_how = 'untracked'
WHERE w.closed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM war_polls wp WHERE wp.clan_tag = w.clan_tag);

-- How many parts of the reminder are posted (it is sent when all are).
ALTER TABLE war_reminder_posts ADD COLUMN parts_sent integer NOT NULL DEFAULT 0;
