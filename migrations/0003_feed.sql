-- The feed outbox, made safe to prune and quick to read by batch.

-- Deleting a batch must take its rows with it: with SET NULL they would turn
-- unbatched again and be posted a second time.
ALTER TABLE feed_outbox
    DROP CONSTRAINT feed_outbox_batch_id_fkey,
    ADD CONSTRAINT feed_outbox_batch_id_fkey
        FOREIGN KEY (batch_id) REFERENCES feed_batches (id) ON DELETE CASCADE;

-- The sender reads a batch's rows when it posts or re-posts it.
CREATE INDEX feed_outbox_batch_idx ON feed_outbox (batch_id) WHERE batch_id IS NOT NULL;

-- Pruning of sent batches by age.
CREATE INDEX feed_batches_sent_idx ON feed_batches (sent_at) WHERE sent_at IS NOT NULL;
