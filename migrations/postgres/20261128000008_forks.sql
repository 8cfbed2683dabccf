-- Forks kept as git branches: a carried commit is a row of `patches` whose `file` is its sha and
-- whose `carried_commit` (JSON: branch, upstream match, proof, missing fixes) is set.
ALTER TABLE patches ADD COLUMN carried_commit TEXT;

-- What git says of a commit, computed once per (commit, git version): a rescan after one new
-- commit costs one new patch-id, not a walk of upstream. `patch_id` and `content_key` are
-- empty for a commit without a diff.
CREATE TABLE git_commits (
    sha TEXT NOT NULL,
    git_version TEXT NOT NULL,
    patch_id TEXT NOT NULL,
    content_key TEXT NOT NULL,
    subject TEXT NOT NULL,
    author TEXT NOT NULL,
    authored TEXT NOT NULL,
    message TEXT NOT NULL,
    lines_added BIGINT NOT NULL,
    lines_removed BIGINT NOT NULL,
    PRIMARY KEY (sha, git_version)
);

-- The first release tag that contains an upstream commit (only found ones: an untagged commit
-- is asked again), and whether a carried commit applies as empty onto it.
CREATE TABLE git_releases (
    sha TEXT PRIMARY KEY,
    tag TEXT NOT NULL
);
CREATE TABLE git_proofs (
    sha TEXT NOT NULL,
    tag TEXT NOT NULL,
    empty BIGINT NOT NULL,
    PRIMARY KEY (sha, tag)
);

-- Missing upstream follow-up fixes already announced, so each is told once.
CREATE TABLE missing_fixes (
    downstream TEXT NOT NULL,
    package TEXT NOT NULL,
    fix_sha TEXT NOT NULL,
    carried_sha TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (downstream, package, fix_sha)
);
