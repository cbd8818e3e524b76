package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/miniback/miniback"
)

// DispatchStore is the part of miniback.InboxStore the Dispatcher needs.
type DispatchStore interface {
	InboxMessages(ctx context.Context, appid string, ids []int64) ([]*miniback.InboxMessage, error)
	FinishInboxes(ctx context.Context, ids []int64, status, errText string, now time.Time) error
}

// Dispatcher runs the Router for inbox ids taken off the queue. Set its
// fields before use; it is then safe for concurrent use.
//
// Exactly-once as far as the inbox goes: HandleBatch finishes the rows
// (handled or failed) before it returns, and the caller acknowledges the
// queue messages only after that, so a redelivery finds the rows finished
// and skips them. A crash after a handler's side effect and before the
// rows are finished (the whole batch is finished in one statement after
// its handlers ran) re-runs the handlers on redelivery: handler side
// effects are at-least-once, and the webhook's X-Miniback-Delivery lets
// receivers dedupe.
type Dispatcher struct {
	Inbox  DispatchStore
	Router *Router
	Now    func() time.Time
	// BatchTime bounds the handling of one batch: once it has passed, the
	// rows not yet started are left for redelivery, so that slow handlers
	// (a webhook's retries) do not hold the rest of a batch back. 0 means
	// DefaultBatchTime. At least one row of a batch always runs.
	BatchTime time.Duration
	// Observer is told the handling lag of every finished push; nil tells
	// nobody.
	Observer Observer
}

// DefaultBatchTime is Dispatcher.BatchTime's default: far below
// DefaultRequeueAfter, so that no row waits in a batch until the requeue
// queues it again.
const DefaultBatchTime = 2 * time.Second

// BatchResult is what HandleBatch could not handle.
type BatchResult struct {
	// Missing are the ids without a row, which no redelivery will cure.
	Missing []int64
	// Deferred are the ids whose rows were not started because the batch
	// ran out of time (Dispatcher.BatchTime): their rows stay received and
	// their queue messages should be redelivered at once.
	Deferred []int64
}

// HandleDelivery is HandleBatch for one id; a missing row is a not_found
// Error, which no redelivery will cure.
func (d *Dispatcher) HandleDelivery(ctx context.Context, appid string, inboxID int64) error {
	res, err := d.HandleBatch(ctx, appid, []int64{inboxID})
	if err != nil {
		return err
	}
	if len(res.Missing) > 0 {
		return fmt.Errorf("inbox: load %d: %w", inboxID, miniback.Errorf(miniback.ECodeNotFound, "inbox message not found"))
	}
	return nil
}

// HandleBatch handles the inbox messages ids of appid: it loads them in one
// query, runs the Router for each still received (once per id, in id
// order) until BatchTime has passed, and finishes them in one statement
// per verdict: handled, or failed with the handler's error (handler
// failures are recorded in the rows, not returned). Rows already finished
// are skipped. The result names the ids without a row and those deferred.
//
// It returns an error, and the caller should acknowledge none of ids, when
// the rows cannot be loaded or finished or ctx ended during a handler;
// rows finished before that stay finished and the others stay received,
// so a redelivery handles exactly those again.
func (d *Dispatcher) HandleBatch(ctx context.Context, appid string, ids []int64) (BatchResult, error) {
	var res BatchResult
	rows, err := d.Inbox.InboxMessages(ctx, appid, ids)
	if err != nil {
		return res, fmt.Errorf("inbox: load %v: %w", ids, err)
	}
	res.Missing = missingIDs(ids, rows)
	deadline := d.now().Add(d.batchTime())
	var v verdicts
	var stopped error
	for i, in := range rows {
		if in.Status != miniback.InboxReceived {
			continue
		}
		if len(v.received) > 0 && !d.now().Before(deadline) {
			res.Deferred = receivedIDs(rows[i:])
			break
		}
		herr := d.Router.Dispatch(ctx, in)
		if herr != nil && ctx.Err() != nil {
			// Shutting down: this row and the rest stay received for
			// redelivery; those done so far are finished below.
			stopped = fmt.Errorf("inbox: dispatch %d: %w", in.ID, herr)
			break
		}
		v.add(in, herr)
	}
	if err := d.finish(ctx, &v); err != nil {
		return res, err
	}
	return res, stopped
}

// receivedIDs returns the ids of the rows still received.
func receivedIDs(rows []*miniback.InboxMessage) []int64 {
	var ids []int64
	for _, r := range rows {
		if r.Status == miniback.InboxReceived {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func (d *Dispatcher) batchTime() time.Duration {
	if d.BatchTime > 0 {
		return d.BatchTime
	}
	return DefaultBatchTime
}

// finish writes the verdicts, handled first, and reports the lags.
func (d *Dispatcher) finish(ctx context.Context, v *verdicts) error {
	now := d.now()
	// After a shutdown the writes still run: finishing what was handled
	// saves running its handlers again.
	ctx = context.WithoutCancel(ctx)
	if err := d.Inbox.FinishInboxes(ctx, v.handled, miniback.InboxHandled, "", now); err != nil {
		return fmt.Errorf("inbox: finish %v: %w", v.handled, err)
	}
	for _, f := range v.failed {
		if err := d.Inbox.FinishInboxes(ctx, []int64{f.id}, miniback.InboxFailed, f.err, now); err != nil {
			return fmt.Errorf("inbox: finish %d: %w", f.id, err)
		}
	}
	o := observerOr(d.Observer)
	for _, at := range v.received {
		o.PushLag(now.Sub(at))
	}
	return nil
}

// verdicts gathers the results of a batch's handlers.
type verdicts struct {
	handled  []int64
	failed   []failure
	received []time.Time
}

type failure struct {
	id  int64
	err string
}

func (v *verdicts) add(in *miniback.InboxMessage, herr error) {
	if herr == nil {
		v.handled = append(v.handled, in.ID)
	} else {
		v.failed = append(v.failed, failure{in.ID, herr.Error()})
	}
	v.received = append(v.received, in.ReceivedAt)
}

// missingIDs returns the ids that no row has.
func missingIDs(ids []int64, rows []*miniback.InboxMessage) []int64 {
	if len(rows) == len(ids) {
		return nil
	}
	found := make(map[int64]bool, len(rows))
	for _, r := range rows {
		found[r.ID] = true
	}
	var missing []int64
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
