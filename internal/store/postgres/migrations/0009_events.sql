-- The mini program's own events (SPEC §12). Raw events are kept for
-- retention.events; the rollups below are kept forever and answer the
-- series, retention and active-user queries. Times are UTC unix
-- milliseconds; day is the calendar day in analytics.timezone counted from
-- 1970-01-01; hour is the UTC unix second that starts the hour. user_key is
-- "u:<user id>" or "d:<device id>". Every table leads with appid and a time
-- column, so a team can turn events into a table partitioned by ts
-- (PARTITION BY RANGE (ts)) without changing a query.
CREATE TABLE events (
	appid    TEXT   NOT NULL,
	ts       BIGINT NOT NULL,
	name     TEXT   NOT NULL,
	user_key TEXT   NOT NULL,
	page     TEXT   NOT NULL,
	props    TEXT   NOT NULL
);

CREATE INDEX events_appid_ts ON events (appid, ts);
CREATE INDEX events_appid_name_ts ON events (appid, name, ts);

CREATE TABLE event_batches (
	appid     TEXT   NOT NULL,
	id        TEXT   NOT NULL,
	stored_at BIGINT NOT NULL,
	PRIMARY KEY (appid, id)
);

CREATE TABLE event_names (
	appid      TEXT   NOT NULL,
	name       TEXT   NOT NULL,
	first_seen BIGINT NOT NULL,
	PRIMARY KEY (appid, name)
);

CREATE TABLE event_hours (
	appid  TEXT   NOT NULL,
	hour   BIGINT NOT NULL,
	name   TEXT   NOT NULL,
	events BIGINT NOT NULL,
	users  BIGINT NOT NULL,
	PRIMARY KEY (appid, name, hour)
);

CREATE TABLE event_hour_users (
	appid    TEXT   NOT NULL,
	hour     BIGINT NOT NULL,
	name     TEXT   NOT NULL,
	user_key TEXT   NOT NULL,
	PRIMARY KEY (appid, name, hour, user_key)
);

CREATE TABLE event_days (
	appid  TEXT   NOT NULL,
	day    BIGINT NOT NULL,
	name   TEXT   NOT NULL,
	events BIGINT NOT NULL,
	users  BIGINT NOT NULL,
	PRIMARY KEY (appid, name, day)
);

CREATE TABLE event_day_users (
	appid    TEXT   NOT NULL,
	day      BIGINT NOT NULL,
	name     TEXT   NOT NULL,
	user_key TEXT   NOT NULL,
	PRIMARY KEY (appid, name, day, user_key)
);

CREATE INDEX event_day_users_user ON event_day_users (appid, name, user_key, day);

CREATE TABLE event_first_days (
	appid    TEXT   NOT NULL,
	day      BIGINT NOT NULL,
	name     TEXT   NOT NULL,
	user_key TEXT   NOT NULL,
	PRIMARY KEY (appid, name, user_key)
);

CREATE INDEX event_first_days_day ON event_first_days (appid, name, day);
