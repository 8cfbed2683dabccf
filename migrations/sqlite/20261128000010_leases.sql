-- Leases elect the one instance that runs the scheduler (sync, dist-git rescans, digest).
-- Taken and renewed in single autocommit statements with the database's own clock
-- (milliseconds since the epoch), so instances with skewed clocks agree; `fence` grows each
-- time the lease changes hands.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    fence BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
