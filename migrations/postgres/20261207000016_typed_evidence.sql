-- Evidence hops are typed (`{"hop": "merged", "request": ..., "sha": ...}`). Hops written
-- before were prose (`{"text": ..., "url": ..., "at": ...}`): they become `note` hops, read
-- as they read before, until the engine decides the verdict again (at open, once: see
-- `store_meta`).
UPDATE verdicts SET evidence = REPLACE(evidence, '{"text":', '{"hop":"note","text":');
UPDATE events SET evidence = REPLACE(evidence, '{"text":', '{"hop":"note","text":');
UPDATE change_states SET evidence = REPLACE(evidence, '{"text":', '{"hop":"note","text":');

-- The version of the first release a verdict's evidence names ("first in v253": `253`), for
-- the release page: read as a field, never found in prose.
ALTER TABLE verdicts ADD COLUMN first_release TEXT;
CREATE INDEX verdicts_first_release ON verdicts (first_release);

-- Whether a patch is our debt (not inherited from the base's or Fedora's packaging): the one
-- rule, decided in Rust at scan time, read by SQL as a column.
ALTER TABLE patches ADD COLUMN ours BIGINT NOT NULL DEFAULT 1;
UPDATE patches SET ours = 0
    WHERE origin LIKE '%"kind":"inherited"%' OR origin LIKE '%"kind":"from-fedora"%';

-- One-time work a version asks of the store after its migrations (`redecide`: every verdict
-- decided again, silently, so old prose hops become typed ones).
CREATE TABLE store_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO store_meta (key, value) VALUES ('redecide', 'typed evidence');
