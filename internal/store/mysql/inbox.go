package mysql

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miniback/miniback"
	"github.com/miniback/miniback/internal/store/sqlrow"
)

var _ miniback.InboxStore = (*InboxStore)(nil)

// InboxStore keeps received pushes in a DB. It is safe for concurrent use.
type InboxStore struct {
	db *DB
}

// NewInboxStore returns an InboxStore on db, which must be open and migrated.
func NewInboxStore(db *DB) *InboxStore {
	return &InboxStore{db: db}
}

// jsonText returns raw as stored text; an empty document is stored as {}.
func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "{}"
	}
	return string(raw)
}

// errInboxNotFound is the answer for a missing inbox message.
func errInboxNotFound() error {
	return miniback.Errorf(miniback.ECodeNotFound, "inbox message not found")
}

// AddInbox implements miniback.InboxStore. An empty m.Status is stored as
// InboxReceived and an empty m.Message as {}. The insert is tried first;
// when the unique key (appid, dedup_key) refuses it (a concurrent inserter
// is waited for), the existing row is read, so concurrent calls for one
// key, on any instances, see one row and one created=true.
func (s *InboxStore) AddInbox(ctx context.Context, m *miniback.InboxMessage) (bool, error) {
	if m.Status == "" {
		m.Status = miniback.InboxReceived
	}
	res, err := s.db.db.ExecContext(ctx, `
		INSERT INTO inbox (appid, dedup_key, msg_type, event, from_user, create_time,
			message, status, error, received_at, handled_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.AppID, m.DedupKey, m.MsgType, m.Event, m.FromUser, m.CreateTime,
		jsonText(m.Message), m.Status, m.Error, sqlrow.Millis(m.ReceivedAt), sqlrow.NullMillis(m.HandledAt))
	if err == nil {
		if m.ID, err = res.LastInsertId(); err != nil {
			return false, fmt.Errorf("mysql: add inbox: %w", err)
		}
		if len(m.Message) == 0 {
			m.Message = json.RawMessage("{}") // as stored
		}
		return true, nil
	}
	if !isDuplicate(err) {
		return false, fmt.Errorf("mysql: add inbox: %w", err)
	}
	err = sqlrow.Inbox(s.db.db.QueryRowContext(ctx,
		`SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = ? AND dedup_key = ?`,
		m.AppID, m.DedupKey), m)
	if err != nil {
		return false, fmt.Errorf("mysql: add inbox: %w", err)
	}
	return false, nil
}

// InboxMessage implements miniback.InboxStore.
func (s *InboxStore) InboxMessage(ctx context.Context, appid string, id int64) (*miniback.InboxMessage, error) {
	var m miniback.InboxMessage
	err := sqlrow.Inbox(s.db.db.QueryRowContext(ctx,
		`SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = ? AND id = ?`, appid, id), &m)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, errInboxNotFound()
	case err != nil:
		return nil, fmt.Errorf("mysql: inbox message: %w", err)
	}
	return &m, nil
}

// Inbox implements miniback.InboxStore.
func (s *InboxStore) Inbox(ctx context.Context, appid string, q miniback.InboxQuery) ([]*miniback.InboxMessage, error) {
	if q.Limit <= 0 {
		return []*miniback.InboxMessage{}, nil
	}
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE appid = ? AND (? = 0 OR id < ?) AND (? = '' OR msg_type = ?) AND (? = '' OR status = ?)
		ORDER BY id DESC LIMIT ?`,
		appid, q.BeforeID, q.BeforeID, q.MsgType, q.MsgType, q.Status, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("mysql: inbox: %w", err)
	}
	return msgs, nil
}

// FinishInbox implements miniback.InboxStore.
func (s *InboxStore) FinishInbox(ctx context.Context, id int64, status, errText string, now time.Time) error {
	res, err := s.db.db.ExecContext(ctx,
		`UPDATE inbox SET status = ?, error = ?, handled_at = ? WHERE id = ?`,
		status, errText, sqlrow.Millis(now), id)
	if err != nil {
		return fmt.Errorf("mysql: finish inbox: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("mysql: finish inbox: %w", err)
	}
	if n == 0 {
		return errInboxNotFound()
	}
	return nil
}

// StaleInbox implements miniback.InboxStore. A limit of 0 or less returns
// no messages.
func (s *InboxStore) StaleInbox(ctx context.Context, before time.Time, limit int) ([]*miniback.InboxMessage, error) {
	if limit <= 0 {
		return []*miniback.InboxMessage{}, nil
	}
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox
		WHERE status = ? AND received_at < ? ORDER BY received_at, id LIMIT ?`,
		miniback.InboxReceived, sqlrow.Millis(before), limit)
	if err != nil {
		return nil, fmt.Errorf("mysql: stale inbox: %w", err)
	}
	return msgs, nil
}

// query runs a select of sqlrow.InboxColumns.
func (s *InboxStore) query(ctx context.Context, query string, args ...any) ([]*miniback.InboxMessage, error) {
	rows, err := s.db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	msgs := []*miniback.InboxMessage{}
	for rows.Next() {
		var m miniback.InboxMessage
		if err := sqlrow.Inbox(rows, &m); err != nil {
			return nil, err
		}
		msgs = append(msgs, &m)
	}
	return msgs, rows.Err()
}

// idList returns "?, ?, …" for ids and ids as arguments after first.
func idList(ids []int64, first ...any) (string, []any) {
	args := append(make([]any, 0, len(first)+len(ids)), first...)
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('?')
		args = append(args, id)
	}
	return b.String(), args
}

// InboxMessages implements miniback.InboxStore.
func (s *InboxStore) InboxMessages(ctx context.Context, appid string, ids []int64) ([]*miniback.InboxMessage, error) {
	if len(ids) == 0 {
		return []*miniback.InboxMessage{}, nil
	}
	in, args := idList(ids, appid)
	msgs, err := s.query(ctx, `SELECT `+sqlrow.InboxColumns+` FROM inbox WHERE appid = ? AND id IN (`+in+`) ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("mysql: inbox messages: %w", err)
	}
	return msgs, nil
}

// FinishInboxes implements miniback.InboxStore.
func (s *InboxStore) FinishInboxes(ctx context.Context, ids []int64, status, errText string, now time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	in, args := idList(ids, status, errText, sqlrow.Millis(now))
	if _, err := s.db.db.ExecContext(ctx,
		`UPDATE inbox SET status = ?, error = ?, handled_at = ? WHERE id IN (`+in+`)`, args...); err != nil {
		return fmt.Errorf("mysql: finish inboxes: %w", err)
	}
	return nil
}
