-- Users: one row per (appid, openid). Times are UTC unix milliseconds.
-- Every table is utf8mb4 with a binary collation: openids, keys and ids
-- compare byte for byte, as on the other engines.
CREATE TABLE users (
	id            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	appid         VARCHAR(64)  NOT NULL,
	openid        VARCHAR(128) NOT NULL,
	unionid       VARCHAR(128) NOT NULL DEFAULT '',
	nickname      VARCHAR(255) NOT NULL DEFAULT '',
	avatar_url    TEXT         NOT NULL,
	phone_number  VARCHAR(64)  NOT NULL DEFAULT '',
	created_at    BIGINT       NOT NULL,
	last_login_at BIGINT       NOT NULL,
	UNIQUE KEY users_appid_openid (appid, openid),
	KEY users_appid_unionid (appid, unionid),
	KEY users_appid_id (appid, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
