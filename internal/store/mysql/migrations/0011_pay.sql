-- WeChat Pay orders, refunds and their business events. Amounts are
-- integer fen; times are UTC unix milliseconds, NULL when unset.
-- next_check_at is when reconciliation next queries WeChat Pay (NULL: never).
CREATE TABLE pay_orders (
	seq            BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	appid          VARCHAR(64)  NOT NULL,
	out_trade_no   VARCHAR(32)  NOT NULL,
	user_id        BIGINT       NOT NULL,
	openid         VARCHAR(128) NOT NULL,
	description    VARCHAR(255) NOT NULL,
	total          BIGINT       NOT NULL,
	currency       VARCHAR(8)   NOT NULL,
	status         VARCHAR(16)  NOT NULL,
	transaction_id VARCHAR(64)  NULL,
	attach         VARCHAR(255) NOT NULL DEFAULT '',
	time_expire    BIGINT       NULL,
	paid_at        BIGINT       NULL,
	refunded       BIGINT       NOT NULL DEFAULT 0,
	fingerprint    VARCHAR(64)  NOT NULL,
	prepay_id      VARCHAR(128) NOT NULL DEFAULT '',
	prepay_at      BIGINT       NULL,
	next_check_at  BIGINT       NULL,
	checks         INT          NOT NULL DEFAULT 0,
	created_at     BIGINT       NOT NULL,
	updated_at     BIGINT       NOT NULL,
	UNIQUE KEY pay_orders_no (appid, out_trade_no),
	UNIQUE KEY pay_orders_transaction (appid, transaction_id),
	KEY pay_orders_user (appid, user_id, seq),
	KEY pay_orders_check (next_check_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE pay_refunds (
	appid         VARCHAR(64)  NOT NULL,
	out_refund_no VARCHAR(64)  NOT NULL,
	out_trade_no  VARCHAR(32)  NOT NULL,
	refund_id     VARCHAR(64)  NOT NULL DEFAULT '',
	amount        BIGINT       NOT NULL,
	reason        VARCHAR(255) NOT NULL DEFAULT '',
	status        VARCHAR(16)  NOT NULL,
	next_check_at BIGINT       NULL,
	checks        INT          NOT NULL DEFAULT 0,
	created_at    BIGINT       NOT NULL,
	succeeded_at  BIGINT       NULL,
	PRIMARY KEY (appid, out_refund_no),
	KEY pay_refunds_order (appid, out_trade_no),
	KEY pay_refunds_check (next_check_at),
	CONSTRAINT pay_refunds_order_fk FOREIGN KEY (appid, out_trade_no) REFERENCES pay_orders (appid, out_trade_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE pay_events (
	id            VARCHAR(160) NOT NULL PRIMARY KEY,
	appid         VARCHAR(64)  NOT NULL,
	event         VARCHAR(32)  NOT NULL,
	out_trade_no  VARCHAR(32)  NOT NULL,
	out_refund_no VARCHAR(64)  NOT NULL DEFAULT '',
	created_at    BIGINT       NOT NULL,
	finished_at   BIGINT       NULL,
	KEY pay_events_pending (finished_at, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
