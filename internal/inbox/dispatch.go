package inbox

import (
	"context"
	"fmt"
	"time"

	"github.com/miniback/miniback"
)

// DispatchStore is the part of miniback.InboxStore the Dispatcher needs.
type DispatchStore interface {
	InboxMessage(ctx context.Context, appid string, id int64) (*miniback.InboxMessage, error)
	FinishInbox(ctx context.Context, id int64, status, errText string, now time.Time) error
}

// Dispatcher runs the Router for inbox ids taken off the queue. Set its
// fields before use; it is then safe for concurrent use.
//
// Exactly-once as far as the inbox goes: HandleDelivery finishes the row
// (handled or failed) before it returns, and the caller acknowledges the
// queue message only after that, so a redelivery finds the row finished and
// skips it. A crash after a handler's side effect and before FinishInbox
// re-runs the handlers on redelivery: handler side effects are
// at-least-once, and the webhook's X-Miniback-Delivery lets receivers
// dedupe.
type Dispatcher struct {
	Inbox  DispatchStore
	Router *Router
	Now    func() time.Time
	// Observer is told the handling lag of every finished push; nil tells
	// nobody.
	Observer Observer
}

// HandleDelivery handles the inbox message id of appid. It returns
// nil when the message was already finished, or once it is finished as
// handled, or as failed with the handler's error (handler failures are
// recorded in the row, not returned). It returns an error, and the caller
// should not acknowledge, when the row cannot be loaded or finished or ctx
// ended during the handlers; a missing row is a not_found Error, which no
// redelivery will cure.
func (d *Dispatcher) HandleDelivery(ctx context.Context, appid string, inboxID int64) error {
	in, err := d.Inbox.InboxMessage(ctx, appid, inboxID)
	if err != nil {
		return fmt.Errorf("inbox: load %d: %w", inboxID, err)
	}
	if in.Status != miniback.InboxReceived {
		return nil
	}
	status, errText := miniback.InboxHandled, ""
	if herr := d.Router.Dispatch(ctx, in); herr != nil {
		if ctx.Err() != nil {
			// Shutting down: leave the row received for redelivery.
			return fmt.Errorf("inbox: dispatch %d: %w", inboxID, herr)
		}
		status, errText = miniback.InboxFailed, herr.Error()
	}
	now := d.now()
	if err := d.Inbox.FinishInbox(ctx, inboxID, status, errText, now); err != nil {
		return fmt.Errorf("inbox: finish %d: %w", inboxID, err)
	}
	observerOr(d.Observer).PushLag(now.Sub(in.ReceivedAt))
	return nil
}

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
