-- Cached mini-program code images, keyed by a hash of their parameters.
-- created_at is UTC unix milliseconds. "key" is a reserved word in MySQL.
CREATE TABLE codes (
	appid        VARCHAR(64)  NOT NULL,
	`key`        VARCHAR(128) NOT NULL,
	content_type VARCHAR(128) NOT NULL DEFAULT '',
	image        MEDIUMBLOB   NOT NULL,
	created_at   BIGINT       NOT NULL,
	PRIMARY KEY (appid, `key`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
