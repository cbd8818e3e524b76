-- Outbound messages. Times are UTC unix milliseconds; sent_at and
-- claimed_at are NULL until set. payload is the WeChat request body, stored
-- byte for byte.
CREATE TABLE messages (
	id              VARCHAR(128) NOT NULL PRIMARY KEY,
	appid           VARCHAR(64)  NOT NULL,
	kind            VARCHAR(32)  NOT NULL,
	openid          VARCHAR(128) NOT NULL,
	payload         MEDIUMTEXT   NOT NULL,
	status          VARCHAR(32)  NOT NULL,
	attempts        INT          NOT NULL DEFAULT 0,
	wechat_errcode  BIGINT       NOT NULL DEFAULT 0,
	error           TEXT         NOT NULL,
	wechat_msgid    VARCHAR(128) NOT NULL DEFAULT '',
	created_at      BIGINT       NOT NULL,
	sent_at         BIGINT       NULL,
	next_attempt_at BIGINT       NOT NULL,
	claimed_at      BIGINT       NULL,
	KEY messages_status_next_attempt_at (status, next_attempt_at),
	KEY messages_status_claimed_at (status, claimed_at),
	KEY messages_appid_id (appid, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
