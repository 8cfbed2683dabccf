-- Chat delivery: what each destination wants to hear, and how each outbox row ended.

-- An empty set of subscriptions means "everything"; otherwise an event is posted when it
-- concerns one of the targets (a package, a Fedora Change, or a state like `droppable`).
CREATE TABLE subscriptions (
    destination TEXT NOT NULL,
    target TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (destination, target)
);

-- Events about a snoozed target are not posted until the snooze ends.
CREATE TABLE snoozes (
    destination TEXT NOT NULL,
    target TEXT NOT NULL,
    until_at TEXT NOT NULL,
    PRIMARY KEY (destination, target)
);

-- How a delivered outbox row ended: posted, filtered (no subscription matched), snoozed,
-- or collapsed (into a summary because the destination's hourly budget was spent).
ALTER TABLE outbox ADD COLUMN outcome TEXT;
CREATE INDEX outbox_pending ON outbox (destination, delivered_at);
