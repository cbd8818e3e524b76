-- Temporary media uploaded to WeChat. Times are UTC unix milliseconds.
CREATE TABLE media (
	appid        TEXT    NOT NULL,
	media_id     TEXT    NOT NULL,
	user_id      INTEGER NOT NULL DEFAULT 0,
	type         TEXT    NOT NULL DEFAULT '',
	content_type TEXT    NOT NULL DEFAULT '',
	size         INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	PRIMARY KEY (appid, media_id)
);
