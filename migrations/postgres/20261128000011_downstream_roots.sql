-- The folders a downstream was last scanned from (JSON list of absolute paths), so `propose`
-- finds the dist-git repository without a configuration (the demo's).
ALTER TABLE downstreams ADD COLUMN roots TEXT;
