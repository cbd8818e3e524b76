-- Funnels and split series read (ts, user_key) of one event in time order:
-- with user_key in the index they never touch the table.
CREATE INDEX events_appid_name_ts_user ON events (appid, name, ts, user_key);

DROP INDEX events_appid_name_ts;
