-- Proposals opened for review (a branch pushed and a merge request opened): never two for the
-- same patch, and at most `[propose] max_open` open per downstream.
CREATE TABLE proposals (
    downstream TEXT NOT NULL,
    package TEXT NOT NULL,
    patch TEXT NOT NULL,
    branch TEXT NOT NULL,
    url TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (downstream, package, patch)
);
