-- Inventory: downstreams, packages, carried patches and their upstream references.
-- Times are RFC 3339 UTC text ("2026-11-25T19:37:00Z"): they sort as text on both backends.
CREATE TABLE downstreams (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    last_scan_at TEXT
);

CREATE TABLE packages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    downstream_id INTEGER NOT NULL REFERENCES downstreams (id),
    name TEXT NOT NULL,
    spec_path TEXT NOT NULL,
    epoch INTEGER,
    version TEXT NOT NULL,
    release TEXT NOT NULL,
    local_marker TEXT,
    dist_tag TEXT,
    upstream TEXT,
    url TEXT,
    source0 TEXT,
    changelog_refs TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    removed_at TEXT,
    UNIQUE (downstream_id, name)
);

CREATE TABLE patches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    package_id INTEGER NOT NULL REFERENCES packages (id),
    file TEXT NOT NULL,
    number INTEGER,
    path TEXT,
    condition TEXT,
    subject TEXT,
    author TEXT,
    authored TEXT,
    lines_added INTEGER NOT NULL,
    lines_removed INTEGER NOT NULL,
    state TEXT NOT NULL,
    claims TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    dropped_at TEXT,
    UNIQUE (package_id, file)
);

CREATE TABLE patch_refs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    patch_id INTEGER NOT NULL REFERENCES patches (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    url TEXT,
    role TEXT NOT NULL,
    confidence TEXT NOT NULL,
    found_in TEXT NOT NULL,
    note TEXT
);
CREATE INDEX patch_refs_patch ON patch_refs (patch_id);
CREATE INDEX patch_refs_kind_id ON patch_refs (kind, ref_id);

CREATE TABLE deviations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    downstream_id INTEGER NOT NULL REFERENCES downstreams (id),
    name TEXT NOT NULL,
    package TEXT,
    description TEXT NOT NULL,
    refs TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    removed_at TEXT,
    UNIQUE (downstream_id, name)
);

CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    downstream_id INTEGER NOT NULL REFERENCES downstreams (id),
    scanned_at TEXT NOT NULL,
    packages INTEGER NOT NULL,
    patches INTEGER NOT NULL,
    added INTEGER NOT NULL,
    changed INTEGER NOT NULL,
    dropped INTEGER NOT NULL,
    warnings TEXT NOT NULL
);

CREATE TABLE history (
    downstream_id INTEGER NOT NULL REFERENCES downstreams (id),
    package TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    patches INTEGER NOT NULL,
    files TEXT NOT NULL,
    PRIMARY KEY (downstream_id, package, commit_id)
);
CREATE INDEX history_time ON history (downstream_id, committed_at);
