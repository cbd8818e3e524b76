-- The mini program's own events (SPEC §12). Raw events are kept for
-- retention.events; the rollups below are kept forever and answer the
-- series, retention and active-user queries. Times are UTC unix
-- milliseconds; day is the calendar day in analytics.timezone counted from
-- 1970-01-01; hour is the UTC unix second that starts the hour. user_key is
-- "u:<user id>" or "d:<device id>". Every table leads with appid and a time
-- column (PostgreSQL and MySQL partition them by time).
CREATE TABLE events (
	appid    TEXT    NOT NULL,
	ts       INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	user_key TEXT    NOT NULL,
	page     TEXT    NOT NULL,
	props    TEXT    NOT NULL
);

CREATE INDEX events_appid_ts ON events (appid, ts);
CREATE INDEX events_appid_name_ts ON events (appid, name, ts);

-- Batches already stored: a redelivered batch is skipped.
CREATE TABLE event_batches (
	appid     TEXT    NOT NULL,
	id        TEXT    NOT NULL,
	stored_at INTEGER NOT NULL,
	PRIMARY KEY (appid, id)
) WITHOUT ROWID;

CREATE TABLE event_names (
	appid      TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	first_seen INTEGER NOT NULL,
	PRIMARY KEY (appid, name)
) WITHOUT ROWID;

-- Counts and distinct users per event and hour; the *_users tables hold
-- the distinct actors that the users columns count.
CREATE TABLE event_hours (
	appid  TEXT    NOT NULL,
	hour   INTEGER NOT NULL,
	name   TEXT    NOT NULL,
	events INTEGER NOT NULL,
	users  INTEGER NOT NULL,
	PRIMARY KEY (appid, name, hour)
) WITHOUT ROWID;

CREATE TABLE event_hour_users (
	appid    TEXT    NOT NULL,
	hour     INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	user_key TEXT    NOT NULL,
	PRIMARY KEY (appid, name, hour, user_key)
) WITHOUT ROWID;

-- Per day; name '' counts every event (active users).
CREATE TABLE event_days (
	appid  TEXT    NOT NULL,
	day    INTEGER NOT NULL,
	name   TEXT    NOT NULL,
	events INTEGER NOT NULL,
	users  INTEGER NOT NULL,
	PRIMARY KEY (appid, name, day)
) WITHOUT ROWID;

CREATE TABLE event_day_users (
	appid    TEXT    NOT NULL,
	day      INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	user_key TEXT    NOT NULL,
	PRIMARY KEY (appid, name, day, user_key)
) WITHOUT ROWID;

CREATE INDEX event_day_users_user ON event_day_users (appid, name, user_key, day);

-- The first day each actor did each event (name '' = any event): the
-- retention cohorts.
CREATE TABLE event_first_days (
	appid    TEXT    NOT NULL,
	day      INTEGER NOT NULL,
	name     TEXT    NOT NULL,
	user_key TEXT    NOT NULL,
	PRIMARY KEY (appid, name, user_key)
) WITHOUT ROWID;

CREATE INDEX event_first_days_day ON event_first_days (appid, name, day);
