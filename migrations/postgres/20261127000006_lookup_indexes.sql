-- Chat questions about one package, and the droppable list, read by index instead of
-- scanning every patch.
CREATE INDEX packages_name ON packages (name);
CREATE INDEX verdicts_state ON verdicts (state);
CREATE INDEX patches_package ON patches (package_id, dropped_at);
