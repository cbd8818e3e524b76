-- The mini program's own events (SPEC §12). Raw events are kept for
-- retention.events; the rollups below are kept forever and answer the
-- series, retention and active-user queries. Times are UTC unix
-- milliseconds; day is the calendar day in analytics.timezone counted from
-- 1970-01-01; hour is the UTC unix second that starts the hour. user_key is
-- "u:<user id>" or "d:<device id>". Every table leads with appid and a time
-- column, so a team can partition events by RANGE (ts) without changing a
-- query (the surrogate id then joins ts in the primary key).
CREATE TABLE events (
	id       BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	appid    VARCHAR(64)  NOT NULL,
	ts       BIGINT       NOT NULL,
	name     VARCHAR(64)  NOT NULL,
	user_key VARCHAR(140) NOT NULL,
	page     VARCHAR(512) NOT NULL,
	props    TEXT         NOT NULL,
	KEY events_appid_ts (appid, ts),
	KEY events_appid_name_ts (appid, name, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_batches (
	appid     VARCHAR(64) NOT NULL,
	id        VARCHAR(64) NOT NULL,
	stored_at BIGINT      NOT NULL,
	PRIMARY KEY (appid, id),
	KEY event_batches_stored_at (stored_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_names (
	appid      VARCHAR(64) NOT NULL,
	name       VARCHAR(64) NOT NULL,
	first_seen BIGINT      NOT NULL,
	PRIMARY KEY (appid, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_hours (
	appid  VARCHAR(64) NOT NULL,
	hour   BIGINT      NOT NULL,
	name   VARCHAR(64) NOT NULL,
	events BIGINT      NOT NULL,
	users  BIGINT      NOT NULL,
	PRIMARY KEY (appid, name, hour)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_hour_users (
	appid    VARCHAR(64)  NOT NULL,
	hour     BIGINT       NOT NULL,
	name     VARCHAR(64)  NOT NULL,
	user_key VARCHAR(140) NOT NULL,
	PRIMARY KEY (appid, name, hour, user_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_days (
	appid  VARCHAR(64) NOT NULL,
	day    BIGINT      NOT NULL,
	name   VARCHAR(64) NOT NULL,
	events BIGINT      NOT NULL,
	users  BIGINT      NOT NULL,
	PRIMARY KEY (appid, name, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_day_users (
	appid    VARCHAR(64)  NOT NULL,
	day      BIGINT       NOT NULL,
	name     VARCHAR(64)  NOT NULL,
	user_key VARCHAR(140) NOT NULL,
	PRIMARY KEY (appid, name, day, user_key),
	KEY event_day_users_user (appid, name, user_key, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE event_first_days (
	appid    VARCHAR(64)  NOT NULL,
	day      BIGINT       NOT NULL,
	name     VARCHAR(64)  NOT NULL,
	user_key VARCHAR(140) NOT NULL,
	PRIMARY KEY (appid, name, user_key),
	KEY event_first_days_day (appid, name, day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
