-- WeChat Pay orders, refunds and their business events. Amounts are
-- integer fen; times are UTC unix milliseconds, NULL when unset.
-- next_check_at is when reconciliation next queries WeChat Pay (NULL: never).
CREATE TABLE pay_orders (
	seq            BIGSERIAL PRIMARY KEY,
	appid          TEXT    NOT NULL,
	out_trade_no   TEXT    NOT NULL,
	user_id        BIGINT  NOT NULL,
	openid         TEXT    NOT NULL,
	description    TEXT    NOT NULL,
	total          BIGINT  NOT NULL,
	currency       TEXT    NOT NULL,
	status         TEXT    NOT NULL,
	transaction_id TEXT,
	attach         TEXT    NOT NULL DEFAULT '',
	time_expire    BIGINT,
	paid_at        BIGINT,
	refunded       BIGINT  NOT NULL DEFAULT 0,
	fingerprint    TEXT    NOT NULL,
	prepay_id      TEXT    NOT NULL DEFAULT '',
	prepay_at      BIGINT,
	next_check_at  BIGINT,
	checks         INTEGER NOT NULL DEFAULT 0,
	created_at     BIGINT  NOT NULL,
	updated_at     BIGINT  NOT NULL,
	UNIQUE (appid, out_trade_no),
	UNIQUE (appid, transaction_id)
);

CREATE INDEX pay_orders_user ON pay_orders (appid, user_id, seq);
CREATE INDEX pay_orders_check ON pay_orders (next_check_at);

CREATE TABLE pay_refunds (
	appid         TEXT    NOT NULL,
	out_refund_no TEXT    NOT NULL,
	out_trade_no  TEXT    NOT NULL,
	refund_id     TEXT    NOT NULL DEFAULT '',
	amount        BIGINT  NOT NULL,
	reason        TEXT    NOT NULL DEFAULT '',
	status        TEXT    NOT NULL,
	next_check_at BIGINT,
	checks        INTEGER NOT NULL DEFAULT 0,
	created_at    BIGINT  NOT NULL,
	succeeded_at  BIGINT,
	PRIMARY KEY (appid, out_refund_no),
	FOREIGN KEY (appid, out_trade_no) REFERENCES pay_orders (appid, out_trade_no)
);

CREATE INDEX pay_refunds_order ON pay_refunds (appid, out_trade_no);
CREATE INDEX pay_refunds_check ON pay_refunds (next_check_at);

CREATE TABLE pay_events (
	id            TEXT    PRIMARY KEY,
	appid         TEXT    NOT NULL,
	event         TEXT    NOT NULL,
	out_trade_no  TEXT    NOT NULL,
	out_refund_no TEXT    NOT NULL DEFAULT '',
	created_at    BIGINT  NOT NULL,
	finished_at   BIGINT
);

CREATE INDEX pay_events_pending ON pay_events (finished_at, created_at);
