-- Asynchronous media content checks, answered by the wxa_media_check push.
-- Times are UTC unix milliseconds; checked_at is NULL until the verdict.
CREATE TABLE media_checks (
	appid      VARCHAR(64)  NOT NULL,
	trace_id   VARCHAR(255) NOT NULL,
	media_url  TEXT         NOT NULL,
	media_type INT          NOT NULL DEFAULT 0,
	openid     VARCHAR(128) NOT NULL DEFAULT '',
	status     VARCHAR(32)  NOT NULL,
	label      INT          NOT NULL DEFAULT 0,
	created_at BIGINT       NOT NULL,
	checked_at BIGINT       NULL,
	PRIMARY KEY (appid, trace_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
