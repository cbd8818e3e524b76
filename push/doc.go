// Package push is miniback's message-push endpoint (SPEC §3.3, protocol
// §d): it verifies, decrypts and parses the messages and events WeChat
// pushes to /wx/portal/{appid}, stores each one once in the inbox, queues
// its id and answers "success" at once. A Dispatcher later takes the id off
// the queue and runs the Router's handlers for it, off the request path.
//
// The three parts are usable alone:
//
//   - Parse turns an XML or JSON push (plaintext, or the decrypted inner
//     message of compatible and safe modes) into a Message whose Fields keep
//     every field of the push as a JSON object, so unknown types survive.
//   - Portal is the HTTP endpoint. Its methods return *miniback.Error values
//     for the caller's error writer; it never runs handlers.
//   - Router matches configured Rules and runs built-in handlers (log,
//     auto_reply, webhook) and the handlers an embedder registers.
//
// # Delivery guarantees
//
// A push is acknowledged to WeChat only after its inbox row is stored and
// its id published, so a crash before that makes WeChat retry; retries
// find the stored row (the dedupe key) and are not handled again. The
// Dispatcher finishes the inbox row before the queue message is
// acknowledged, and skips rows no longer "received", so a redelivered queue
// message does not run handlers twice. A crash between a handler's side
// effect and FinishInbox does re-run the handlers: handler side effects are
// at-least-once. The webhook sends the inbox id in X-Miniback-Delivery so
// that receivers can dedupe.
package push
