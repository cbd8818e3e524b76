-- Temporary media uploaded to WeChat. Times are UTC unix milliseconds.
CREATE TABLE media (
	appid        TEXT   NOT NULL,
	media_id     TEXT   NOT NULL,
	user_id      BIGINT NOT NULL DEFAULT 0,
	type         TEXT   NOT NULL DEFAULT '',
	content_type TEXT   NOT NULL DEFAULT '',
	size         BIGINT NOT NULL DEFAULT 0,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	PRIMARY KEY (appid, media_id)
);
