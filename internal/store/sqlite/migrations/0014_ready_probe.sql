-- One row that /readyz rewrites to check that the database takes writes.
CREATE TABLE ready_probe (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	probed_at INTEGER NOT NULL
);
