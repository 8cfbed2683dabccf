-- Where a proposal's merge/pull request is read back at each sync (its forge and API URL),
-- so a merged or closed proposal is known, announced once, and not proposed again.
ALTER TABLE proposals ADD COLUMN forge TEXT;
ALTER TABLE proposals ADD COLUMN api_url TEXT;
