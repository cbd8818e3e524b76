-- Users: one row per (appid, openid). Times are UTC unix milliseconds.
CREATE TABLE users (
	id            BIGSERIAL PRIMARY KEY,
	appid         TEXT      NOT NULL,
	openid        TEXT      NOT NULL,
	unionid       TEXT      NOT NULL DEFAULT '',
	nickname      TEXT      NOT NULL DEFAULT '',
	avatar_url    TEXT      NOT NULL DEFAULT '',
	phone_number  TEXT      NOT NULL DEFAULT '',
	created_at    BIGINT    NOT NULL,
	last_login_at BIGINT    NOT NULL,
	UNIQUE (appid, openid)
);

CREATE INDEX users_appid_unionid ON users (appid, unionid);

CREATE INDEX users_appid_id ON users (appid, id);
