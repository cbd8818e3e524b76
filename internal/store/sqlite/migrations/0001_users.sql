-- Users: one row per (appid, openid). Times are UTC unix milliseconds.
CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	appid         TEXT    NOT NULL,
	openid        TEXT    NOT NULL,
	unionid       TEXT    NOT NULL DEFAULT '',
	nickname      TEXT    NOT NULL DEFAULT '',
	avatar_url    TEXT    NOT NULL DEFAULT '',
	phone_number  TEXT    NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL,
	last_login_at INTEGER NOT NULL,
	UNIQUE (appid, openid)
);

CREATE INDEX users_appid_unionid ON users (appid, unionid);
