-- Sessions and their refresh-token families. Times are UTC unix
-- milliseconds; revoked_at and used_at are NULL until set.
CREATE TABLE sessions (
	id                 TEXT   PRIMARY KEY,
	appid              TEXT   NOT NULL,
	user_id            BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	sealed_session_key BYTEA  NOT NULL,
	created_at         BIGINT NOT NULL,
	expires_at         BIGINT NOT NULL,
	revoked_at         BIGINT
);

CREATE INDEX sessions_user_id ON sessions (user_id);

CREATE TABLE refresh_tokens (
	hash       BYTEA  PRIMARY KEY,
	session_id TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
