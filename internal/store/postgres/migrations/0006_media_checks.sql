-- Asynchronous media content checks, answered by the wxa_media_check push.
-- Times are UTC unix milliseconds; checked_at is NULL until the verdict.
CREATE TABLE media_checks (
	appid      TEXT    NOT NULL,
	trace_id   TEXT    NOT NULL,
	media_url  TEXT    NOT NULL,
	media_type INTEGER NOT NULL DEFAULT 0,
	openid     TEXT    NOT NULL DEFAULT '',
	status     TEXT    NOT NULL,
	label      INTEGER NOT NULL DEFAULT 0,
	created_at BIGINT  NOT NULL,
	checked_at BIGINT,
	PRIMARY KEY (appid, trace_id)
);
