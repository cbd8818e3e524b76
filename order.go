package miniback

import (
	"context"
	"encoding/json"
	"time"
)

// Order statuses (SPEC §13).
const (
	OrderCreated  = "created"  // no prepay yet
	OrderPaying   = "paying"   // prepay issued
	OrderPaid     = "paid"     // paid; partially refunded orders stay paid
	OrderClosed   = "closed"   // closed unpaid
	OrderRefunded = "refunded" // refunded in full
)

// Refund statuses (SPEC §13).
const (
	RefundProcessing = "processing"
	RefundSucceeded  = "succeeded"
	RefundClosed     = "closed"
	RefundAbnormal   = "abnormal"
)

// Business events of payments (SPEC §13).
const (
	EventOrderPaid       = "order.paid"
	EventOrderClosed     = "order.closed"
	EventOrderRefunded   = "order.refunded"
	EventRefundSucceeded = "refund.succeeded"
	EventRefundClosed    = "refund.closed"
	EventRefundAbnormal  = "refund.abnormal"
)

// Amount is a sum of money in fen (CNY's smallest unit), never a float.
type Amount struct {
	Total    int64  `json:"total"`
	Currency string `json:"currency"`
}

// Order is one WeChat Pay order of a mini-program user. Fingerprint, the
// prepay and the check schedule are internal.
type Order struct {
	OutTradeNo    string    `json:"out_trade_no"`
	AppID         string    `json:"appid"`
	UserID        int64     `json:"user_id"`
	OpenID        string    `json:"openid"`
	Description   string    `json:"description"`
	Amount        Amount    `json:"amount"`
	Status        string    `json:"status"`
	TransactionID string    `json:"transaction_id"`
	Attach        string    `json:"attach"`
	TimeExpire    time.Time `json:"time_expire,omitzero"`
	PaidAt        time.Time `json:"paid_at,omitzero"`
	Refunded      int64     `json:"refunded"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`

	Seq         int64     `json:"-"` // insertion order, for paging
	Fingerprint string    `json:"-"` // hash of the creating request, for idempotency
	PrepayID    string    `json:"-"`
	PrepayAt    time.Time `json:"-"`
	NextCheckAt time.Time `json:"-"` // zero: final, never checked again
	Checks      int       `json:"-"` // reconciliation queries made
}

// Final reports whether the order can no longer be paid or closed.
func (o *Order) Final() bool {
	return o.Status == OrderPaid || o.Status == OrderClosed || o.Status == OrderRefunded
}

// Refund is one refund of an order. Amount is in fen.
type Refund struct {
	OutRefundNo string    `json:"out_refund_no"`
	OutTradeNo  string    `json:"out_trade_no"`
	AppID       string    `json:"-"`
	RefundID    string    `json:"refund_id"`
	Amount      int64     `json:"amount"`
	Reason      string    `json:"reason"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
	SucceededAt time.Time `json:"succeeded_at,omitzero"`

	NextCheckAt time.Time `json:"-"`
	Checks      int       `json:"-"`
}

// PayEvent is a business event waiting to be posted to the app's
// pay.webhook_url. ID is derived from what happened, so one change yields
// one event however often it is applied.
type PayEvent struct {
	ID          string
	AppID       string
	Event       string
	OutTradeNo  string
	OutRefundNo string
	CreatedAt   time.Time
}

// OrderFilter selects orders for a listing: UserID 0 and Status "" match
// any; BeforeSeq > 0 continues after an earlier page.
type OrderFilter struct {
	UserID    int64
	Status    string
	BeforeSeq int64
	Limit     int
}

// PaidUpdate is what WeChat Pay reported about a payment.
type PaidUpdate struct {
	TransactionID string
	PaidAt        time.Time
}

// PayStore keeps orders, refunds and their business events. Every status
// change is one conditional update that also records its event, so a
// change applied twice, by two instances or after a crash, counts once.
// Implementations are safe for concurrent use.
type PayStore interface {
	// CreateOrder stores o (status created). An order with the same
	// (appid, out_trade_no) is an Error with code conflict.
	CreateOrder(ctx context.Context, o *Order) error
	// Order returns the order, or an Error with code not_found.
	Order(ctx context.Context, appid, outTradeNo string) (*Order, error)
	// Orders lists orders of appid newest first.
	Orders(ctx context.Context, appid string, f OrderFilter) ([]*Order, error)
	// SetPrepay records a prepay_id: a created order becomes paying; a
	// paying one keeps its status. Any other status is an Error with code
	// conflict (the current order is returned with it).
	SetPrepay(ctx context.Context, appid, outTradeNo, prepayID string, now, nextCheck time.Time) (*Order, error)
	// MarkPaid moves a created, paying or closed order to paid and records
	// EventOrderPaid. changed is false when the order was already paid (or
	// refunded) with the same transaction; another transaction id for a
	// paid order is an Error with code conflict.
	MarkPaid(ctx context.Context, appid, outTradeNo string, p PaidUpdate, now time.Time) (o *Order, changed bool, err error)
	// MarkClosed moves a created or paying order to closed and records
	// EventOrderClosed; changed is false when it was already closed. A paid
	// order is an Error with code conflict.
	MarkClosed(ctx context.Context, appid, outTradeNo string, now time.Time) (o *Order, changed bool, err error)
	// ScheduleOrderCheck sets when reconciliation next queries the order.
	ScheduleOrderCheck(ctx context.Context, appid, outTradeNo string, next time.Time, checks int) error
	// DueOrders returns up to limit created or paying orders whose next
	// check is due.
	DueOrders(ctx context.Context, now time.Time, limit int) ([]*Order, error)

	// CreateRefund stores r (status processing) if the order is paid and
	// the refunds not closed, with r, stay within the order's total; else
	// an Error with code refund_exceeds_total, or order_not_paid for an
	// order that is not paid. An existing out_refund_no of the app is an
	// Error with code conflict.
	CreateRefund(ctx context.Context, r *Refund) error
	// Refund returns the refund, or an Error with code not_found.
	Refund(ctx context.Context, appid, outRefundNo string) (*Refund, error)
	// SetRefundStatus moves a processing or abnormal refund to status
	// (recording refundID when non-empty) with its event; a succeeded
	// refund adds its amount to the order's refunded sum, and a full one
	// makes the order refunded (with EventOrderRefunded). changed is false
	// when the refund already had that status; a final refund moving
	// elsewhere is an Error with code conflict.
	SetRefundStatus(ctx context.Context, appid, outRefundNo, status, refundID string, now time.Time) (r *Refund, changed bool, err error)
	// ScheduleRefundCheck sets when reconciliation next queries the refund.
	ScheduleRefundCheck(ctx context.Context, appid, outRefundNo string, next time.Time, checks int) error
	// DueRefunds returns up to limit processing or abnormal refunds whose
	// next check is due.
	DueRefunds(ctx context.Context, now time.Time, limit int) ([]*Refund, error)

	// PendingPayEvents returns up to limit events not yet delivered, oldest first.
	PendingPayEvents(ctx context.Context, limit int) ([]*PayEvent, error)
	// FinishPayEvent marks an event delivered (or given up).
	FinishPayEvent(ctx context.Context, id string, now time.Time) error
	// PayEventDone reports whether the event was finished; an unknown id
	// counts as done.
	PayEventDone(ctx context.Context, id string) (bool, error)
}

// OrderRequest is the admin API's body creating an order (SPEC §13).
// Amount.Total is kept raw so that strings, fractions and values past
// int64 are refused rather than converted or rounded.
type OrderRequest struct {
	UserID      int64  `json:"user_id,omitempty"`
	OpenID      string `json:"openid,omitempty"`
	Description string `json:"description"`
	Amount      struct {
		Total    json.RawMessage `json:"total"`
		Currency string          `json:"currency,omitempty"`
	} `json:"amount"`
	OutTradeNo string `json:"out_trade_no,omitempty"`
	Attach     string `json:"attach,omitempty"`
	TimeExpire string `json:"time_expire,omitempty"`
}

// RefundRequest is the admin API's body asking for a refund.
type RefundRequest struct {
	OutRefundNo string          `json:"out_refund_no,omitempty"`
	Amount      json.RawMessage `json:"amount"`
	Reason      string          `json:"reason,omitempty"`
}
