-- Verdicts, events and the outbox.

-- The base distribution of a downstream (from the configuration, recorded at scan time), so
-- the engine can run inside any store transaction.
ALTER TABLE downstreams ADD COLUMN base TEXT;
-- Set when a sync first completed: before that, verdicts change silently (the first sync of
-- a new inventory is a baseline and announces nothing old).
ALTER TABLE downstreams ADD COLUMN synced_at TEXT;

-- The current verdict of each carried patch. A patch's first verdict is its baseline: it is
-- written without an event.
CREATE TABLE verdicts (
    patch_id BIGINT PRIMARY KEY REFERENCES patches (id),
    state TEXT NOT NULL,
    confidence TEXT NOT NULL,
    evidence TEXT NOT NULL,
    rebased_past TEXT,
    decided_at TEXT NOT NULL
);

-- Every transition, written once, in the transaction of the change that caused it.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    downstream TEXT NOT NULL,
    package TEXT NOT NULL,
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    evidence TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX events_created ON events (created_at);

-- Where events go (chat rooms, email recipients): registered by the delivering side.
CREATE TABLE destinations (
    name TEXT PRIMARY KEY
);

-- One delivery per event and destination; the idempotency key makes a resend after a crash
-- recognisable (Matrix transaction ids are derived from it).
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id BIGINT NOT NULL REFERENCES events (id),
    destination TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT
);

-- The current status of each tracked Fedora Change (`accepted-f42`, `landed-f42`...).
CREATE TABLE change_states (
    title TEXT PRIMARY KEY,
    state_key TEXT NOT NULL,
    state TEXT NOT NULL,
    release_nn BIGINT,
    evidence TEXT NOT NULL,
    decided_at TEXT NOT NULL
);

-- The fork-debt metric, one row per downstream, day and package (the latest of the day wins).
CREATE TABLE debt_snapshots (
    downstream TEXT NOT NULL,
    day TEXT NOT NULL,
    package TEXT NOT NULL,
    carried BIGINT NOT NULL,
    droppable BIGINT NOT NULL,
    local_only BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    oldest TEXT,
    PRIMARY KEY (downstream, day, package)
);
