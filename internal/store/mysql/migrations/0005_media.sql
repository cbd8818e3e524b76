-- Temporary media uploaded to WeChat. Times are UTC unix milliseconds.
CREATE TABLE media (
	appid        VARCHAR(64)  NOT NULL,
	media_id     VARCHAR(255) NOT NULL,
	user_id      BIGINT       NOT NULL DEFAULT 0,
	type         VARCHAR(32)  NOT NULL DEFAULT '',
	content_type VARCHAR(128) NOT NULL DEFAULT '',
	size         BIGINT       NOT NULL DEFAULT 0,
	created_at   BIGINT       NOT NULL,
	expires_at   BIGINT       NOT NULL,
	PRIMARY KEY (appid, media_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
