-- Outbound messages. Times are UTC unix milliseconds; sent_at and
-- claimed_at are NULL until set. payload is the WeChat request body, stored
-- byte for byte.
CREATE TABLE messages (
	id              TEXT    PRIMARY KEY,
	appid           TEXT    NOT NULL,
	kind            TEXT    NOT NULL,
	openid          TEXT    NOT NULL,
	payload         TEXT    NOT NULL,
	status          TEXT    NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	wechat_errcode  BIGINT  NOT NULL DEFAULT 0,
	error           TEXT    NOT NULL DEFAULT '',
	wechat_msgid    TEXT    NOT NULL DEFAULT '',
	created_at      BIGINT  NOT NULL,
	sent_at         BIGINT,
	next_attempt_at BIGINT  NOT NULL,
	claimed_at      BIGINT
);

CREATE INDEX messages_status_next_attempt_at ON messages (status, next_attempt_at);

CREATE INDEX messages_status_claimed_at ON messages (status, claimed_at);
