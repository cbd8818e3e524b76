// Package outbox sends outbound WeChat messages (customer-service and
// subscribe messages, SPEC §3.2) durably: a message is first stored with
// status queued, then its id is published on the queue subject
// miniback.outbox.<appid>; whichever instance receives it claims the row,
// calls WeChat and records the outcome. The database row, not the queue,
// is the truth: a sweeper republishes queued rows whose publish was lost
// and closes rows whose sending instance died.
//
// # Statuses
//
//	queued  → sending   ClaimMessage, a compare-and-set: one instance wins
//	sending → sent      WeChat answered success
//	sending → queued    WeChat answered a retryable error; NextAttemptAt set
//	sending → failed    a non-retryable error, attempts exhausted, or interrupted
//
// # Delivery guarantee (at most once)
//
// A message WeChat answered with success is never sent again: the
// sending → sent change is recorded before the queue message is
// acknowledged, and every later delivery fails to claim the row.
//
// A send interrupted by the death of its instance (the row was claimed,
// so it is sending, but no outcome was recorded) is never retried, because
// WeChat may have delivered it: once its claim is older than Config.Lease
// (longer than the WeChat client's timeout) it is marked failed with the
// error "interrupted: the instance died mid-send; not resent (at most
// once)".
//
// WeChat errors that prove the message was not accepted (-1 system busy,
// 45009 and 45011 quotas, HTTP 429 and 5xx, refused connections) are
// retried with exponential backoff and full jitter, up to
// Config.MaxAttempts attempts. Timeouts and dropped connections are
// retried as well although they prove nothing: WeChat may have accepted a
// request whose answer was lost, so these are the one case where a user
// may receive a message twice. Every other WeChat error (43101 user
// refused, 40037 bad template, 47003 bad data, 45015 reply window closed,
// 48001, 40003 …) fails the message at once, with its wechat_errcode.
package outbox
