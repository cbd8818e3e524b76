package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.PayStore = (*PayStore)(nil)

// PayStore keeps WeChat Pay orders, refunds and their events in a DB.
// Every status change is a conditional UPDATE and its event INSERT in one
// transaction; refunds lock their order row (SELECT … FOR UPDATE) so that
// concurrent refunds cannot together pass its total. It is safe for
// concurrent use.
type PayStore struct {
	db *DB
}

// NewPayStore returns a PayStore on db, which must be open and migrated.
func NewPayStore(db *DB) *PayStore { return &PayStore{db: db} }

func errOrderNotFound() error { return miniback.Errorf(miniback.ECodeNotFound, "order not found") }

// CreateOrder implements miniback.PayStore.
func (s *PayStore) CreateOrder(ctx context.Context, o *miniback.Order) error {
	o.Status = miniback.OrderCreated
	o.UpdatedAt = o.CreatedAt
	err := s.db.db.QueryRowContext(ctx, `
		INSERT INTO pay_orders (appid, out_trade_no, user_id, openid, description, total, currency, status,
			attach, time_expire, fingerprint, next_check_at, checks, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14) RETURNING seq`,
		o.AppID, o.OutTradeNo, o.UserID, o.OpenID, o.Description, o.Amount.Total, o.Amount.Currency, o.Status,
		o.Attach, sqlrow.NullMillis(o.TimeExpire), o.Fingerprint, sqlrow.NullMillis(o.NextCheckAt), sqlrow.Millis(o.CreatedAt), sqlrow.Millis(o.UpdatedAt)).Scan(&o.Seq)
	if err != nil {
		return fmt.Errorf("postgres: create order: %w", constraintError(err, "order"))
	}
	return nil
}

// Order implements miniback.PayStore.
func (s *PayStore) Order(ctx context.Context, appid, outTradeNo string) (*miniback.Order, error) {
	return s.order(ctx, s.db.db, appid, outTradeNo)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *PayStore) order(ctx context.Context, q querier, appid, outTradeNo string) (*miniback.Order, error) {
	o, err := sqlrow.Order(q.QueryRowContext(ctx,
		`SELECT `+sqlrow.OrderColumns+` FROM pay_orders WHERE appid = $1 AND out_trade_no = $2`, appid, outTradeNo))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errOrderNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: order: %w", err)
	}
	return o, nil
}

// Orders implements miniback.PayStore.
func (s *PayStore) Orders(ctx context.Context, appid string, f miniback.OrderFilter) ([]*miniback.Order, error) {
	q := `SELECT ` + sqlrow.OrderColumns + ` FROM pay_orders WHERE appid = $1`
	args := []any{appid}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if f.UserID != 0 {
		q += ` AND user_id = ` + arg(f.UserID)
	}
	if f.Status != "" {
		q += ` AND status = ` + arg(f.Status)
	}
	if f.BeforeSeq > 0 {
		q += ` AND seq < ` + arg(f.BeforeSeq)
	}
	q += ` ORDER BY seq DESC LIMIT ` + arg(f.Limit)
	return s.queryOrders(ctx, q, args...)
}

func (s *PayStore) queryOrders(ctx context.Context, q string, args ...any) ([]*miniback.Order, error) {
	rows, err := s.db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: orders: %w", err)
	}
	defer rows.Close()
	out := []*miniback.Order{}
	for rows.Next() {
		o, err := sqlrow.Order(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: orders: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SetPrepay implements miniback.PayStore.
func (s *PayStore) SetPrepay(ctx context.Context, appid, no, prepayID string, now, nextCheck time.Time) (*miniback.Order, error) {
	var o *miniback.Order
	err := s.db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE pay_orders SET status = $1, prepay_id = $2, prepay_at = $3, next_check_at = $4, checks = 0, updated_at = $5
			WHERE appid = $6 AND out_trade_no = $7 AND status IN ($8, $9)`,
			miniback.OrderPaying, prepayID, sqlrow.Millis(now), sqlrow.Millis(nextCheck), sqlrow.Millis(now),
			appid, no, miniback.OrderCreated, miniback.OrderPaying)
		if err != nil {
			return err
		}
		if o, err = s.order(ctx, tx, appid, no); err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return miniback.Errorf(miniback.ECodeConflict, "the order is %s", o.Status)
		}
		return nil
	})
	return o, wrap("set prepay", err)
}

// MarkPaid implements miniback.PayStore.
func (s *PayStore) MarkPaid(ctx context.Context, appid, no string, p miniback.PaidUpdate, now time.Time) (*miniback.Order, bool, error) {
	var o *miniback.Order
	changed := false
	err := s.db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE pay_orders SET status = $1, transaction_id = $2, paid_at = $3, next_check_at = NULL, updated_at = $4
			WHERE appid = $5 AND out_trade_no = $6 AND status IN ($7, $8, $9)`,
			miniback.OrderPaid, p.TransactionID, sqlrow.Millis(p.PaidAt), sqlrow.Millis(now),
			appid, no, miniback.OrderCreated, miniback.OrderPaying, miniback.OrderClosed)
		if err != nil {
			return constraintError(err, "transaction")
		}
		if o, err = s.order(ctx, tx, appid, no); err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
			return insertEvent(ctx, tx, appid, miniback.EventOrderPaid, no, "", now)
		}
		if o.TransactionID != p.TransactionID {
			return miniback.Errorf(miniback.ECodeConflict, "the order was paid by another transaction")
		}
		return nil
	})
	return o, changed, wrap("mark paid", err)
}

// MarkClosed implements miniback.PayStore.
func (s *PayStore) MarkClosed(ctx context.Context, appid, no string, now time.Time) (*miniback.Order, bool, error) {
	var o *miniback.Order
	changed := false
	err := s.db.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `
			UPDATE pay_orders SET status = $1, next_check_at = NULL, updated_at = $2
			WHERE appid = $3 AND out_trade_no = $4 AND status IN ($5, $6)`,
			miniback.OrderClosed, sqlrow.Millis(now), appid, no, miniback.OrderCreated, miniback.OrderPaying)
		if err != nil {
			return err
		}
		if o, err = s.order(ctx, tx, appid, no); err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			changed = true
			return insertEvent(ctx, tx, appid, miniback.EventOrderClosed, no, "", now)
		}
		if o.Status != miniback.OrderClosed {
			return miniback.Errorf(miniback.ECodeOrderPaid, "the order is %s", o.Status)
		}
		return nil
	})
	return o, changed, wrap("mark closed", err)
}

// ScheduleOrderCheck implements miniback.PayStore.
func (s *PayStore) ScheduleOrderCheck(ctx context.Context, appid, no string, next time.Time, checks int) error {
	_, err := s.db.db.ExecContext(ctx, `
		UPDATE pay_orders SET next_check_at = $1, checks = $2
		WHERE appid = $3 AND out_trade_no = $4 AND status IN ($5, $6)`,
		sqlrow.NullMillis(next), checks, appid, no, miniback.OrderCreated, miniback.OrderPaying)
	return wrap("schedule order check", err)
}

// DueOrders implements miniback.PayStore.
func (s *PayStore) DueOrders(ctx context.Context, now time.Time, limit int) ([]*miniback.Order, error) {
	return s.queryOrders(ctx, `SELECT `+sqlrow.OrderColumns+` FROM pay_orders
		WHERE next_check_at IS NOT NULL AND next_check_at <= $1 AND status IN ($2, $3)
		ORDER BY next_check_at LIMIT $4`, sqlrow.Millis(now), miniback.OrderCreated, miniback.OrderPaying, limit)
}

// insertEvent records a business event; its id is derived from what
// happened, so the same change can never be recorded twice.
func insertEvent(ctx context.Context, tx *sql.Tx, appid, event, outTradeNo, outRefundNo string, now time.Time) error {
	id := event + ":" + appid + ":" + outTradeNo
	if outRefundNo != "" {
		id = event + ":" + appid + ":" + outRefundNo
	}
	_, err := tx.ExecContext(ctx, `
		INSERT INTO pay_events (id, appid, event, out_trade_no, out_refund_no, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
		id, appid, event, outTradeNo, outRefundNo, sqlrow.Millis(now))
	return err
}

// PendingPayEvents implements miniback.PayStore.
func (s *PayStore) PendingPayEvents(ctx context.Context, limit int) ([]*miniback.PayEvent, error) {
	rows, err := s.db.db.QueryContext(ctx, `
		SELECT id, appid, event, out_trade_no, out_refund_no, created_at FROM pay_events
		WHERE finished_at IS NULL ORDER BY created_at, id LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("pending pay events", err)
	}
	defer rows.Close()
	out := []*miniback.PayEvent{}
	for rows.Next() {
		var e miniback.PayEvent
		var created int64
		if err := rows.Scan(&e.ID, &e.AppID, &e.Event, &e.OutTradeNo, &e.OutRefundNo, &created); err != nil {
			return nil, wrap("pending pay events", err)
		}
		e.CreatedAt = sqlrow.FromMillis(created)
		out = append(out, &e)
	}
	return out, wrap("pending pay events", rows.Err())
}

// FinishPayEvent implements miniback.PayStore.
func (s *PayStore) FinishPayEvent(ctx context.Context, id string, now time.Time) error {
	_, err := s.db.db.ExecContext(ctx, `UPDATE pay_events SET finished_at = $1 WHERE id = $2 AND finished_at IS NULL`, sqlrow.Millis(now), id)
	return wrap("finish pay event", err)
}

// PayEventDone implements miniback.PayStore.
func (s *PayStore) PayEventDone(ctx context.Context, id string) (bool, error) {
	var finished sql.NullInt64
	err := s.db.db.QueryRowContext(ctx, `SELECT finished_at FROM pay_events WHERE id = $1`, id).Scan(&finished)
	if errors.Is(err, sql.ErrNoRows) {
		return true, nil
	}
	if err != nil {
		return false, wrap("pay event", err)
	}
	return finished.Valid, nil
}

// wrap prefixes err with the operation, keeping *miniback.Error reachable.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
