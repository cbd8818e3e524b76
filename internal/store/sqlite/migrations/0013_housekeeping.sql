-- Housekeeping: codes remember when they were last used (UTC unix
-- milliseconds) so that the cache drops the least recently used first, and
-- the purges find old rows through indexes.
ALTER TABLE codes ADD COLUMN used_at INTEGER NOT NULL DEFAULT 0;

UPDATE codes SET used_at = created_at;

CREATE INDEX codes_used_at ON codes (used_at);

CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE INDEX sessions_revoked_at ON sessions (revoked_at);

CREATE INDEX messages_status_created_at ON messages (status, created_at);
