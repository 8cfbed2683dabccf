-- Messages heard from a message bus (fedora-messaging) or a forge's webhook, by their id:
-- each is acted on once however often it arrives (the broker delivers at least once, a
-- backfill overlaps the live queue, a forge redelivers). Only messages about something
-- tracked are kept.
CREATE TABLE heard (
    origin TEXT NOT NULL,
    id TEXT NOT NULL,
    topic TEXT NOT NULL,
    sent_at TEXT,
    heard_at TEXT NOT NULL,
    PRIMARY KEY (origin, id)
);
CREATE INDEX heard_at ON heard (heard_at);

-- Per bus or forge: the newest message heard (its own time), when, the lag between the
-- two, and the last backfill: where the next backfill starts, and what `sources` shows.
CREATE TABLE listeners (
    origin TEXT PRIMARY KEY,
    last_sent_at TEXT,
    last_heard_at TEXT,
    lag_ms BIGINT,
    last_backfill_at TEXT,
    messages BIGINT NOT NULL DEFAULT 0,
    acted_on BIGINT NOT NULL DEFAULT 0
);
