-- The weekly digest: one row per recipient and ISO week once it was handed to the SMTP
-- server, so a restarted `serve` (or a second `forkdebt digest`) does not send it again.
CREATE TABLE digests (
    idempotency_key TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    week TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sent_at TEXT NOT NULL
);
