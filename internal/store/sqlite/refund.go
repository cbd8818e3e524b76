package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

// CreateRefund implements miniback.PayStore. The sum is checked and the
// row inserted in one write transaction, so concurrent refunds of one
// order cannot together pass its total.
func (s *PayStore) CreateRefund(ctx context.Context, r *miniback.Refund) error {
	r.Status = miniback.RefundProcessing
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		o, err := s.order(ctx, tx, r.AppID, r.OutTradeNo)
		if err != nil {
			return err
		}
		if o.Status != miniback.OrderPaid {
			if o.Status == miniback.OrderRefunded {
				return miniback.Errorf(miniback.ECodeRefundExceeds, "the order is already refunded in full")
			}
			return miniback.Errorf(miniback.ECodeOrderNotPaid, "the order is %s, not paid", o.Status)
		}
		var taken int64
		err = tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM pay_refunds
			WHERE appid = ? AND out_trade_no = ? AND status <> ?`, r.AppID, r.OutTradeNo, miniback.RefundClosed).Scan(&taken)
		if err != nil {
			return err
		}
		if r.Amount > o.Amount.Total-taken {
			return miniback.Errorf(miniback.ECodeRefundExceeds, "refunds would pass the paid total: %d of %d fen left", o.Amount.Total-taken, o.Amount.Total)
		}
		_, err = tx.ExecContext(ctx, `
			INSERT INTO pay_refunds (appid, out_refund_no, out_trade_no, refund_id, amount, reason, status, next_check_at, checks, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
			r.AppID, r.OutRefundNo, r.OutTradeNo, r.RefundID, r.Amount, r.Reason, r.Status, sqlrow.NullMillis(r.NextCheckAt), sqlrow.Millis(r.CreatedAt))
		return constraintError(err, "refund")
	})
	return wrap("create refund", err)
}

// Refund implements miniback.PayStore.
func (s *PayStore) Refund(ctx context.Context, appid, no string) (*miniback.Refund, error) {
	return s.refund(ctx, s.db.read, appid, no)
}

func (s *PayStore) refund(ctx context.Context, q querier, appid, no string) (*miniback.Refund, error) {
	r, err := sqlrow.Refund(q.QueryRowContext(ctx, `SELECT `+sqlrow.RefundColumns+` FROM pay_refunds WHERE appid = ? AND out_refund_no = ?`, appid, no))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, miniback.Errorf(miniback.ECodeNotFound, "refund not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: refund: %w", err)
	}
	return r, nil
}

var refundEvents = map[string]string{
	miniback.RefundSucceeded: miniback.EventRefundSucceeded,
	miniback.RefundClosed:    miniback.EventRefundClosed,
	miniback.RefundAbnormal:  miniback.EventRefundAbnormal,
}

// SetRefundStatus implements miniback.PayStore.
func (s *PayStore) SetRefundStatus(ctx context.Context, appid, no, status, refundID string, now time.Time) (*miniback.Refund, bool, error) {
	var r *miniback.Refund
	changed := false
	err := s.db.withTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if r, err = s.refund(ctx, tx, appid, no); err != nil {
			return err
		}
		if refundID != "" && r.RefundID == "" {
			if _, err := tx.ExecContext(ctx, `UPDATE pay_refunds SET refund_id = ? WHERE appid = ? AND out_refund_no = ?`, refundID, appid, no); err != nil {
				return err
			}
			r.RefundID = refundID
		}
		switch {
		case r.Status == status:
			return nil
		case r.Status == miniback.RefundSucceeded || r.Status == miniback.RefundClosed:
			return miniback.Errorf(miniback.ECodeConflict, "the refund is already %s", r.Status)
		}
		changed = true
		return s.applyRefundStatus(ctx, tx, r, status, now)
	})
	return r, changed, wrap("set refund status", err)
}

func (s *PayStore) applyRefundStatus(ctx context.Context, tx *sql.Tx, r *miniback.Refund, status string, now time.Time) error {
	r.Status = status
	next := sql.NullInt64{}
	if status == miniback.RefundAbnormal {
		next = sqlrow.NullMillis(now.Add(time.Hour)) // ABNORMAL is not final: keep asking
	}
	if status == miniback.RefundSucceeded {
		r.SucceededAt = now.Truncate(time.Millisecond)
	}
	r.NextCheckAt = sqlrow.FromNullMillis(next)
	_, err := tx.ExecContext(ctx, `UPDATE pay_refunds SET status = ?, succeeded_at = ?, next_check_at = ? WHERE appid = ? AND out_refund_no = ?`,
		status, sqlrow.NullMillis(r.SucceededAt), next, r.AppID, r.OutRefundNo)
	if err != nil {
		return err
	}
	if err := insertEvent(ctx, tx, r.AppID, refundEvents[status], r.OutTradeNo, r.OutRefundNo, now); err != nil {
		return err
	}
	if status != miniback.RefundSucceeded {
		return nil
	}
	// status comes first: MySQL evaluates SET clauses left to right on
	// the updated row; the other engines read the old row throughout.
	res, err := tx.ExecContext(ctx, `UPDATE pay_orders SET status = CASE WHEN refunded + ? >= total THEN ? ELSE status END,
		refunded = refunded + ?, updated_at = ?
		WHERE appid = ? AND out_trade_no = ?`,
		r.Amount, miniback.OrderRefunded, r.Amount, sqlrow.Millis(now), r.AppID, r.OutTradeNo)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errOrderNotFound()
	}
	o, err := s.order(ctx, tx, r.AppID, r.OutTradeNo)
	if err == nil && o.Status == miniback.OrderRefunded {
		err = insertEvent(ctx, tx, r.AppID, miniback.EventOrderRefunded, r.OutTradeNo, "", now)
	}
	return err
}

// ScheduleRefundCheck implements miniback.PayStore.
func (s *PayStore) ScheduleRefundCheck(ctx context.Context, appid, no string, next time.Time, checks int) error {
	_, err := s.db.write.ExecContext(ctx, `UPDATE pay_refunds SET next_check_at = ?, checks = ?
		WHERE appid = ? AND out_refund_no = ? AND status IN (?, ?)`,
		sqlrow.NullMillis(next), checks, appid, no, miniback.RefundProcessing, miniback.RefundAbnormal)
	return wrap("schedule refund check", err)
}

// DueRefunds implements miniback.PayStore.
func (s *PayStore) DueRefunds(ctx context.Context, now time.Time, limit int) ([]*miniback.Refund, error) {
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+sqlrow.RefundColumns+` FROM pay_refunds
		WHERE next_check_at IS NOT NULL AND next_check_at <= ? AND status IN (?, ?)
		ORDER BY next_check_at LIMIT ?`, sqlrow.Millis(now), miniback.RefundProcessing, miniback.RefundAbnormal, limit)
	if err != nil {
		return nil, wrap("due refunds", err)
	}
	defer rows.Close()
	out := []*miniback.Refund{}
	for rows.Next() {
		r, err := sqlrow.Refund(rows)
		if err != nil {
			return nil, wrap("due refunds", err)
		}
		out = append(out, r)
	}
	return out, wrap("due refunds", rows.Err())
}
