-- Sessions and their refresh-token families. Times are UTC unix
-- milliseconds; revoked_at and used_at are NULL until set.
CREATE TABLE sessions (
	id                 TEXT    PRIMARY KEY,
	appid              TEXT    NOT NULL,
	user_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	sealed_session_key BLOB    NOT NULL,
	created_at         INTEGER NOT NULL,
	expires_at         INTEGER NOT NULL,
	revoked_at         INTEGER
);

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
	hash       BLOB    PRIMARY KEY,
	session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
