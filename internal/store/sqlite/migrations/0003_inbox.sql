-- Received pushes, deduplicated by (appid, dedup_key). Times are UTC unix
-- milliseconds; handled_at is NULL until the router is done. message is the
-- push as a JSON object, stored byte for byte.
CREATE TABLE inbox (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	appid       TEXT    NOT NULL,
	dedup_key   TEXT    NOT NULL,
	msg_type    TEXT    NOT NULL DEFAULT '',
	event       TEXT    NOT NULL DEFAULT '',
	from_user   TEXT    NOT NULL DEFAULT '',
	create_time INTEGER NOT NULL DEFAULT 0,
	message     TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	error       TEXT    NOT NULL DEFAULT '',
	received_at INTEGER NOT NULL,
	handled_at  INTEGER,
	UNIQUE (appid, dedup_key)
);

CREATE INDEX inbox_appid_id ON inbox (appid, id DESC);

CREATE INDEX inbox_status_received_at ON inbox (status, received_at);
