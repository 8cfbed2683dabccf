-- The release tags each mirrored upstream project had when the git source last looked: a tag
-- not listed here is a new release, announced once per package it concerns. The first look
-- at a project only records what is there.
CREATE TABLE upstream_releases (
    project TEXT NOT NULL,
    tag TEXT NOT NULL,
    version TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (project, tag)
);
