-- Received pushes, deduplicated by (appid, dedup_key). Times are UTC unix
-- milliseconds; handled_at is NULL until the router is done. message is the
-- push as a JSON object, stored byte for byte (TEXT, not JSONB).
CREATE TABLE inbox (
	id          BIGSERIAL PRIMARY KEY,
	appid       TEXT      NOT NULL,
	dedup_key   TEXT      NOT NULL,
	msg_type    TEXT      NOT NULL DEFAULT '',
	event       TEXT      NOT NULL DEFAULT '',
	from_user   TEXT      NOT NULL DEFAULT '',
	create_time BIGINT    NOT NULL DEFAULT 0,
	message     TEXT      NOT NULL,
	status      TEXT      NOT NULL,
	error       TEXT      NOT NULL DEFAULT '',
	received_at BIGINT    NOT NULL,
	handled_at  BIGINT,
	UNIQUE (appid, dedup_key)
);

CREATE INDEX inbox_appid_id ON inbox (appid, id DESC);

CREATE INDEX inbox_status_received_at ON inbox (status, received_at);
