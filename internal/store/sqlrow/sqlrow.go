// Package sqlrow holds what the SQL stores (sqlite, mysql, postgres) read and
// write alike: the column lists of their shared tables, the scans of those
// rows into miniback's types, and the unix-millisecond form every engine
// stores times in. The SQL statements stay in each engine's package.
package sqlrow

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/miniback/miniback"
)

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface {
	Scan(dest ...any) error
}

// Millis converts t to UTC unix milliseconds, the form every engine stores times in.
func Millis(t time.Time) int64 { return t.UnixMilli() }

// FromMillis converts UTC unix milliseconds to a UTC time.
func FromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

// NullMillis converts t to milliseconds, or NULL when t is zero.
func NullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

// FromNullMillis converts nullable milliseconds to a time, zero for NULL.
func FromNullMillis(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return FromMillis(n.Int64)
}

// SessionColumns are the sessions columns Session reads, in order.
const SessionColumns = `id, appid, user_id, sealed_session_key, created_at, expires_at, revoked_at`

// Session reads one sessions row of SessionColumns.
func Session(r Scanner) (*miniback.Session, error) {
	var s miniback.Session
	var created, expires int64
	var revoked sql.NullInt64
	err := r.Scan(&s.ID, &s.AppID, &s.UserID, &s.SealedSessionKey, &created, &expires, &revoked)
	if err != nil {
		return nil, err
	}
	s.CreatedAt, s.ExpiresAt, s.RevokedAt = FromMillis(created), FromMillis(expires), FromNullMillis(revoked)
	return &s, nil
}

// InboxColumns are the inbox columns Inbox reads, in order.
const InboxColumns = `id, appid, dedup_key, msg_type, event, from_user, create_time,
	message, status, error, received_at, handled_at`

// Inbox reads one inbox row of InboxColumns into m.
func Inbox(r Scanner, m *miniback.InboxMessage) error {
	var msg string
	var received int64
	var handled sql.NullInt64
	err := r.Scan(&m.ID, &m.AppID, &m.DedupKey, &m.MsgType, &m.Event, &m.FromUser,
		&m.CreateTime, &msg, &m.Status, &m.Error, &received, &handled)
	if err != nil {
		return err
	}
	m.Message = json.RawMessage(msg)
	m.ReceivedAt, m.HandledAt = FromMillis(received), FromNullMillis(handled)
	return nil
}

// MessageColumns are the messages columns Message reads, in order.
const MessageColumns = `id, appid, kind, openid, payload, status, attempts, wechat_errcode,
	error, wechat_msgid, created_at, sent_at, next_attempt_at, claimed_at`

// Message reads one messages row of MessageColumns.
func Message(r Scanner) (*miniback.Message, error) {
	var m miniback.Message
	var payload string
	var created, next int64
	var sent, claimed sql.NullInt64
	err := r.Scan(&m.ID, &m.AppID, &m.Kind, &m.OpenID, &payload, &m.Status, &m.Attempts,
		&m.WeChatErrCode, &m.Error, &m.WeChatMsgID, &created, &sent, &next, &claimed)
	if err != nil {
		return nil, err
	}
	m.Payload = json.RawMessage(payload)
	m.CreatedAt, m.SentAt = FromMillis(created), FromNullMillis(sent)
	m.NextAttemptAt, m.ClaimedAt = FromMillis(next), FromNullMillis(claimed)
	return &m, nil
}

// OrderColumns are the pay_orders columns Order reads, in order.
const OrderColumns = `seq, appid, out_trade_no, user_id, openid, description, total, currency, status,
	transaction_id, attach, time_expire, paid_at, refunded, fingerprint, prepay_id, prepay_at,
	next_check_at, checks, created_at, updated_at`

// Order reads one pay_orders row of OrderColumns.
func Order(r Scanner) (*miniback.Order, error) {
	var o miniback.Order
	var txid sql.NullString
	var expire, paid, prepay, next sql.NullInt64
	var created, updated int64
	err := r.Scan(&o.Seq, &o.AppID, &o.OutTradeNo, &o.UserID, &o.OpenID, &o.Description, &o.Amount.Total,
		&o.Amount.Currency, &o.Status, &txid, &o.Attach, &expire, &paid, &o.Refunded, &o.Fingerprint,
		&o.PrepayID, &prepay, &next, &o.Checks, &created, &updated)
	if err != nil {
		return nil, err
	}
	o.TransactionID = txid.String
	o.TimeExpire, o.PaidAt, o.PrepayAt = FromNullMillis(expire), FromNullMillis(paid), FromNullMillis(prepay)
	o.NextCheckAt, o.CreatedAt, o.UpdatedAt = FromNullMillis(next), FromMillis(created), FromMillis(updated)
	return &o, nil
}

// RefundColumns are the pay_refunds columns Refund reads, in order.
const RefundColumns = `appid, out_refund_no, out_trade_no, refund_id, amount, reason, status,
	next_check_at, checks, created_at, succeeded_at`

// Refund reads one pay_refunds row of RefundColumns.
func Refund(r Scanner) (*miniback.Refund, error) {
	var rf miniback.Refund
	var next, succeeded sql.NullInt64
	var created int64
	err := r.Scan(&rf.AppID, &rf.OutRefundNo, &rf.OutTradeNo, &rf.RefundID, &rf.Amount, &rf.Reason, &rf.Status,
		&next, &rf.Checks, &created, &succeeded)
	if err != nil {
		return nil, err
	}
	rf.NextCheckAt, rf.CreatedAt, rf.SucceededAt = FromNullMillis(next), FromMillis(created), FromNullMillis(succeeded)
	return &rf, nil
}

// DatacubeJobColumns are the datacube_jobs columns DatacubeJob reads, in order.
const DatacubeJobColumns = `id, appid, from_date, to_date, status, calls, stored, failed, error, created_at, finished_at`

// DatacubeJob reads one datacube_jobs row of DatacubeJobColumns.
func DatacubeJob(r Scanner) (*miniback.DatacubeJob, error) {
	j := &miniback.DatacubeJob{}
	var created int64
	var finished sql.NullInt64
	if err := r.Scan(&j.ID, &j.AppID, &j.From, &j.To, &j.Status, &j.Calls, &j.Stored, &j.Failed, &j.Error, &created, &finished); err != nil {
		return nil, err
	}
	j.CreatedAt, j.FinishedAt = FromMillis(created), FromNullMillis(finished)
	return j, nil
}
