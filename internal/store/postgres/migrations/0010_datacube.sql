-- WeChat's datacube answers as received (SPEC §12.3): one row per app,
-- endpoint and date range; begin_date and end_date are yyyymmdd.
CREATE TABLE datacube_rows (
	appid      TEXT   NOT NULL,
	begin_date TEXT   NOT NULL,
	api        TEXT   NOT NULL,
	end_date   TEXT   NOT NULL,
	data       TEXT   NOT NULL,
	fetched_at BIGINT NOT NULL,
	PRIMARY KEY (appid, api, begin_date, end_date)
);

CREATE INDEX datacube_rows_begin ON datacube_rows (appid, begin_date);

CREATE TABLE datacube_jobs (
	id          TEXT    PRIMARY KEY,
	appid       TEXT    NOT NULL,
	from_date   TEXT    NOT NULL,
	to_date     TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	calls       INTEGER NOT NULL,
	stored      INTEGER NOT NULL,
	failed      INTEGER NOT NULL,
	error       TEXT    NOT NULL,
	created_at  BIGINT  NOT NULL,
	finished_at BIGINT
);
