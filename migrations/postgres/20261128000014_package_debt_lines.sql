-- The dashboard's overview reads each package's debt from here instead of aggregating every
-- patch per request: lines changed and the oldest carried patch's first-seen time, beside
-- the counts per bucket. Ours only, like the counts (inherited patches are not our debt).
ALTER TABLE package_debt ADD COLUMN lines BIGINT NOT NULL DEFAULT 0;
ALTER TABLE package_debt ADD COLUMN oldest TEXT;

UPDATE package_debt SET
    lines = COALESCE((SELECT SUM(p.lines_added + p.lines_removed) FROM patches p
        WHERE p.package_id = package_debt.package_id AND p.dropped_at IS NULL
        AND (p.origin IS NULL OR p.origin LIKE '%"derived-from"%')), 0),
    oldest = (SELECT MIN(p.first_seen) FROM patches p
        WHERE p.package_id = package_debt.package_id AND p.dropped_at IS NULL
        AND (p.origin IS NULL OR p.origin LIKE '%"derived-from"%'));
