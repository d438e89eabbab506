-- Wars after review: a war whose clan nobody tracks any more is closed as it
-- stands (closed_how 'untracked': no post, no missed attacks counted, and it
-- reopens if the clan is tracked again while it runs); a war replaced before
-- its end is closed 'cancelled'; friendly wars are not tracked; a reminder too
-- long for one Discord message is posted in parts, each with its own nonce.

-- Friendly wars stored before: told by their preparation's length (5 minutes to
-- 24 hours, as a friendly challenge offers; a clan war's is 23 hours). Their
-- lineups, attacks and reminder posts go with them.
DELETE FROM wars
WHERE war_tag IS NULL
  AND extract(epoch FROM start_time - preparation_start)::integer IN
      (300, 900, 1800, 3600, 7200, 14400, 21600, 28800, 43200, 57600, 72000, 86400);

-- Open wars of clans that are no longer polled (untracked before this migration).
UPDATE wars w SET closed_at = now(), closed_how = 'untracked'
WHERE w.closed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM war_polls wp WHERE wp.clan_tag = w.clan_tag);

-- How many parts of the reminder are posted (it is sent when all are), and the
-- members those parts named: a resumed post names the others.
ALTER TABLE war_reminder_posts ADD COLUMN parts_sent integer NOT NULL DEFAULT 0;
ALTER TABLE war_reminder_posts ADD COLUMN named text[] NOT NULL DEFAULT '{}';
