// Package inbox owns miniback's message-push flow (SPEC §3.3, §7.6): a push
// arrives at the Portal (/wx/portal/{appid}), which verifies, decrypts and
// parses it (package push), stores it once in the inbox and queues its id,
// then answers "success" at once; Inbox.Run takes the id off the queue and
// the Dispatcher runs the Router's handlers for it, off the request path,
// and every minute queues again the pushes whose publish a crash may have
// lost. cmd/miniback only wires it: the subject format, the timers, the
// built-in media-check verdicts and the handlers are defined here.
//
// # Delivery guarantees
//
// A push is acknowledged to WeChat only after its inbox row is stored and
// its id published, so a crash before that makes WeChat retry; retries
// find the stored row (the dedupe key) and are not handled again. Run takes
// the queued ids waiting in batches (one query loads their rows, one
// statement per verdict finishes them); the Dispatcher finishes the inbox
// rows before their queue messages are acknowledged, and skips rows no
// longer "received", so a redelivered queue message does not run handlers
// twice. A crash between a handler's side effect and the write of its
// batch does re-run the handlers: handler side effects are at-least-once. The webhook sends the inbox id in X-Miniback-Delivery so
// that receivers can dedupe.
package inbox
