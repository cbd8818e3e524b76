-- WeChat's datacube answers as received (SPEC §12.3): one row per app,
-- endpoint and date range; begin_date and end_date are yyyymmdd.
CREATE TABLE datacube_rows (
	appid      VARCHAR(64) NOT NULL,
	begin_date CHAR(8)     NOT NULL,
	api        VARCHAR(64) NOT NULL,
	end_date   CHAR(8)     NOT NULL,
	data       MEDIUMTEXT  NOT NULL,
	fetched_at BIGINT      NOT NULL,
	PRIMARY KEY (appid, api, begin_date, end_date),
	KEY datacube_rows_begin (appid, begin_date)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE datacube_jobs (
	id          VARCHAR(64) NOT NULL PRIMARY KEY,
	appid       VARCHAR(64) NOT NULL,
	from_date   CHAR(10)    NOT NULL,
	to_date     CHAR(10)    NOT NULL,
	status      VARCHAR(16) NOT NULL,
	calls       INT         NOT NULL,
	stored      INT         NOT NULL,
	failed      INT         NOT NULL,
	error       TEXT        NOT NULL,
	created_at  BIGINT      NOT NULL,
	finished_at BIGINT      NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
