-- Several instances on one database.
-- Outbox claims: a deliverer claims rows for `locked_until_ms` (database clock); a crashed
-- deliverer's claims lapse. `sending_at` is set right before a post goes out, so a crash
-- between posting and recording is recognised: a network that cannot deduplicate (IRC)
-- does not post it again.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN locked_until_ms BIGINT;
ALTER TABLE outbox ADD COLUMN sending_at TEXT;

-- Scheduled jobs (sync, dist-git rescans): when each last started, so they run once per
-- interval however many instances there are and whichever of them leads.
CREATE TABLE runs (
    name TEXT PRIMARY KEY,
    started_ms BIGINT NOT NULL
);

-- A digest is claimed (`sending`) before the SMTP transaction and `sent` after it, so a
-- crash between the two does not send it twice.
ALTER TABLE digests ADD COLUMN state TEXT NOT NULL DEFAULT 'sent';
