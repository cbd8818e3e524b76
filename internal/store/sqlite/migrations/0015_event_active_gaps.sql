-- Active users (DAU/WAU/MAU) without reading every (actor, day): for each
-- app and day, how many actors were active that day (any event) after a
-- gap of 1..29 days since their previous active day, or 30 for 30 days or
-- more or none before. An actor active on day a with gap g counts in the
-- n-day window ending on day d (a <= d < a+n) exactly when a is its first
-- active day in that window, that is when g >= n - (d - a); so the windows
-- are sums of these rows. Kept up to date in the write transaction with
-- event_day_users (name '').
CREATE TABLE event_active_gaps (
	appid TEXT    NOT NULL,
	day   INTEGER NOT NULL,
	gap   INTEGER NOT NULL,
	users INTEGER NOT NULL,
	PRIMARY KEY (appid, day, gap)
) WITHOUT ROWID;

INSERT INTO event_active_gaps (appid, day, gap, users)
SELECT appid, day, gap, COUNT(*) FROM (
	SELECT appid, day, MIN(COALESCE(day - LAG(day) OVER (PARTITION BY appid, user_key ORDER BY day), 30), 30) AS gap
	FROM event_day_users WHERE name = ''
)
GROUP BY appid, day, gap;
