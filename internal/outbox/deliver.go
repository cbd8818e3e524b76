package outbox

import (
	"context"
	"errors"
	"fmt"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/queue"
	"github.com/miniback/miniback/wechat"
)

// errWeChatDown puts a delivery back while WeChat's breaker is open.
var errWeChatDown = errors.New("outbox: WeChat is down (circuit breaker open); waiting")

// errDied is what a handler returns when the test hook simulated a crash.
var errDied = errors.New("outbox: simulated death after send")

// handle is the queue handler of one outbox delivery, whose data is a
// message id. Its nil return acknowledges the delivery, so it returns nil
// only once the message needs nothing more from this delivery.
func (o *Outbox) handle(ctx context.Context, d *queue.Delivery) error {
	id := string(d.Data)
	if o.cfg.Wait != nil {
		if wait := o.cfg.Wait(); wait > 0 {
			return queue.RetryAfter(wait, errWeChatDown)
		}
	}
	m, ok, err := o.store.ClaimMessage(ctx, id, o.cfg.Now())
	switch {
	case miniback.IsNotFound(err):
		return queue.Drop(fmt.Errorf("outbox: message %s: %w", id, err))
	case err != nil:
		return fmt.Errorf("outbox: claim %s: %w", id, err)
	case !ok:
		return o.unclaimed(ctx, m)
	}
	wxMsgID, sendErr := o.sender.Send(ctx, m)
	if o.afterSend != nil && o.afterSend(ctx, m) {
		return errDied
	}
	if sendErr != nil && ctx.Err() != nil {
		// The queue was closed mid-send: whether WeChat got the message
		// is unknown, so leave the claim for the lease to expire.
		return ctx.Err()
	}
	// The outcome must be recorded even if shutdown begins now: a success
	// left unrecorded would later be reported as interrupted.
	return o.record(context.WithoutCancel(ctx), m, wxMsgID, sendErr)
}

// unclaimed settles a delivery of a message that is not queued: another
// instance has it, or it is final. A sending one whose claim outlived the
// lease was interrupted and is failed, never resent.
func (o *Outbox) unclaimed(ctx context.Context, m *miniback.Message) error {
	if m.Status == miniback.MessageSending && m.ClaimedAt.Before(o.cfg.Now().Add(-o.cfg.Lease)) {
		if err := o.interrupt(ctx, m); err != nil {
			return fmt.Errorf("outbox: interrupt %s: %w", m.ID, err)
		}
	}
	return nil
}

// record stores the outcome of the attempt m.Attempts and tells the queue
// what to do with the delivery.
func (o *Outbox) record(ctx context.Context, m *miniback.Message, wxMsgID string, sendErr error) error {
	now := o.cfg.Now()
	out := miniback.MessageOutcome{Status: miniback.MessageSent, WeChatMsgID: wxMsgID, Now: now}
	var retry error
	if sendErr != nil {
		out = miniback.MessageOutcome{Status: miniback.MessageFailed, WeChatErrCode: errCode(sendErr),
			Error: sendErr.Error(), Now: now}
		if wechat.IsRetryable(sendErr) && m.Attempts < o.cfg.MaxAttempts {
			delay := backoff(o.cfg.BaseDelay, o.cfg.MaxDelay, m.Attempts, o.cfg.Rand())
			out.Status, out.NextAttemptAt = miniback.MessageQueued, now.Add(delay)
			retry = queue.RetryAfter(delay, sendErr)
		}
	}
	if err := o.store.FinishMessage(ctx, m.ID, out); err != nil {
		// The row stays sending; the lease turns it into interrupted.
		return fmt.Errorf("outbox: record %s %s: %w", m.ID, out.Status, err)
	}
	o.cfg.Observer.OutboxAttempt(m.Kind, wechat.Outcome(sendErr))
	if out.Status != miniback.MessageQueued {
		o.cfg.Observer.OutboxMessage(m.Kind, out.Status)
	}
	o.logOutcome(m, out)
	return retry
}

func (o *Outbox) logOutcome(m *miniback.Message, out miniback.MessageOutcome) {
	switch out.Status {
	case miniback.MessageQueued:
		o.log.Info("outbox: send failed; will retry", "id", m.ID, "appid", m.AppID, "attempts", m.Attempts,
			"wechat_errcode", out.WeChatErrCode, "retry_at", out.NextAttemptAt, "err", out.Error)
	case miniback.MessageFailed:
		o.log.Warn("outbox: send failed", "id", m.ID, "appid", m.AppID, "attempts", m.Attempts,
			"wechat_errcode", out.WeChatErrCode, "err", out.Error)
	}
}

// errCode is the WeChat errcode in err's chain, 0 for none.
func errCode(err error) int {
	var we *wechat.Error
	if errors.As(err, &we) {
		return we.Code
	}
	return 0
}
