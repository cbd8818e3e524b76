-- Received pushes, deduplicated by (appid, dedup_key). Times are UTC unix
-- milliseconds; handled_at is NULL until the router is done. message is the
-- push as a JSON object, stored byte for byte.
CREATE TABLE inbox (
	id          BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	appid       VARCHAR(64)  NOT NULL,
	dedup_key   VARCHAR(255) NOT NULL,
	msg_type    VARCHAR(64)  NOT NULL DEFAULT '',
	event       VARCHAR(128) NOT NULL DEFAULT '',
	from_user   VARCHAR(128) NOT NULL DEFAULT '',
	create_time BIGINT       NOT NULL DEFAULT 0,
	message     MEDIUMTEXT   NOT NULL,
	status      VARCHAR(32)  NOT NULL,
	error       TEXT         NOT NULL,
	received_at BIGINT       NOT NULL,
	handled_at  BIGINT       NULL,
	UNIQUE KEY inbox_appid_dedup_key (appid, dedup_key),
	KEY inbox_appid_id (appid, id),
	KEY inbox_status_received_at (status, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
