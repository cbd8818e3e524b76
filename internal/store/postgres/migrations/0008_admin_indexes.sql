-- Indexes for the admin console's reads: an app's outbound messages newest
-- first (and counted by status), its sessions and pushes counted by time.
CREATE INDEX messages_appid_created_at ON messages (appid, created_at DESC, id DESC);

CREATE INDEX sessions_appid_created_at ON sessions (appid, created_at);

CREATE INDEX inbox_appid_received_at ON inbox (appid, received_at);
