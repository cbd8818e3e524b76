// Package queue is miniback's durable work queue: NATS JetStream, either
// embedded in the process (one node, file storage under DataDir/nats) or an
// external NATS cluster, behind one API and one code path. The embedded case
// only starts an in-process nats-server; the connection, the stream, the
// consumers and every publish and ack then go through nats.go exactly as for
// an external server.
//
// # Stream
//
// One stream (default "MINIBACK") holds every subject under the prefix
// (default "miniback.>"): miniback.inbox.<appid> and miniback.outbox.<appid>.
// It uses file storage and WorkQueue retention: a message is removed once a
// consumer acknowledges (or terminates) it, so the stream holds only work
// still to do and does not grow with traffic. WorkQueue retention requires
// the durable consumers of the stream to have non-overlapping filters (one
// for "miniback.inbox.>", one for "miniback.outbox.>"); every instance of
// miniback binds to the same durable, so the instances are competing
// consumers of one queue. Limits retention would also work with explicit
// acks, but acknowledged messages would stay on disk until an age or size
// limit, and a limit small enough to bound the disk could drop work not yet
// done.
//
// # Delivery guarantee
//
// Delivery is at least once. Publish returns after JetStream stored the
// message; a publish with the same msgID within the duplicate window (two
// minutes) is dropped, which makes a retried publish safe. A handler's
// message is acknowledged only after the handler returned nil; while it runs
// the consumer sends "in progress" heartbeats so a slow handler is not
// redelivered after AckWait. A message whose instance died before the ack is
// redelivered after AckWait, so handlers must be idempotent. A batch
// consumer (ConsumeBatch) takes the messages waiting in one pull request,
// heartbeats them together and settles each by its own error; its acks are
// not awaited, so an ack lost on the way is one more redelivery.
//
// "Stored" means written to the server's files: it survives the death of
// the process at once, and a power loss of the machine once the server has
// synced its files (every two minutes by default for nats-server; an
// external cluster with Replicas 3 or 5 survives a lost machine: the
// stream and its consumers are replicated with Raft, and the connection
// moves to another member of the cluster by itself). Callers whose
// work matters keep the truth in the database and publish again what the
// queue may have lost, as the outbox's sweeper does.
package queue
