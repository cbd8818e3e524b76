-- Cached mini-program code images, keyed by a hash of their parameters.
-- created_at is UTC unix milliseconds.
CREATE TABLE codes (
	appid        TEXT   NOT NULL,
	key          TEXT   NOT NULL,
	content_type TEXT   NOT NULL DEFAULT '',
	image        BYTEA  NOT NULL,
	created_at   BIGINT NOT NULL,
	PRIMARY KEY (appid, key)
);
