-- Sync: what upstream said about each reference, per source and per host.

-- The last good observation of an item (a bug, a PR...) and, separately, its last error:
-- a failed fetch never erases what was known before.
CREATE TABLE observations (
    source TEXT NOT NULL,
    item TEXT NOT NULL,
    data TEXT,
    upstream_changed_at TEXT,
    observed_at TEXT,
    checked_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    PRIMARY KEY (source, item)
);

-- Conditional-request validators (ETag / Last-Modified) per URL.
CREATE TABLE http_validators (
    url TEXT PRIMARY KEY,
    etag TEXT,
    last_modified TEXT,
    stored_at TEXT NOT NULL
);

-- Per source: last check, last success, last error, and what it cost.
CREATE TABLE source_status (
    source TEXT PRIMARY KEY,
    last_checked TEXT,
    last_success TEXT,
    last_error TEXT,
    last_error_at TEXT,
    items BIGINT NOT NULL DEFAULT 0,
    requests BIGINT NOT NULL DEFAULT 0,
    not_modified BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0
);

-- The earliest time a host may be asked again, so a Retry-After outlives a restart.
CREATE TABLE host_state (
    host TEXT PRIMARY KEY,
    next_allowed TEXT NOT NULL
);
