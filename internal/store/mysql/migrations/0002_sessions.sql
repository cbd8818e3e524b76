-- Sessions and their refresh-token families. Times are UTC unix
-- milliseconds; revoked_at and used_at are NULL until set.
CREATE TABLE sessions (
	id                 VARCHAR(128) NOT NULL PRIMARY KEY,
	appid              VARCHAR(64)  NOT NULL,
	user_id            BIGINT       NOT NULL,
	sealed_session_key BLOB         NOT NULL,
	created_at         BIGINT       NOT NULL,
	expires_at         BIGINT       NOT NULL,
	revoked_at         BIGINT       NULL,
	KEY sessions_user_id (user_id),
	CONSTRAINT sessions_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE refresh_tokens (
	hash       VARBINARY(64) NOT NULL PRIMARY KEY,
	session_id VARCHAR(128)  NOT NULL,
	expires_at BIGINT        NOT NULL,
	used_at    BIGINT        NULL,
	KEY refresh_tokens_session_id (session_id),
	CONSTRAINT refresh_tokens_session FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
