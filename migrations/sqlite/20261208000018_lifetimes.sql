-- Every carried patch's life in dist-git, from `scan --history`: the commit that added it and
-- the one that dropped it (none while carried), dated in the committer's own time zone. A
-- patch dropped and added again has two rows; one renamed with the same content keeps its row.
CREATE TABLE lifetimes (
    downstream_id BIGINT NOT NULL,
    package TEXT NOT NULL,
    file TEXT NOT NULL,
    added_at TEXT NOT NULL,
    added_in TEXT NOT NULL,
    dropped_at TEXT,
    dropped_in TEXT,
    PRIMARY KEY (downstream_id, package, added_in, file)
);
CREATE INDEX lifetimes_dropped ON lifetimes (downstream_id, dropped_at);
